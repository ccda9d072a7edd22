import type { ConfigInput } from './schema';

/**
 * The demo territory's sensors, by configuration alone (docs/sensors.md walks through each): LoRaWAN
 * sensors behind ChirpStack v4 and The Things Stack v3, as the Metz communes have them, declared by model
 * once and then one line per sensor. The simulators publish their uplinks in the network servers' formats.
 */

type Input = Required<Pick<ConfigInput, 'devices' | 'sensor_models' | 'sensors'>>;

/** One sensor per line: id, model, network server, commune, name, place. */
const SENSORS: [string, string, 'chirpstack' | 'tts', string, string, number, number][] = [
  ['metz-pav-gare', 'pav-em500-udl', 'chirpstack', 'metz', 'PAV verre, place de la Gare', 49.1097, 6.1772],
  [
    'metz-pav-saint-jacques',
    'pav-em500-udl',
    'chirpstack',
    'metz',
    'PAV verre, place Saint-Jacques',
    49.1185,
    6.1757,
  ],
  [
    'woippy-pav-mairie',
    'pav-em500-udl',
    'chirpstack',
    'woippy',
    'PAV verre, mairie de Woippy',
    49.1512,
    6.1515,
  ],
  [
    'montigny-pav-pepiniere',
    'pav-em500-udl',
    'chirpstack',
    'montigny-les-metz',
    'PAV papier, rue de la Pépinière',
    49.0984,
    6.1552,
  ],
  [
    'metz-limni-moselle-pontiffroy',
    'limnimetre',
    'tts',
    'metz',
    'Limnimètre Moselle, Pontiffroy',
    49.1241,
    6.1719,
  ],
  [
    'moulins-limni-moselle',
    'limnimetre',
    'tts',
    'moulins-les-metz',
    'Limnimètre Moselle, Moulins',
    49.1044,
    6.1011,
  ],
  [
    'metz-air-republique',
    'qualite-air',
    'chirpstack',
    'metz',
    'Qualité de l’air, place de la République',
    49.1158,
    6.1752,
  ],
  ['metz-bruit-serpenoise', 'sonometre', 'chirpstack', 'metz', 'Sonomètre, rue Serpenoise', 49.1163, 6.1743],
  [
    'marly-velos-seille',
    'compteur-velos',
    'chirpstack',
    'marly',
    'Compteur vélos, piste de la Seille',
    49.0661,
    6.1497,
  ],
  [
    'saint-julien-ruche-1',
    'balance-ruche',
    'tts',
    'saint-julien-les-metz',
    'Ruche du rucher municipal',
    49.1331,
    6.2052,
  ],
];

export function demoSensors(communes: readonly string[]): Input {
  const sensors = SENSORS.filter(([, , , commune]) => communes.includes(commune));
  return {
    devices: [
      {
        id: 'chirpstack',
        name: 'Serveur de réseau LoRaWAN ChirpStack (Eurométropole)',
        protocol: 'mqtt',
        format: 'chirpstack-v4',
      },
      {
        id: 'tts',
        name: 'The Things Stack (capteurs de crue et ruchers)',
        protocol: 'mqtt',
        format: 'ttn-v3',
      },
    ],
    sensor_models: MODELS,
    sensors: sensors.map(([id, model, source, commune, name, lat, lon], i) => ({
      id,
      model,
      source,
      commune,
      name,
      location: { lat, lon },
      ...(source === 'chirpstack'
        ? { dev_eui: `24e12413${(0x6b502217 + i).toString(16).padStart(8, '0')}` }
        : { device_id: id }),
    })),
  };
}

const MODELS: Input['sensor_models'] = [
  {
    id: 'pav-em500-udl',
    name: 'Milesight EM500-UDL (remplissage de point d’apport volontaire)',
    kind: 'bin',
    period_s: 1800,
    points: [
      // A 1.2 m deep container: the sensor in its lid measures the distance down to the glass.
      { id: 'remplissage', quantity: 'fill_level', unit: '%', path: 'distance', scale: -0.0833, offset: 100 },
      { id: 'distance', quantity: 'distance', unit: 'mm', path: 'distance' },
    ],
  },
  {
    id: 'limnimetre',
    name: 'Limnimètre radar LoRaWAN',
    kind: 'river_station',
    period_s: 600,
    points: [{ id: 'niveau', quantity: 'water_level', unit: 'm', path: 'level_m' }],
  },
  {
    id: 'qualite-air',
    name: 'Capteur de qualité de l’air (PM2,5, NO2)',
    kind: 'air_station',
    period_s: 900,
    points: [
      { id: 'pm2-5', quantity: 'pm2_5', unit: 'µg/m³', path: 'pm2_5' },
      { id: 'no2', quantity: 'no2', unit: 'µg/m³', path: 'no2' },
    ],
  },
  {
    id: 'sonometre',
    name: 'Sonomètre LoRaWAN (LAeq 15 min)',
    kind: 'noise_station',
    period_s: 900,
    points: [{ id: 'laeq', quantity: 'noise_laeq', unit: 'dB(A)', path: 'laeq' }],
  },
  {
    id: 'compteur-velos',
    name: 'Compteur de passages vélos',
    kind: 'bike_counter',
    period_s: 900,
    points: [
      { id: 'passages', measurement: 'meter', quantity: 'bike_count', unit: 'passages', path: 'total' },
    ],
  },
  {
    id: 'balance-ruche',
    name: 'Balance de ruche connectée',
    kind: 'hive',
    period_s: 3600,
    points: [
      { id: 'poids', quantity: 'weight', unit: 'kg', path: 'weight_kg' },
      { id: 'temperature', quantity: 'temperature', unit: '°C', path: 'temperature' },
    ],
  },
];
