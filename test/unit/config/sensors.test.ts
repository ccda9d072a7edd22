import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigIssue } from '../../../config/issues';
import { parseConfig } from '../../../config/load';

const SMALL = readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'config', 'small.yaml'), 'utf8');

/** The small fixture with LoRaWAN sources, a model and sensors appended (and a rule on a sensor's point). */
const SOURCES = `  - id: chirpstack
    protocol: mqtt
    format: chirpstack-v4
  - id: tts
    protocol: mqtt
    format: ttn-v3
    broker: { url: "mqtts://eu1.cloud.thethings.network:8883", username: "crues@ttn", password: { env: TTS_KEY } }
  - id: riviere
    protocol: mqtt
    format: json
    topic: "riviere/{station}/niveau"
    time_path: obs.t
`;

const MODELS = `sensor_models:
  - id: pav
    kind: bin
    period_s: 1800
    points:
      - { id: remplissage, quantity: fill_level, unit: "%", path: distance, scale: -0.0833, offset: 100 }
  - id: limni
    kind: river_station
    radio: false
    points:
      - { id: niveau, quantity: water_level, unit: m, path: level_m }
sensors:
  - { id: pav-gare, model: pav, source: chirpstack, commune: metz, dev_eui: 24E124136B502217 }
  - { id: pav-cathedrale, model: pav, source: chirpstack, commune: metz, dev_eui: 24e124136b502218 }
  - { id: limni-pontiffroy, model: limni, source: tts, commune: metz, device_id: limni-1 }
`;

function withSensors(sensors = MODELS, sources = SOURCES): string {
  return SMALL.replace('programs:\n', `${sources}programs:\n`).replace('users:\n', `${sensors}users:\n`);
}

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseConfig(text, 'site.yaml', { env: { TTS_KEY: 'x' } });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

const lineOf = (text: string, needle: string): number =>
  text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('sensors by model', () => {
  it('become sites with the points of their model, their identity in the topic, and the radio readings of LoRaWAN', () => {
    const config = parseConfig(withSensors(), 'site.yaml', { env: { TTS_KEY: 'x' } });
    const sites = config.buildings.filter((b) => b.id !== 'ecole');
    expect(sites.map((s) => [s.id, s.commune, s.kind, s.points.map((p) => p.id)])).toEqual([
      ['pav-gare', 'metz', 'bin', ['remplissage', 'rssi', 'snr', 'battery']],
      ['pav-cathedrale', 'metz', 'bin', ['remplissage', 'rssi', 'snr', 'battery']],
      ['limni-pontiffroy', 'metz', 'river_station', ['niveau']],
    ]);
    expect(sites[0].points[0]).toEqual({
      id: 'remplissage',
      measurement: 'sensor',
      quantity: 'fill_level',
      unit: '%',
      device: 'chirpstack',
      mqtt: {
        match: { dev_eui: '24e124136b502217' },
        path: 'distance',
        scale: -0.0833,
        offset: 100,
        period_s: 1800,
      },
    });
    expect(sites[0].points[1]).toMatchObject({
      quantity: 'radio_rssi',
      unit: 'dBm',
      mqtt: { match: { dev_eui: '24e124136b502217' }, radio: 'rssi' },
    });
    expect(sites[2].points[0].mqtt!.match).toEqual({ device_id: 'limni-1' });
    // The configuration keeps what was written, for the API and `nocturne validate`.
    expect(config.sensors).toHaveLength(3);
  });

  it('accepts rules and lux steps on sensors’ points', () => {
    const text = withSensors().replace(
      'users:\n',
      `alerts:\n  rules:\n    - { id: crue, kind: threshold, scope: { points: [limni-pontiffroy/niveau] }, above: 2 }\nusers:\n`,
    );
    expect(parseConfig(text, 'site.yaml', { env: { TTS_KEY: 'x' } }).alerts.rules).toHaveLength(1);
  });

  it('says where a sensor is wrong, on its own line', () => {
    const text = withSensors(
      MODELS.replace('model: limni,', 'model: limmi,')
        .replace(
          'source: chirpstack, commune: metz, dev_eui: 24e124136b502218',
          'source: meters, commune: metz',
        )
        .replace('{ id: pav-gare,', '{ id: ecole,'),
    );
    const issues = issuesOf(text);
    const at = (needle: string): number => lineOf(text, needle);
    expect(issues.map((i) => [i.line, i.path, i.message])).toEqual(
      expect.arrayContaining([
        [
          at('{ id: ecole, model: pav'),
          'sensors[0].id',
          "'ecole' is already a building's id: a sensor becomes a site of its own",
        ],
        [
          at('{ id: pav-cathedrale'),
          'sensors[1].source',
          "device 'meters' is modbus-tcp: a sensor's source is an MQTT source (protocol: mqtt)",
        ],
        [
          at('{ id: limni-pontiffroy'),
          'sensors[2].model',
          "unknown sensor model 'limmi' (did you mean 'limni'?)",
        ],
      ]),
    );
  });

  it('needs the identity its network server gives, and captures its topic has', () => {
    const text = withSensors(
      MODELS.replace(', dev_eui: 24E124136B502217', '').concat(
        '  - { id: pont, model: limni, source: riviere, commune: metz, match: { capteur: pont-des-morts } }\n',
      ),
    );
    const messages = issuesOf(text).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        "sensors[0]: a sensor of chirpstack-v4 source 'chirpstack' needs its 'dev_eui'",
        "sensors[3]: 'capteur' is not a capture of source 'riviere' topic (captures: station)",
      ]),
    );
  });

  it('refuses a topic MQTT cannot subscribe to, a json source without one, radio readings off LoRaWAN', () => {
    const sources = SOURCES.replace('topic: "riviere/{station}/niveau"', 'topic: "riviere/+/niveau"').concat(
      '  - { id: passerelle, protocol: mqtt, format: json }\n',
    );
    const text = withSensors(MODELS, sources).replace(
      '        modbus: { table: input, address: 0, type: int16, scale: 0.1 }\n',
      '        modbus: { table: input, address: 0, type: int16, scale: 0.1 }\n      - { id: rssi, quantity: radio_rssi, device: riviere, mqtt: { radio: rssi } }\n',
    );
    const messages = issuesOf(text).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        "devices[4].topic: segment '+' of 'riviere/+/niveau': name a capture '{name}' instead of '+' or '#'",
        "devices[5].topic: format 'json' has no topic of its own: give the topic pattern",
        "buildings[0].points[2].mqtt.radio: radio readings come from LoRaWAN network servers (format is 'json')",
      ]),
    );
  });

  it('binds a point to an MQTT source only with mqtt, and says so', () => {
    const text = withSensors(MODELS).replace(
      '        modbus: { table: input, address: 0, type: int16, scale: 0.1 }\n',
      '        modbus: { table: input, address: 0, type: int16, scale: 0.1 }\n      - { id: niveau, quantity: water_level, device: riviere, modbus: { address: 3 } }\n',
    );
    expect(issuesOf(text).map((i) => `${i.path}: ${i.message}`)).toContain(
      "buildings[0].points[2].modbus: device 'riviere' speaks MQTT: bind the point with 'mqtt'",
    );
  });

  it('binds a point of an HTTP JSON document with http, and names a missing header secret', () => {
    const sources = SOURCES.concat(
      '  - { id: hubeau, protocol: http-json, url: "https://hubeau.eaufrance.fr/api/v2/hydrometrie/observations_tr", headers: { X-Api-Key: { env: HUBEAU_KEY } } }\n',
    );
    const point = (binding: string): string =>
      withSensors(MODELS, sources).replace(
        '        modbus: { table: input, address: 0, type: int16, scale: 0.1 }\n',
        `        modbus: { table: input, address: 0, type: int16, scale: 0.1 }\n      - { id: moselle, measurement: sensor, quantity: water_level, device: hubeau, ${binding} }\n`,
      );
    const config = parseConfig(point('http: { path: data.0.resultat_obs, scale: 0.001 }'), 'site.yaml', {
      env: { TTS_KEY: 'x', HUBEAU_KEY: 'k' },
    });
    expect(config.buildings[0].points[2].http).toEqual({
      path: 'data.0.resultat_obs',
      scale: 0.001,
      offset: 0,
    });
    const wrong = issuesOf(point('mqtt: { path: level }')).map((i) => `${i.path}: ${i.message}`);
    expect(wrong).toContain(
      "buildings[0].points[2].mqtt: device 'hubeau' speaks HTTP: bind the point with 'http'",
    );
    expect(wrong).toContain('devices[5].headers.X-Api-Key: environment variable HUBEAU_KEY is not set');
  });
});
