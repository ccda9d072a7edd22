/* global module */
/**
 * Which room may import which: docs/architecture.md. Checked by `npm test` (scripts/test.sh), type-only
 * imports included, since a type in the wrong room is what makes a circle.
 */

/** Decision logic: fed values and a clock, returns decisions; tested with a fake clock. */
const PURE = [
  '^core/(localTime|sun|excerpt)\\.ts$',
  '^controller/scope\\.ts$',
  '^controller/audit/(entry|retention|export)\\.ts$',
  '^controller/lighting/(arbiter|slots|minHeap|calendar|energy|holidays|lux|presence|schedule|topology|zoneSchedule)\\.ts$',
  '^controller/telemetry/(openingHours|points|counters|services)\\.ts$',
  '^controller/evaluation/(report|usage)\\.ts$',
  '^controller/telemetry/alerts/(engine|rule|rules|pointRules|lightingRules|serviceRules|checks|messages|texts|scope|recipients|notifyMessages|smsTemplate)\\.ts$',
  '^controller/lighting/runtime/events\\.ts$',
  '^controller/exports/(csv|rows|selection)\\.ts$',
  '^controller/opendata/datasets\\.ts$',
  '^controller/cluster/leadership\\.ts$',
  '^controller/cluster/shards\\.ts$',
];

/** Drivers' formats: values to bytes or text and back, no I/O; validation and decisions may use them. */
const DRIVER_FORMATS = [
  '^drivers/driver\\.ts$',
  '^drivers/modbus/codec\\.ts$',
  '^drivers/influx/lineProtocol\\.ts$',
  '^drivers/influx/influxql\\.ts$',
  '^drivers/mqtt/uplinks\\.ts$',
];

/** What does I/O: node's I/O modules, protocol and storage clients, servers. */
const IO_PACKAGES =
  '^(node:)?(fs|fs/promises|net|http|https|dgram|child_process|tls|readline)$|^(mqtt|modbus-serial|node-opcua.*|fastify.*|@fastify/.*|@influxdata/.*|aedes|pino.*)$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle, even of types only, means a type lives in the wrong room.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-no-room',
      severity: 'error',
      comment:
        'core/ (clock, logger, time, sun, lifecycle) is what every layer may import: it imports none of them.',
      from: { path: '^core/' },
      to: { path: '^(controller|drivers|config|simulators|bench)/' },
    },
    {
      name: 'drivers-import-no-controller',
      severity: 'error',
      comment: 'Drivers speak protocols; the controller decides. Shared needs go to core/.',
      from: { path: '^drivers/' },
      to: { path: '^(controller|simulators|bench)/' },
    },
    {
      name: 'config-imports-no-io',
      severity: 'error',
      comment: 'Validating a configuration uses the pure checks of the domain, never its services.',
      from: { path: '^config/' },
      to: { path: '^(controller|drivers|simulators)/', pathNot: [...PURE, ...DRIVER_FORMATS] },
    },
    {
      name: 'pure-decisions-do-no-io',
      severity: 'error',
      comment: 'Decision logic imports no transport, driver or I/O module: values in, decisions out.',
      from: { path: PURE },
      to: {
        pathNot: [...PURE, ...DRIVER_FORMATS, '^config/', '^core/clock\\.ts$'],
        path: '^(controller|drivers|simulators)/',
      },
    },
    {
      name: 'pure-decisions-use-no-io-package',
      severity: 'error',
      from: { path: PURE },
      to: { dependencyTypes: ['core', 'npm'], path: IO_PACKAGES },
    },
    {
      name: 'controller-reaches-drivers-through-ports',
      severity: 'error',
      comment:
        'The controller drives devices through drivers/driver.ts, brokers through drivers/messaging.ts and InfluxDB through drivers/timeSeries.ts; only the composition root, the device registry and the storage adapter name concrete clients.',
      from: {
        path: '^controller/',
        pathNot:
          '^controller/(service|main|cli|demo|devices)\\.ts$|^controller/telemetry/(storage|subsystem)\\.ts$|^controller/health/|^controller/cluster/fromConfig\\.ts$',
      },
      to: { path: '^drivers/(modbus|opcua|mqtt|http|influx|etcd)/', pathNot: DRIVER_FORMATS },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
