import { toYaml } from '../../../config/generateDemo';
import { parseConfig } from '../../../config/load';
import { buildTerritory, type TerritoryOptions } from '../../../config/demoTerritory';

/** Tests and benchmarks build territories of every shape from the demo's generator: each must validate. */
describe('generated territories', () => {
  const shapes: [string, TerritoryOptions][] = [
    [
      'one commune, Modbus only, no buildings',
      { communes: 1, modbusPorts: [15001], opcuaPorts: [], buildings: false },
    ],
    [
      'OPC UA controllers only',
      { communes: 2, modbusPorts: [], opcuaPorts: [4841, 4842], modbusControllers: 0 },
    ],
    ['no alert rules', { communes: 3, modbusPorts: [15001, 15002], opcuaPorts: [], alerts: false }],
    [
      'a hundred controllers of a hundred luminaires',
      {
        communes: 6,
        modbusPorts: Array.from({ length: 100 }, (_, i) => 20000 + i),
        opcuaPorts: [],
        luminairesPerController: 100,
        buildings: false,
      },
    ],
  ];

  it.each(shapes)('%s', (_name, options) => {
    const config = parseConfig(toYaml(buildTerritory(options)), 'territory.yaml', { env: {} });
    const luminaires = config.zones.reduce((n, z) => n + z.luminaires.length, 0);
    const controllers = config.devices.filter((d) => d.lighting).length;
    expect(controllers).toBe(options.modbusPorts.length + options.opcuaPorts.length);
    expect(luminaires).toBe(controllers * (options.luminairesPerController ?? 45));
  });
});
