import type { CounterStep } from '../../../controller/telemetry/counters';
import type { CatalogPoint } from '../../../controller/telemetry/points';
import type { LightingReported, LuminaireReport } from '../../../controller/lighting/runtime/events';
import { ConfigSchema, type Config, type ConfigInput } from '../../../config/schema';

/** Monday 12 January 2026, 00:00 in Paris (UTC+1). */
export const MONDAY = Date.parse('2026-01-12T00:00:00+01:00');
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** Paris wall time on a January day of 2026 (UTC+1). */
export const paris = (date: string, time: string): number => Date.parse(`${date}T${time}:00+01:00`);

type AlertRuleInput = NonNullable<NonNullable<ConfigInput['alerts']>['rules']>[number];

/**
 * A small site for the energy tests: a school in Metz with a water meter, a flow sensor, lights and a
 * temperature on a Modbus gateway and an OPC UA BMS, a street cabinet in Woippy, and a zone of three
 * luminaires on a segment controller.
 */
export function energyConfig(rules: AlertRuleInput[] = [], more: Partial<ConfigInput> = {}): Config {
  return ConfigSchema.parse({
    version: 1,
    site: { name: 'test', timezone: 'Europe/Paris', location: { lat: 49.12, lon: 6.18 } },
    communes: [
      { id: 'metz', name: 'Metz' },
      { id: 'woippy', name: 'Woippy' },
    ],
    devices: [
      { id: 'gw', protocol: 'modbus-tcp', host: '127.0.0.1', port: 1502, unit_id: 1 },
      { id: 'bms', protocol: 'opcua', endpoint: 'opc.tcp://127.0.0.1:4840/x' },
      {
        id: 'sc',
        commune: 'metz',
        protocol: 'modbus-tcp',
        host: '127.0.0.1',
        port: 1503,
        lighting: { channels: 3, map: 'm' },
      },
    ],
    buildings: [
      {
        id: 'ecole',
        commune: 'metz',
        name: 'École Jules Ferry',
        kind: 'school',
        opening_hours: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '17:30' }],
        points: [
          {
            id: 'debit',
            name: 'Débit d’eau',
            measurement: 'sensor',
            quantity: 'water_flow',
            unit: 'm³/h',
            device: 'gw',
            modbus: { address: 0, type: 'int16', scale: 0.01, period_s: 60 },
          },
          {
            id: 'eau',
            name: 'Compteur d’eau',
            measurement: 'meter',
            quantity: 'water',
            unit: 'm³',
            device: 'gw',
            modbus: { address: 2, type: 'uint32', scale: 0.001, period_s: 60 },
          },
          {
            id: 'lumiere',
            name: 'Éclairage intérieur',
            measurement: 'sensor',
            quantity: 'lights_on',
            room: 'hall',
            device: 'bms',
            opcua: { node_id: 'ns=1;s=ecole.hall.LightsOn' },
          },
          {
            id: 'temperature',
            measurement: 'sensor',
            quantity: 'temperature',
            unit: '°C',
            room: 'hall',
            device: 'bms',
            opcua: { node_id: 'ns=1;s=ecole.hall.Temperature', sampling_ms: 5000 },
          },
        ],
      },
      {
        id: 'armoire',
        commune: 'woippy',
        kind: 'traffic_cabinet',
        points: [
          {
            id: 'porte',
            measurement: 'sensor',
            quantity: 'door_open',
            device: 'gw',
            modbus: { table: 'discrete', address: 0, type: 'bool', period_s: 5 },
          },
        ],
      },
    ],
    zones: [
      {
        id: 'rue',
        commune: 'metz',
        name: 'Rue Serpenoise',
        calendar: 'cal',
        location: { lat: 49.12, lon: 6.18 },
        luminaires: [1, 2, 3].map((c) => ({
          id: `rue-00${c}`,
          power_w: 60,
          device: 'sc',
          channel: c,
          position: { lat: 49.12, lon: 6.18 },
        })),
      },
    ],
    alerts: { rules },
    ...more,
  });
}

/** A sample for a catalog point, as a driver delivers it, with its line made and returned. */
export function feed(
  point: CatalogPoint,
  value: number | boolean | null,
  at: number,
  quality: 'good' | 'uncertain' | 'bad' = value === null ? 'bad' : 'good',
): string {
  const step: CounterStep = { event: 'first', delta: Number.NaN, rate: Number.NaN };
  return point.ingest({ key: point.key, value, quality, time: at }, at, step);
}

export function luminaire(id: string, over: Partial<LuminaireReport> = {}): LuminaireReport {
  return {
    luminaire: id,
    zone: 'rue',
    commune: 'metz',
    level: 100,
    inEffect: 100,
    output: 100,
    priority: 16,
    source: 'schedule',
    powerW: 60,
    energyWh: 0,
    baselineWh: 0,
    burnS: 0,
    lampStatus: 0,
    estimated: false,
    ...over,
  };
}

export function report(at: number, luminaires: LuminaireReport[]): LightingReported {
  return { at, kind: 'change', luminaires };
}
