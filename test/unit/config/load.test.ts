import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, formatIssue, type ConfigIssue } from '../../../config/issues';
import { loadConfig, parseConfig } from '../../../config/load';
import { DEMO_CONFIG } from '../../../config/paths';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'config');
const SMALL = readFileSync(path.join(FIXTURES, 'small.yaml'), 'utf8');

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  try {
    parseConfig(text, 'site.yaml', { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

/** The small fixture with one substitution; fails loudly if the text to replace is not there. */
function variant(from: string, to: string): string {
  if (!SMALL.includes(from)) throw new Error(`fixture has no '${from}'`);
  return SMALL.replace(from, to);
}

const lineOf = (text: string, needle: string): number =>
  text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('loading a configuration', () => {
  it('loads the small fixture and applies defaults', () => {
    const config = parseConfig(SMALL, 'small.yaml', { env: {} });
    expect(config.site.timezone).toBe('Europe/Paris');
    expect(config.mqtt.base_topic).toBe('nocturne');
    const device = config.devices[0];
    expect(device.protocol === 'modbus-tcp' && device.unit_id).toBe(1);
    expect(device.timeout_ms).toBe(1000);
    expect(config.zones[0].luminaires).toHaveLength(3);
    expect(config.presence_sensors[0].levels.vehicle).toBe(100);
  });

  it('loads the demo territory: six communes, over 1,000 luminaires on over 20 controllers of both protocols', () => {
    const config = loadConfig(DEMO_CONFIG, { env: {} });
    const controllers = config.devices.filter((d) => d.lighting);
    const luminaires = config.zones.flatMap((z) => z.luminaires);
    expect(config.communes).toHaveLength(6);
    expect(luminaires.length).toBeGreaterThanOrEqual(1000);
    expect(controllers.length).toBeGreaterThanOrEqual(20);
    expect(new Set(controllers.map((d) => d.protocol))).toEqual(new Set(['modbus-tcp', 'opcua']));
    const publicBuildings = config.buildings.filter((b) =>
      ['school', 'gym', 'town_hall', 'pool', 'library'].includes(b.kind),
    );
    expect(publicBuildings.length).toBeGreaterThanOrEqual(6);
    for (const building of publicBuildings) {
      const quantities = new Set(building.points.map((p) => p.quantity));
      expect([...quantities]).toEqual(expect.arrayContaining(['temperature', 'electricity', 'water']));
    }
  });

  it('reports a missing file', () => {
    expect(() => loadConfig('/nonexistent/site.yaml')).toThrow(/site.yaml.*file not found/);
  });

  it('reports five different mistakes at once, each with file:line:column and path', () => {
    const file = path.join(FIXTURES, 'five-mistakes.yaml');
    const text = readFileSync(file, 'utf8');
    let issues: ConfigIssue[] = [];
    try {
      loadConfig(file, { env: {} });
    } catch (error) {
      issues = (error as ConfigError).issues;
    }
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [lineOf(text, 'port: 70000'), 'devices[0].port'],
      [lineOf(text, 'level: 150'), 'programs[0].steps[1].level'],
      [lineOf(text, 'device: sc-l'), 'zones[0].luminaires[1].device'],
      [lineOf(text, 'id: serp-3'), 'zones[0].luminaires[2].channel'],
      [lineOf(text, 'opening: always'), 'buildings[0]'],
    ]);
    expect(issues.every((i) => i.file === file && i.column > 0)).toBe(true);
  });
});

describe('each kind of mistake is located and says what is allowed', () => {
  const cases: {
    name: string;
    text: string;
    path: string;
    message: RegExp;
    line?: string;
    env?: NodeJS.ProcessEnv;
  }[] = [
    {
      name: 'YAML syntax',
      text: variant('    port: 15020\n', '    port: 15020: 1\n'),
      path: '',
      message: /YAML: Nested mappings/,
      line: 'port: 15020: 1',
    },
    {
      name: 'duplicate key',
      text: variant('    port: 15020\n', '    port: 15020\n    port: 15022\n'),
      path: '',
      message: /YAML: Map keys must be unique/,
      line: 'port: 15022',
    },
    {
      name: 'two documents',
      text: `${SMALL}---\nversion: 1\n`,
      path: '',
      message: /YAML: a configuration is one document/,
      line: '---',
    },
    {
      name: 'empty file',
      text: '# nothing yet\n',
      path: '',
      message: /expected object, got null/,
      line: '# nothing yet',
    },
    {
      name: 'number out of range',
      text: variant('level: 50', 'level: 101'),
      path: 'programs[0].steps[1].level',
      message: /must be at most 100 \(is 101\)/,
      line: 'level: 101',
    },
    {
      name: 'wrong type',
      text: variant('power_w: 40, device: sc-1, channel: 1', 'power_w: forty, device: sc-1, channel: 1'),
      path: 'zones[0].luminaires[0].power_w',
      message: /expected number, got string \(is 'forty'\)/,
      line: 'power_w: forty',
    },
    {
      name: 'missing field',
      text: variant('    calendar: metz-cal\n', ''),
      path: 'zones[0].calendar',
      message: /required field missing \(expected string\)/,
      line: '- id: rue-serpenoise',
    },
    {
      name: 'unknown protocol',
      text: variant(
        'protocol: modbus-tcp\n    host: 127.0.0.1\n    port: 15020',
        'protocol: modbus-udp\n    host: 127.0.0.1\n    port: 15020',
      ),
      path: 'devices[0].protocol',
      message:
        /must be one of 'modbus-tcp', 'modbus-rtu-over-tcp', 'modbus-rtu', 'opcua', 'mqtt', 'http-json' \(is 'modbus-udp'\)/,
      line: 'modbus-udp',
    },
    {
      name: 'enum value',
      text: variant('table: input, address: 0, type: int16', 'table: input, address: 0, type: int24'),
      path: 'buildings[0].points[1].modbus.type',
      message: /must be one of 'bool', 'int16'.*\(is 'int24'\)/,
      line: 'int24',
    },
    {
      name: 'unknown field',
      text: variant('    kind: school\n', '    kind: school\n    colour: blue\n'),
      path: 'buildings[0]',
      message: /unknown field 'colour' \(allowed: id, commune, name, kind/,
      line: 'colour: blue',
    },
    {
      name: 'identifier format',
      text: variant('id: serp-1,', 'id: Serp 1,'),
      path: 'zones[0].luminaires[0].id',
      message: /lowercase letters.*\(is 'Serp 1'\)/,
      line: 'Serp 1',
    },
    {
      name: 'step time',
      text: variant('at: "23:00"', 'at: "25:00"'),
      path: 'programs[0].steps[1].at',
      message: /'HH:MM' or a sun event/,
      line: '25:00',
    },
    {
      name: 'sun event offset',
      text: variant('at: dusk,', 'at: dusk+10s,'),
      path: 'programs[0].steps[0].at',
      message: /sun event/,
      line: 'dusk+10s',
    },
    {
      name: 'time zone',
      text: variant('  name: Test site\n', '  name: Test site\n  timezone: Europe/Metz\n'),
      path: 'site.timezone',
      message: /IANA time zone/,
      line: 'Europe/Metz',
    },
    {
      name: 'unknown calendar',
      text: variant('    calendar: metz-cal\n', '    calendar: metz-cal2\n'),
      path: 'zones[0].calendar',
      message: /unknown calendar 'metz-cal2' \(did you mean 'metz-cal'\?\)/,
      line: 'metz-cal2',
    },
    {
      name: 'unknown program',
      text: variant('    default: standard', '    default: nightly'),
      path: 'calendars[0].default',
      message: /unknown program 'nightly'/,
      line: 'nightly',
    },
    {
      name: 'program steps out of night order',
      text: variant(
        '      - { at: dusk, level: 100 }\n',
        '      - { at: dusk, level: 100 }\n      - { at: "23:30", level: 70 }\n',
      ),
      path: 'programs[0].steps[2].at',
      message: /23:00/,
      line: '"23:00"',
    },
    {
      name: 'rule without condition',
      text: variant(
        '{ name: Fête nationale, dates: ["07-14"], program: standard }',
        '{ name: Toujours, program: standard }',
      ),
      path: 'calendars[0].rules[0]',
      message: /at least one of dates/,
      line: 'Toujours',
    },
    {
      name: 'luminaire on a device that is not a segment controller',
      text: variant('power_w: 40, device: sc-1, channel: 1', 'power_w: 40, device: meters, channel: 1'),
      path: 'zones[0].luminaires[0].device',
      message: /'meters' is not a segment controller/,
      line: 'device: meters, channel: 1',
    },
    {
      name: 'channel beyond the controller',
      text: variant('device: sc-1, channel: 3', 'device: sc-1, channel: 9'),
      path: 'zones[0].luminaires[2].channel',
      message: /at most 8, the channels of 'sc-1' \(is 9\)/,
      line: 'channel: 9',
    },
    {
      name: 'two luminaires on one channel',
      text: variant('device: sc-1, channel: 3', 'device: sc-1, channel: 2'),
      path: 'zones[0].luminaires[2].channel',
      message: /channel 2 of 'sc-1' already drives luminaire 'serp-2'/,
      line: 'id: serp-3',
    },
    {
      name: 'duplicate id',
      text: variant('{ id: serp-3,', '{ id: serp-2,'),
      path: 'zones[0].luminaires[2].id',
      message: /duplicate luminaire id 'serp-2'/,
      line: 'channel: 3',
    },
    {
      name: 'sensor raising an unknown luminaire',
      text: variant('at: serp-2 }', 'at: serp-9 }'),
      path: 'presence_sensors[0].at',
      message: /unknown luminaire 'serp-9'/,
      line: 'serp-9',
    },
    {
      name: 'sensor with both at and luminaires',
      text: variant('at: serp-2 }', 'at: serp-2, luminaires: [serp-1] }'),
      path: 'presence_sensors[0]',
      message: /either 'at'.*or 'luminaires'/,
      line: 'radar-1',
    },
    {
      name: 'wildcard sensor topic',
      text: variant('topic: capteurs/radar-1', 'topic: capteurs/+'),
      path: 'presence_sensors[0].topic',
      message: /without \+ or # wildcards/,
      line: 'capteurs/+',
    },
    {
      name: 'overlapping point registers',
      text: variant('table: input, address: 0, type: int16', 'table: holding, address: 1, type: int16'),
      path: 'buildings[0].points[1].modbus.address',
      message:
        /holding registers 1-1 of device 'meters' \(point 'ecole\/temp'\) overlap 0-1 \(point 'ecole\/elec'\)/,
      line: 'address: 1, type: int16',
    },
    {
      name: 'bool on a register',
      text: variant('table: input, address: 0, type: int16', 'table: input, address: 0, type: bool'),
      path: 'buildings[0].points[1].modbus.type',
      message: /bool is for coils/,
      line: 'type: bool',
    },
    {
      name: 'binding of the wrong protocol',
      text: variant(
        'modbus: { table: input, address: 0, type: int16, scale: 0.1 }',
        'opcua: { node_id: "ns=1;s=T" }',
      ),
      path: 'buildings[0].points[1].opcua',
      message: /speaks Modbus/,
      line: 'ns=1;s=T',
    },
    {
      name: 'zone and controller in different communes',
      text: variant(
        '  - { id: metz, name: Metz, insee: "57463" }\n',
        '  - { id: metz, name: Metz, insee: "57463" }\n  - { id: woippy, name: Woippy }\n',
      ).replace('    commune: metz\n    calendar', '    commune: woippy\n    calendar'),
      path: 'zones[0].luminaires[0].device',
      message: /belongs to commune 'metz', zone 'rue-serpenoise' to 'woippy'/,
      line: 'id: serp-1',
    },
    {
      name: 'user of an unknown commune',
      text: variant('communes: [metz]', 'communes: [metz, nancy]'),
      path: 'users[0].communes[1]',
      message: /unknown commune 'nancy'/,
      line: 'nancy',
    },
    {
      name: 'token stored in clear',
      text: variant('token_sha256: 0b3a', 'token_sha256: hunter2-0b3a'),
      path: 'users[0].token_sha256',
      message: /hex SHA-256/,
      line: 'hunter2',
    },
    {
      name: 'secret from a missing environment variable',
      text: variant(
        'communes:\n',
        'mqtt:\n  url: mqtt://broker:1883\n  password: { env: MQTT_PASSWORD }\ncommunes:\n',
      ),
      path: 'mqtt.password',
      message: /environment variable MQTT_PASSWORD is not set/,
      line: 'MQTT_PASSWORD',
    },
    {
      name: 'TLS without a TLS url',
      text: variant(
        'communes:\n',
        'mqtt:\n  url: mqtt://broker:1883\n  tls: { ca_file: ca.pem }\ncommunes:\n',
      ),
      path: 'mqtt.tls',
      message: /tls needs an mqtts:\/\/.*\(url is 'mqtt:\/\/broker:1883'\)/,
      line: 'ca_file',
    },
    {
      name: 'client certificate without its key',
      text: variant(
        'communes:\n',
        'mqtt:\n  url: mqtts://broker:8883\n  tls: { cert_file: client.pem }\ncommunes:\n',
      ),
      path: 'mqtt.tls',
      message: /both cert_file and key_file/,
      line: 'cert_file',
    },
    {
      name: 'OPC UA security mode without a policy',
      text: variant(
        '  - id: meters\n    protocol: modbus-tcp\n    host: 127.0.0.1\n    port: 15021\n',
        '  - id: meters\n    protocol: opcua\n    endpoint: opc.tcp://127.0.0.1:4840\n    security: { mode: SignAndEncrypt }\n',
      ),
      path: 'devices[1].security',
      message: /mode 'SignAndEncrypt' and policy 'None' do not go together/,
      line: 'SignAndEncrypt',
    },
    {
      name: 'webhook header secret from a missing environment variable',
      text: variant(
        'communes:\n',
        'alerts:\n  webhooks:\n    - { id: astreinte, url: "https://hooks.example/alert", headers: { Authorization: { env: HOOK_TOKEN } } }\ncommunes:\n',
      ),
      path: 'alerts.webhooks[0].headers.Authorization',
      message: /environment variable HOOK_TOKEN is not set/,
      line: 'HOOK_TOKEN',
    },
    {
      name: 'environment override of the wrong type',
      text: SMALL,
      env: { NOCTURNE_HTTP_PORT: 'eighty' },
      path: 'http.port',
      message: /expected number, got string \(is 'eighty'\)/,
    },
    {
      name: 'empty environment override of the listening address (Node would listen everywhere)',
      text: SMALL,
      env: { NOCTURNE_HTTP_HOST: '' },
      path: 'http.host',
      message: /at least 1 character \(is ''\) \(set by NOCTURNE_HTTP_HOST\)/,
    },
    {
      name: 'embedded broker, which has no authentication, beyond loopback',
      text: variant('communes:\n', 'mqtt:\n  embedded_host: 0.0.0.0\ncommunes:\n'),
      path: 'mqtt.embedded_host',
      message: /no authentication: on '0\.0\.0\.0', not a loopback address.*embedded_expose: true/,
      line: 'embedded_host: 0.0.0.0',
    },
    {
      name: 'embedded broker beyond loopback, from the environment',
      text: SMALL,
      env: { NOCTURNE_MQTT_EMBEDDED_HOST: '192.168.1.20' },
      path: 'mqtt.embedded_host',
      message: /no authentication: on '192\.168\.1\.20'.*\(set by NOCTURNE_MQTT_EMBEDDED_HOST\)/,
    },
  ];

  it.each(cases)('$name', ({ text, path: issuePath, message, line, env }) => {
    const issues = issuesOf(text, env);
    const issue = issues.find((i) => i.path === issuePath && message.test(i.message));
    if (!issue) {
      throw new Error(
        `no issue at '${issuePath}' matching ${message}; got:\n${issues.map(formatIssue).join('\n')}`,
      );
    }
    if (line !== undefined) expect(issue.line).toBe(lineOf(text, line));
  });
});

describe('environment and secrets', () => {
  it('overrides scalar fields of the service sections from NOCTURNE_<SECTION>_<FIELD>', () => {
    const config = parseConfig(SMALL, 'small.yaml', {
      env: { NOCTURNE_HTTP_PORT: '9090', NOCTURNE_MQTT_URL: 'mqtt://10.0.0.5:1883' },
    });
    expect(config.http.port).toBe(9090);
    expect(config.mqtt.url).toBe('mqtt://10.0.0.5:1883');
  });

  it('lets the embedded broker listen beyond loopback only when told to, or when it is not used', () => {
    const withMqtt = (mqtt: string) => variant('communes:\n', `mqtt:\n${mqtt}communes:\n`);
    for (const host of ['127.0.0.1', '127.0.0.53', '::1', 'localhost']) {
      expect(
        parseConfig(withMqtt(`  embedded_host: "${host}"\n`), 'small.yaml', { env: {} }).mqtt.embedded_host,
      ).toBe(host);
    }
    const exposed = parseConfig(
      withMqtt('  embedded_host: 0.0.0.0\n  embedded_expose: true\n'),
      'small.yaml',
      { env: {} },
    );
    expect(exposed.mqtt).toMatchObject({ embedded_host: '0.0.0.0', embedded_expose: true });
    const external = parseConfig(
      withMqtt('  url: mqtt://broker:1883\n  embedded_host: 0.0.0.0\n'),
      'small.yaml',
      { env: {} },
    );
    expect(external.mqtt.url).toBe('mqtt://broker:1883');
  });

  it('accepts a secret from a file next to the configuration', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nocturne-config-'));
    try {
      writeFileSync(path.join(dir, 'mqtt.secret'), 's3cret\n');
      const file = path.join(dir, 'site.yaml');
      writeFileSync(
        file,
        SMALL.replace(
          'communes:\n',
          'mqtt:\n  url: mqtt://broker:1883\n  password: { file: mqtt.secret }\ncommunes:\n',
        ),
      );
      expect(loadConfig(file, { env: {} }).mqtt.password).toEqual({ file: 'mqtt.secret' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
