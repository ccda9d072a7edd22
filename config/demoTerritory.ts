import { createHash } from 'node:crypto';
import { demoSensors } from './demoSensors';
import { REGISTER_MAP_V1 } from './profiles';

export { REGISTER_MAP_V1 };
import type { ConfigInput } from './schema';

/**
 * Builds a simulated territory modelled on the Eurométropole de Metz: the demo configuration, and the
 * smaller or larger ones tests and benchmarks need, come from this one generator so they cannot drift apart.
 */

type Input = ConfigInput;
type DeviceInput = NonNullable<Input['devices']>[number];
type ZoneInput = NonNullable<Input['zones']>[number];
type BuildingInput = NonNullable<Input['buildings']>[number];
type PointInput = NonNullable<BuildingInput['points']>[number];
type SensorInput = NonNullable<Input['presence_sensors']>[number];

export interface TerritoryOptions {
  /** How many of the pilot communes (1-6). */
  communes?: number;
  modbusControllers?: number;
  opcuaControllers?: number;
  luminairesPerController?: number;
  zonesPerController?: number;
  /** Buildings per commune (each commune gets at least one when > 0). */
  buildings?: boolean;
  presenceSensorsPerZone?: number;
  host?: string;
  /** Modbus segment controller i listens on modbusPorts[i]. */
  modbusPorts: number[];
  /** OPC UA segment controller i listens on opcuaPorts[i]. */
  opcuaPorts: number[];
  /** The building management OPC UA server. */
  bmsPort?: number;
  /** The Modbus TCP gateway to the energy meters. */
  meterGatewayPort?: number;
  mqttUrl?: string;
  embeddedMqttPort?: number;
  httpPort?: number;
  stateDir?: string;
  influx?: Input['influx'];
  /** The demo's alert rules (default true). */
  alerts?: boolean;
  /** LoRaWAN sensors behind ChirpStack and The Things Stack (config/demoSensors.ts). Default false. */
  sensors?: boolean;
}

export const PILOT_COMMUNES = [
  { id: 'metz', name: 'Metz', insee: '57463', lat: 49.1193, lon: 6.1757 },
  { id: 'montigny-les-metz', name: 'Montigny-lès-Metz', insee: '57480', lat: 49.1006, lon: 6.1539 },
  { id: 'woippy', name: 'Woippy', insee: '57751', lat: 49.1514, lon: 6.1514 },
  { id: 'marly', name: 'Marly', insee: '57447', lat: 49.0633, lon: 6.1456 },
  { id: 'moulins-les-metz', name: 'Moulins-lès-Metz', insee: '57487', lat: 49.1036, lon: 6.1078 },
  { id: 'saint-julien-les-metz', name: 'Saint-Julien-lès-Metz', insee: '57616', lat: 49.1328, lon: 6.2031 },
] as const;

const STREETS: Record<string, string[]> = {
  metz: [
    'Rue Serpenoise',
    'Rue des Allemands',
    'Avenue Foch',
    'Rue Mazelle',
    'Quai Félix Maréchal',
    'Rue du Pont des Morts',
    'Boulevard Paixhans',
    'Rue Taison',
    'Place de la République',
    'Rue aux Arènes',
    'Rue Haute Seille',
    'Chemin de la Moselle',
  ],
  'montigny-les-metz': [
    'Rue de Pont-à-Mousson',
    'Rue Franiatte',
    'Avenue de Nancy',
    'Rue Saint-Ladre',
    'Rue des Loges',
    'Allée du Parc',
  ],
  woippy: [
    'Rue de Briey',
    'Route de Thionville',
    'Rue du Fort Gambetta',
    'Place de l’Hôtel de Ville',
    'Rue de Lorry',
    'Chemin des Vignes',
  ],
  marly: [
    'Rue de Metz',
    'Rue des Écoles',
    'Rue de Cuvry',
    'Avenue des Cèdres',
    'Rue de la Seille',
    'Parking du Stade',
  ],
  'moulins-les-metz': [
    'Rue du Général de Gaulle',
    'Rue de Jussy',
    'Rue de la Gare',
    'Chemin du Halage',
    'Rue Saint-Pierre',
    'Allée des Peupliers',
  ],
  'saint-julien-les-metz': [
    'Rue de Vallières',
    'Rue du Fort',
    'Rue Jean Burger',
    'Chemin de Grimont',
    'Rue de Noisseville',
    'Sentier du Château',
  ],
};

const BUILDINGS: { commune: string; id: string; name: string; kind: string }[] = [
  { commune: 'metz', id: 'metz-ecole-jules-ferry', name: 'École élémentaire Jules Ferry', kind: 'school' },
  { commune: 'metz', id: 'metz-hotel-de-ville', name: 'Hôtel de Ville de Metz', kind: 'town_hall' },
  { commune: 'montigny-les-metz', id: 'montigny-piscine', name: 'Piscine municipale', kind: 'pool' },
  { commune: 'woippy', id: 'woippy-gymnase-pergaud', name: 'Gymnase Louis Pergaud', kind: 'gym' },
  { commune: 'marly', id: 'marly-mediatheque', name: 'Médiathèque de Marly', kind: 'library' },
  {
    commune: 'moulins-les-metz',
    id: 'moulins-ecole-maternelle',
    name: 'École maternelle du Centre',
    kind: 'school',
  },
  {
    commune: 'saint-julien-les-metz',
    id: 'saint-julien-mairie',
    name: 'Mairie de Saint-Julien',
    kind: 'town_hall',
  },
];

/** Demo tokens: public on purpose, so the README can show each kind of user how to get in. */
export const DEMO_USERS = [
  { id: 'admin', role: 'admin', communes: ['*'], token: 'demo-admin' },
  {
    id: 'eclairage-metz',
    name: 'Service éclairage, Metz',
    role: 'lighting-manager',
    communes: ['metz'],
    token: 'demo-lighting-metz',
  },
  {
    id: 'eclairage-sud',
    name: 'Éclairage Montigny, Marly, Moulins',
    role: 'lighting-manager',
    communes: ['montigny-les-metz', 'marly', 'moulins-les-metz'],
    token: 'demo-lighting-sud',
  },
  {
    id: 'police-metz',
    name: 'Police municipale de Metz',
    role: 'emergency',
    communes: ['metz'],
    token: 'demo-police-metz',
  },
  { id: 'sdis-57', name: 'SDIS 57 (pompiers)', role: 'emergency', communes: ['*'], token: 'demo-sdis57' },
  {
    id: 'energie-emm',
    name: 'Économe de flux, Eurométropole',
    role: 'energy-manager',
    communes: ['*'],
    token: 'demo-energy',
  },
  {
    id: 'elu-woippy',
    name: 'Élu de Woippy',
    role: 'viewer',
    communes: ['woippy'],
    token: 'demo-viewer-woippy',
  },
] as const;

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

export function buildTerritory(options: TerritoryOptions): Input {
  const host = options.host ?? '127.0.0.1';
  const communes = PILOT_COMMUNES.slice(0, options.communes ?? 6);
  const modbusCount = options.modbusControllers ?? options.modbusPorts.length;
  const opcuaCount = options.opcuaControllers ?? options.opcuaPorts.length;
  const perController = options.luminairesPerController ?? 45;
  const zonesPerController = Math.min(options.zonesPerController ?? 2, perController);
  if (options.modbusPorts.length < modbusCount || options.opcuaPorts.length < opcuaCount) {
    throw new Error('buildTerritory: one port per controller is needed');
  }

  const devices: DeviceInput[] = [];
  const zones: ZoneInput[] = [];
  const sensors: SensorInput[] = [];
  const controllerCount = modbusCount + opcuaCount;
  const streetIndex = new Map<string, number>();

  for (let i = 0; i < controllerCount; i++) {
    const commune = communes[i % communes.length];
    const isOpcua = i >= modbusCount;
    const n = isOpcua ? i - modbusCount : i;
    const id = `${shortName(commune.id)}-${isOpcua ? 'ua' : 'sc'}-${String(n + 1).padStart(2, '0')}`;
    const lighting = {
      channels: perController,
      map: isOpcua ? 'nocturne-ua-sc-v1' : 'nocturne-sc-v1',
      fail_safe_level: 100,
      watchdog_s: 300,
    };
    devices.push(
      isOpcua
        ? {
            id,
            name: `Armoire ${id} (OPC UA)`,
            commune: commune.id,
            protocol: 'opcua',
            endpoint: `opc.tcp://${host}:${options.opcuaPorts[n]}/nocturne`,
            timeout_ms: 2000,
            lighting,
          }
        : {
            id,
            name: `Armoire ${id}`,
            commune: commune.id,
            protocol: 'modbus-tcp',
            host,
            port: options.modbusPorts[n],
            unit_id: 1,
            // The controller answers requests in order, several in flight (docs/register-map.md): a
            // write of 250 levels (3 write-multiples) or its read-back (2 reads) is one round trip.
            concurrency: 4,
            timeout_ms: 1000,
            lighting,
          },
    );

    // The controller's channels are shared out between its streets, in order along each street.
    let channel = 1;
    for (let z = 0; z < zonesPerController; z++) {
      const count =
        Math.floor(perController / zonesPerController) + (z < perController % zonesPerController ? 1 : 0);
      const streets = STREETS[commune.id];
      const k = streetIndex.get(commune.id) ?? 0;
      streetIndex.set(commune.id, k + 1);
      const street = streets[k % streets.length];
      const round = Math.floor(k / streets.length);
      const zoneId = `${shortName(commune.id)}-${slug(street)}${round > 0 ? `-${round + 1}` : ''}`;
      const origin = {
        lat: commune.lat + 0.004 * Math.sin(k * 1.7),
        lon: commune.lon + 0.006 * Math.cos(k * 1.3),
      };
      const heading = (k * 47) % 360;
      const luminaires = Array.from({ length: count }, (_, j) => ({
        id: `${zoneId}-${String(j + 1).padStart(3, '0')}`,
        power_w: [35, 45, 60, 70][(j + k) % 4],
        device: id,
        channel: channel + j,
        position: along(origin, heading, j * 28),
      }));
      channel += count;
      zones.push({
        id: zoneId,
        commune: commune.id,
        name: round > 0 ? `${street} (${round + 1})` : street,
        location: { lat: round4(origin.lat), lon: round4(origin.lon) },
        calendar: `${shortName(commune.id)}-calendrier`,
        luminaires,
      });
      for (let s = 0; s < (options.presenceSensorsPerZone ?? 1) && s < count; s++) {
        const at = luminaires[Math.floor(((s + 0.5) * count) / (options.presenceSensorsPerZone ?? 1))];
        const sensorId = `${zoneId}-radar-${s + 1}`;
        const ttn = (k + s) % 2 === 0;
        sensors.push({
          id: sensorId,
          zone: zoneId,
          topic: ttn
            ? `lorawan/${commune.id}/devices/${sensorId}/up`
            : `capteurs/${commune.id}/${sensorId}/presence`,
          ...(ttn ? { class_path: 'uplink_message.decoded_payload.class' } : {}),
          at: at.id,
          ahead: 3,
          behind: 2,
          hold_s: 60,
          fade_s: 10,
        });
      }
    }
  }

  const buildings =
    options.buildings === false
      ? []
      : buildBuildings(
          communes.map((c) => c.id),
          options,
          host,
          devices,
        );

  const lorawan = options.sensors !== true ? undefined : demoSensors(communes.map((c) => c.id));

  return {
    version: 1,
    site: {
      name: 'Eurométropole de Metz — territoire de démonstration',
      timezone: 'Europe/Paris',
      location: { lat: 49.1193, lon: 6.1757 },
    },
    service: {
      instance: 'nocturne-demo',
      state_dir: options.stateDir ?? './var/demo',
      log_level: 'info',
      log_format: 'json',
    },
    http: { host: '127.0.0.1', port: options.httpPort ?? 8080 },
    mqtt: options.mqttUrl
      ? { url: options.mqttUrl, base_topic: 'nocturne' }
      : {
          embedded_host: '127.0.0.1',
          embedded_port: options.embeddedMqttPort ?? 1883,
          base_topic: 'nocturne',
        },
    ...(options.influx ? { influx: options.influx } : {}),
    communes: communes.map(({ id, name, insee }) => ({ id, name, insee })),
    register_maps: [REGISTER_MAP_V1],
    node_maps: [NODE_MAP_V1],
    devices: [...devices, ...(lorawan?.devices ?? [])],
    programs: PROGRAMS,
    calendars: communes.map((c) => calendarFor(c.id)),
    zones,
    presence_sensors: sensors,
    buildings,
    ...(lorawan ? { sensor_models: lorawan.sensor_models, sensors: lorawan.sensors } : {}),
    tariffs: DEMO_TARIFFS,
    emission_factors: DEMO_EMISSION_FACTORS,
    ...(options.alerts === false
      ? {}
      : {
          alerts: {
            rules: demoAlertRules({
              buildings: buildings.length > 0,
              metzStations: communes.some((c) => c.id === 'metz') && buildings.length > 0,
              riverGauges: (lorawan?.sensors ?? []).filter((s) => s.model === 'limnimetre').map((s) => s.id),
            }),
          },
        }),
    open_data: { datasets: DEMO_OPEN_DATA },
    users: DEMO_USERS.filter((u) =>
      u.communes.every((c) => c === '*' || communes.some((k) => k.id === c)),
    ).map(({ token, ...user }) => ({
      ...user,
      communes: [...user.communes],
      token_sha256: sha256Hex(token),
    })),
  };
}

/**
 * One rule of each kind the municipalities asked for, as configuration: a leak at night, lights and
 * heating left on in closed buildings, street lamps burning by day, silent points and devices, lamp
 * failures, the Moselle rising and a traffic cabinet opened.
 */
function demoAlertRules(has: {
  buildings: boolean;
  metzStations: boolean;
  riverGauges: string[];
}): NonNullable<NonNullable<Input['alerts']>['rules']> {
  const buildingRules: NonNullable<NonNullable<Input['alerts']>['rules']> = [
    {
      id: 'fuite-nocturne',
      name: 'Fuite d’eau (débit nocturne)',
      kind: 'night-flow',
      scope: { quantities: ['water_flow'] },
      from: '01:00',
      to: '05:00',
      above: 0.05,
      for_s: 1800,
    },
    {
      id: 'eclairage-hors-horaires',
      name: 'Éclairage intérieur allumé hors des heures d’ouverture',
      kind: 'outside-opening-hours',
      scope: { quantities: ['lights_on'] },
      grace_min: 45,
      for_s: 900,
    },
  ];
  return [
    ...(has.buildings ? buildingRules : []),
    {
      id: 'lampadaire-de-jour',
      name: 'Éclairage public allumé de jour',
      kind: 'lamp-by-day',
      sun_altitude_deg: 5,
      for_s: 1800,
    },
    {
      id: 'point-muet',
      name: 'Point de mesure muet',
      kind: 'stale',
    },
    {
      id: 'lampe-en-panne',
      name: 'Lampe en panne',
      kind: 'lamp-failure',
      for_s: 300,
    },
    {
      id: 'lampe-clignotante',
      name: 'Lampe qui s’allume et s’éteint',
      kind: 'lamp-cycling',
      transitions: 6,
      window_s: 900,
    },
    {
      id: 'niveaux-discordants',
      name: 'Niveaux commandé, appliqué et mesuré en désaccord',
      kind: 'level-mismatch',
      tolerance: 2,
      for_s: 600,
    },
    {
      id: 'equipement-injoignable',
      name: 'Équipement injoignable',
      kind: 'device-unreachable',
      for_s: 120,
    },
    {
      id: 'telemetrie',
      name: 'Stockage des mesures',
      kind: 'telemetry-storage',
    },
    ...(has.metzStations
      ? [
          {
            id: 'crue-moselle',
            name: 'Moselle en crue',
            kind: 'threshold' as const,
            severity: 'critical' as const,
            scope: { points: ['metz-moselle-pont-des-morts/niveau-moselle'] },
            above: 3.5,
            hysteresis: 0.2,
            for_s: 300,
          },
          {
            id: 'porte-armoire',
            name: 'Porte d’armoire ouverte',
            kind: 'threshold' as const,
            scope: { quantities: ['door_open'] },
            above: 0.5,
            for_s: 60,
            message: 'Porte ouverte : {building}',
          },
          {
            id: 'porte-armoire-nuit',
            name: 'Porte d’armoire ouverte la nuit',
            kind: 'threshold' as const,
            severity: 'critical' as const,
            scope: { quantities: ['door_open'] },
            above: 0.5,
            for_s: 60,
            when: { from: { sun: 'dusk' as const, offset_min: 30 }, to: { sun: 'dawn' as const } },
            message: 'Porte ouverte de nuit : {building}',
          },
          {
            id: 'montee-moselle',
            name: 'Montée rapide de la Moselle',
            kind: 'rate-of-change' as const,
            severity: 'critical' as const,
            scope: { points: ['metz-moselle-pont-des-morts/niveau-moselle'] },
            direction: 'rise' as const,
            per_hour: 0.2,
            over_min: 30,
            hysteresis: 0.05,
          },
        ]
      : []),
    ...(has.riverGauges.length > 0
      ? [
          {
            id: 'crue-limnimetres',
            name: 'Montée des eaux (limnimètres LoRaWAN)',
            kind: 'threshold' as const,
            severity: 'critical' as const,
            scope: { points: has.riverGauges.map((id) => `${id}/niveau`) },
            above: 1.8,
            hysteresis: 0.1,
            for_s: 300,
          },
          {
            id: 'montee-limnimetres',
            name: 'Montée rapide des eaux (limnimètres LoRaWAN)',
            kind: 'rate-of-change' as const,
            severity: 'critical' as const,
            scope: { points: has.riverGauges.map((id) => `${id}/niveau`) },
            direction: 'rise' as const,
            per_hour: 0.2,
            over_min: 30,
            hysteresis: 0.05,
          },
        ]
      : []),
    {
      id: 'commande-non-appliquee',
      name: 'Rallumage ou forçage non appliqué',
      kind: 'lighting-command-failed',
      scope: { commands: ['relight', 'override'] },
    },
  ];
}

/** What the demo publishes as open data (docs/exports.md): one dataset per source. */
const DEMO_OPEN_DATA: NonNullable<NonNullable<Input['open_data']>['datasets']> = [
  {
    id: 'consommations-batiments',
    title: 'Consommations quotidiennes des bâtiments publics',
    description:
      'Électricité, gaz et eau consommés chaque jour par les bâtiments communaux, par bâtiment et type de compteur.',
    source: 'building-energy',
    licence: 'licence-ouverte-2.0',
    frequency: 'daily',
    keywords: ['énergie', 'bâtiments publics', 'consommation'],
    quantities: ['electricity', 'gas', 'water'],
  },
  {
    id: 'eclairage-public',
    title: 'Éclairage public : énergie et heures d’allumage par zone',
    description:
      'Énergie consommée et heures d’allumage moyennes des luminaires, par zone d’éclairage et par jour.',
    source: 'lighting-zones',
    licence: 'odbl-1.0',
    frequency: 'daily',
    keywords: ['éclairage public', 'énergie', 'sobriété'],
  },
  {
    id: 'environnement',
    title: 'Mesures environnementales quotidiennes',
    description:
      'Moyenne, minimum et maximum quotidiens des capteurs de température, de qualité de l’air et de bruit, par site.',
    source: 'environment',
    licence: 'licence-ouverte-2.0',
    frequency: 'daily',
    keywords: ['environnement', 'qualité de l’air', 'température', 'bruit'],
    quantities: ['temperature', 'no2', 'pm2_5', 'noise_laeq'],
  },
];

/** Illustrative figures: each municipality puts its own contract prices here. */
const DEMO_TARIFFS: NonNullable<Input['tariffs']> = [
  {
    quantity: 'electricity',
    unit: 'kWh',
    eur_per_unit: 0.2276,
    from: '2025-02-01',
    source: 'exemple : tarif bleu C5, collectivité',
  },
  {
    quantity: 'water',
    unit: 'm³',
    eur_per_unit: 4.3,
    from: '2025-01-01',
    source: 'exemple : eau et assainissement, Metz Métropole',
  },
  {
    quantity: 'gas',
    unit: 'kWh',
    eur_per_unit: 0.105,
    from: '2025-01-01',
    source: 'exemple : offre de marché',
  },
];

const DEMO_EMISSION_FACTORS: NonNullable<Input['emission_factors']> = [
  {
    quantity: 'electricity',
    unit: 'kWh',
    kg_co2e_per_unit: 0.052,
    from: '2022-01-01',
    year: 2022,
    source: 'ADEME Base Empreinte, électricité France continentale, mix moyen, consommation',
  },
  {
    quantity: 'water',
    unit: 'm³',
    kg_co2e_per_unit: 0.132,
    from: '2022-01-01',
    year: 2022,
    source: 'ADEME Base Empreinte, eau potable du réseau',
  },
  {
    quantity: 'gas',
    unit: 'kWh',
    kg_co2e_per_unit: 0.227,
    from: '2022-01-01',
    year: 2022,
    source: 'ADEME Base Empreinte, gaz naturel, combustion et amont (PCI)',
  },
];

export const NODE_MAP_V1 = {
  id: 'nocturne-ua-sc-v1',
  description: 'nocturne segment controller, OPC UA node map v1',
  level_max_raw: 100,
  commanded_level: 'ns=1;s={device}.L{channel}.CommandedLevel',
  in_effect_level: 'ns=1;s={device}.L{channel}.InEffectLevel',
  output_level: 'ns=1;s={device}.L{channel}.OutputLevel',
  power_w: 'ns=1;s={device}.L{channel}.PowerW',
  energy_wh: 'ns=1;s={device}.L{channel}.EnergyWh',
  lamp_status: 'ns=1;s={device}.L{channel}.LampStatus',
  fade_s: 'ns=1;s={device}.L{channel}.FadeS',
  watchdog_s: 'ns=1;s={device}.WatchdogS',
  fail_safe_level: 'ns=1;s={device}.FailSafeLevel',
  boot_count: 'ns=1;s={device}.BootCount',
} as const;

const PROGRAMS: NonNullable<Input['programs']> = [
  {
    id: 'extinction-1h-5h',
    name: 'Extinction en cœur de nuit (1 h - 5 h)',
    steps: [
      { at: 'dusk', level: 100 },
      { at: '22:30', level: 70 },
      { at: '01:00', level: 0 },
      { at: '05:00', level: 70 },
      { at: 'dawn', level: 0 },
    ],
  },
  {
    id: 'abaissement',
    name: 'Abaissement sans extinction',
    steps: [
      { at: 'dusk', level: 100 },
      { at: '22:00', level: 70 },
      { at: '00:00', level: 40 },
      { at: '05:30', level: 70 },
      { at: 'dawn', level: 0 },
    ],
  },
  {
    id: 'week-end',
    name: 'Nuits du vendredi et du samedi',
    steps: [
      { at: 'dusk', level: 100 },
      { at: '00:00', level: 70 },
      { at: '02:00', level: 0 },
      { at: '05:00', level: 70 },
      { at: 'dawn', level: 0 },
    ],
  },
  {
    id: 'nuit-complete',
    name: 'Pleine lumière toute la nuit (fêtes)',
    steps: [
      { at: 'dusk', level: 100 },
      { at: 'dawn', level: 0 },
    ],
  },
];

function calendarFor(commune: string): NonNullable<Input['calendars']>[number] {
  const rules: NonNullable<NonNullable<Input['calendars']>[number]['rules']> = [
    { name: 'Fête nationale', dates: ['07-13', '07-14'], program: 'nuit-complete' },
    { name: 'Saint-Sylvestre', dates: ['12-31'], program: 'nuit-complete' },
  ];
  if (commune === 'metz')
    rules.push({ name: 'Marché de Noël', from: '11-21', to: '12-30', program: 'abaissement' });
  rules.push(
    { name: 'Jours fériés (Alsace-Moselle)', holidays: 'fr-alsace-moselle', program: 'abaissement' },
    { name: 'Vendredi et samedi', weekdays: ['fri', 'sat'], program: 'week-end' },
  );
  return {
    id: `${shortName(commune)}-calendrier`,
    name: `Calendrier de ${commune}`,
    default: commune === 'metz' ? 'abaissement' : 'extinction-1h-5h',
    rules,
  };
}

function buildBuildings(
  communeIds: string[],
  options: TerritoryOptions,
  host: string,
  devices: DeviceInput[],
): BuildingInput[] {
  const chosen = BUILDINGS.filter((b) => communeIds.includes(b.commune));
  if (chosen.length === 0) return [];
  const bms = 'bms-emm';
  const gateway = 'compteurs-emm';
  devices.push({
    id: bms,
    name: 'GTB des bâtiments (OPC UA)',
    protocol: 'opcua',
    endpoint: `opc.tcp://${host}:${options.bmsPort ?? 4840}/nocturne`,
    timeout_ms: 2000,
  });
  const buildings: BuildingInput[] = chosen.map((b, i) => {
    const unit = i + 1;
    const meterDevice = `${gateway}-${unit}`;
    devices.push({
      id: meterDevice,
      name: `Compteurs ${b.name} (passerelle Modbus, esclave ${unit})`,
      protocol: 'modbus-tcp',
      host,
      port: options.meterGatewayPort ?? 15500,
      unit_id: unit,
      timeout_ms: 1000,
    });
    const rooms = ROOMS[b.kind] ?? ['hall'];
    const points: PointInput[] = [
      ...rooms.map((room) => ({
        id: `${room}-temperature`,
        name: `Température ${room}`,
        measurement: 'sensor' as const,
        quantity: 'temperature',
        unit: '°C',
        room,
        device: bms,
        opcua: {
          node_id: `ns=1;s=${b.id}.${room}.Temperature`,
          sampling_ms: 5000,
          deadband: { type: 'absolute' as const, value: 0.1 },
        },
      })),
      {
        id: 'eclairage-interieur',
        name: 'Éclairage intérieur allumé',
        measurement: 'sensor',
        quantity: 'lights_on',
        unit: '',
        room: rooms[0],
        device: bms,
        opcua: { node_id: `ns=1;s=${b.id}.${rooms[0]}.LightsOn`, sampling_ms: 1000 },
      },
      {
        id: 'electricite',
        name: 'Compteur électrique général',
        measurement: 'meter',
        quantity: 'electricity',
        unit: 'kWh',
        device: meterDevice,
        modbus: { table: 'holding', address: 0, type: 'uint32', scale: 0.1, period_s: 60 },
      },
      {
        id: 'puissance',
        name: 'Puissance appelée',
        measurement: 'sensor',
        quantity: 'power',
        unit: 'kW',
        device: meterDevice,
        modbus: { table: 'holding', address: 2, type: 'float32', period_s: 10 },
      },
      {
        id: 'eau',
        name: 'Compteur d’eau',
        measurement: 'meter',
        quantity: 'water',
        unit: 'm³',
        device: meterDevice,
        modbus: { table: 'holding', address: 4, type: 'uint32', scale: 0.001, period_s: 60 },
      },
      {
        id: 'debit-eau',
        name: 'Débit d’eau',
        measurement: 'sensor',
        quantity: 'water_flow',
        unit: 'm³/h',
        device: meterDevice,
        modbus: { table: 'input', address: 0, type: 'int16', scale: 0.01, period_s: 30 },
      },
    ];
    if (b.kind === 'pool') {
      points.push({
        id: 'bassin-temperature',
        name: 'Température du bassin',
        measurement: 'sensor',
        quantity: 'water_temperature',
        unit: '°C',
        room: 'bassin',
        device: bms,
        opcua: { node_id: `ns=1;s=${b.id}.bassin.WaterTemperature`, sampling_ms: 10000 },
      });
    }
    return {
      id: b.id,
      commune: b.commune,
      name: b.name,
      kind: b.kind,
      opening_hours: OPENING_HOURS[b.kind] ?? OPENING_HOURS.town_hall,
      points,
    };
  });
  if (communeIds.includes('metz')) {
    // Two use cases the municipalities asked for, added as configuration only: a flood gauge and a cabinet door.
    devices.push({
      id: 'capteurs-terrain',
      name: 'Passerelle capteurs de terrain',
      protocol: 'modbus-tcp',
      host,
      port: options.meterGatewayPort ?? 15500,
      unit_id: 50,
      timeout_ms: 1000,
    });
    buildings.push({
      id: 'metz-moselle-pont-des-morts',
      commune: 'metz',
      name: 'Station de mesure de la Moselle, pont des Morts',
      kind: 'river_station',
      points: [
        {
          id: 'niveau-moselle',
          name: 'Niveau de la Moselle',
          measurement: 'sensor',
          quantity: 'water_level',
          unit: 'm',
          device: 'capteurs-terrain',
          modbus: { table: 'input', address: 0, type: 'int16', scale: 0.01, period_s: 60 },
        },
      ],
    });
    buildings.push({
      id: 'metz-armoire-feux-foch',
      commune: 'metz',
      name: 'Armoire de feux tricolores, avenue Foch',
      kind: 'traffic_cabinet',
      points: [
        {
          id: 'porte',
          name: 'Contact de porte',
          measurement: 'sensor',
          quantity: 'door_open',
          unit: '',
          device: 'capteurs-terrain',
          modbus: { table: 'discrete', address: 0, type: 'bool', period_s: 5 },
        },
        {
          id: 'temperature',
          name: 'Température armoire',
          measurement: 'sensor',
          quantity: 'temperature',
          unit: '°C',
          device: 'capteurs-terrain',
          modbus: { table: 'input', address: 10, type: 'int16', scale: 0.1, period_s: 60 },
        },
        {
          id: 'tension',
          name: 'Tension secteur',
          measurement: 'sensor',
          quantity: 'voltage',
          unit: 'V',
          device: 'capteurs-terrain',
          modbus: { table: 'input', address: 11, type: 'uint16', scale: 0.1, period_s: 60 },
        },
      ],
    });
  }
  return buildings;
}

const ROOMS: Record<string, string[]> = {
  school: ['classe-cp', 'classe-ce1', 'cantine'],
  town_hall: ['accueil', 'salle-du-conseil', 'bureaux'],
  pool: ['hall', 'vestiaires'],
  gym: ['salle', 'vestiaires'],
  library: ['salle-lecture', 'accueil'],
};

const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const OPENING_HOURS: Record<string, BuildingInput['opening_hours']> = {
  school: [
    { days: ['mon', 'tue', 'thu', 'fri'], from: '08:00', to: '17:30' },
    { days: ['wed'], from: '08:00', to: '12:00' },
  ],
  town_hall: [
    { days: [...weekdays], from: '08:30', to: '17:30' },
    { days: ['sat'], from: '09:00', to: '12:00' },
  ],
  pool: [{ days: ['tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '10:00', to: '20:00' }],
  gym: [
    { days: [...weekdays], from: '08:00', to: '22:00' },
    { days: ['sat'], from: '09:00', to: '18:00' },
  ],
  library: [
    { days: ['tue', 'wed', 'fri'], from: '10:00', to: '18:00' },
    { days: ['sat'], from: '10:00', to: '17:00' },
  ],
};

function shortName(commune: string): string {
  return commune.replace('-les-metz', '').replace('saint-', 'st-');
}

function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(
      /^(rue|avenue|boulevard|quai|place|chemin|allee|route|sentier|parking) (de la |des |du |de l’|de l'|de |d’|aux |la |le )?/,
      '',
    )
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** A point `metres` away along a compass heading: luminaires every ~28 m along a street. */
function along(
  origin: { lat: number; lon: number },
  headingDeg: number,
  metres: number,
): { lat: number; lon: number } {
  const rad = (headingDeg * Math.PI) / 180;
  const dLat = (metres * Math.cos(rad)) / 111_320;
  const dLon = (metres * Math.sin(rad)) / (111_320 * Math.cos((origin.lat * Math.PI) / 180));
  return { lat: round6(origin.lat + dLat), lon: round6(origin.lon + dLon) };
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
