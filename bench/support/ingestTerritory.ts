import type { ConfigInput } from '../../config/schema';

type PointInput = NonNullable<NonNullable<ConfigInput['buildings']>[number]['points']>[number];

export interface IngestTerritoryOptions {
  /** Modbus TCP meter gateways, each on its own port, each with its building. */
  ports: number[];
  pointsPerDevice: number;
  periodS: number;
  influxUrl: string;
  bucket: string;
  stateDir: string;
  batchSize: number;
}

/** Quantities the simulators model cheaply (smooth noise), as a gateway of cabinets would report them. */
const SENSORS = [
  { quantity: 'voltage', unit: 'V', scale: 0.1 },
  { quantity: 'current', unit: 'A', scale: 0.01 },
  { quantity: 'frequency', unit: 'Hz', scale: 0.01 },
  { quantity: 'power', unit: 'kW', scale: 0.001 },
] as const;
/** One point in ten is an energy meter (uint32 index). */
const METER_EVERY = 10;

/**
 * The benchmark's territory: meter gateways with thousands of points each, on consecutive registers so
 * that the driver reads them 125 registers at a time, all polled at a short period. The buildings have
 * no opening hours (street cabinets): their model is the cheapest the simulators have.
 */
export function ingestTerritory(options: IngestTerritoryOptions): ConfigInput {
  const devices: NonNullable<ConfigInput['devices']> = [];
  const buildings: NonNullable<ConfigInput['buildings']> = [];
  options.ports.forEach((port, d) => {
    const device = `passerelle-${String(d + 1).padStart(3, '0')}`;
    devices.push({
      id: device,
      protocol: 'modbus-tcp',
      host: '127.0.0.1',
      port,
      unit_id: 1,
      timeout_ms: 2000,
    });
    const points: PointInput[] = [];
    let address = 0;
    for (let p = 0; p < options.pointsPerDevice; p++) {
      const id = `p${String(p).padStart(5, '0')}`;
      if (p % METER_EVERY === METER_EVERY - 1) {
        points.push({
          id,
          measurement: 'meter',
          quantity: 'electricity',
          unit: 'kWh',
          device,
          modbus: { table: 'holding', address, type: 'uint32', scale: 0.1, period_s: options.periodS },
        });
        address += 2;
      } else {
        const sensor = SENSORS[p % SENSORS.length];
        points.push({
          id,
          measurement: 'sensor',
          quantity: sensor.quantity,
          unit: sensor.unit,
          device,
          modbus: {
            table: 'holding',
            address,
            type: 'uint16',
            scale: sensor.scale,
            period_s: options.periodS,
          },
        });
        address += 1;
      }
    }
    buildings.push({
      id: `armoire-${String(d + 1).padStart(3, '0')}`,
      commune: 'metz',
      kind: 'street_cabinet',
      points,
    });
  });
  return {
    version: 1,
    site: { name: 'ingest benchmark', timezone: 'Europe/Paris', location: { lat: 49.1193, lon: 6.1757 } },
    service: {
      instance: 'bench-ingest',
      state_dir: options.stateDir,
      log_level: 'warn',
      shutdown_timeout_s: 30,
    },
    influx: {
      url: options.influxUrl,
      bucket: options.bucket,
      batch_size: options.batchSize,
      flush_ms: 1000,
      gzip: true,
    },
    communes: [{ id: 'metz', name: 'Metz' }],
    devices,
    buildings,
  };
}
