import type { Config } from 'jest';

// Unit tests use fake clocks and no network; integration tests start real servers on loopback
// (simulators, mosquitto, influxd) and must close every handle they open: no --forceExit.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json', isolatedModules: true }],
    // node-opcua requires hexy, published as ESM only: jest's CommonJS runtime needs it transpiled.
    'node_modules/hexy/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs' }, isolatedModules: true },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!hexy/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 30_000,
  collectCoverageFrom: [
    'core/**/*.ts',
    'controller/**/*.ts',
    'drivers/**/*.ts',
    'config/**/*.ts',
    'simulators/**/*.ts',
  ],
  coverageThreshold: { global: { lines: 70, branches: 55 } },
  globalSetup: '<rootDir>/test/helpers/globalSetup.ts',
  setupFilesAfterEnv: ['<rootDir>/test/helpers/failOnUnhandled.ts'],
};

export default config;
