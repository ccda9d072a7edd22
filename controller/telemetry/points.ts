import type { BuildingConfig, Config, PointConfig, TelemetryConfig } from '../../config/schema';
import { fieldKey, seriesKey } from '../../drivers/influx/lineProtocol';
import type { PointRef, Quality, Sample } from '../../drivers/driver';
import { compilePath } from '../../drivers/mqtt/uplinks';
import {
  counterStep,
  newCounterState,
  type CounterSpec,
  type CounterState,
  type CounterStep,
} from './counters';

/**
 * Every configured building point, prepared once for the hot path: its PointRef, its label for errors,
 * its series key and line prefixes (escaping and tag sorting done here, never per sample), its counter
 * settings, and its latest state. A sample then becomes a line by concatenation only.
 */

/** An HTTP document's default period (the schema's), for a catalog built without its devices. */
const DEFAULT_HTTP_PERIOD_MS = 600_000;

/** PointRef keys of building points start with this, so they never meet the lighting runtime's keys. */
export const POINT_KEY_PREFIX = 'point:';

const HOUR_MS = 3_600_000;
/** Hourly consumption buckets kept per meter: the last 24 hours and the current one. */
const BUCKETS = 25;

const QUALITY_FIELD: Readonly<Record<Quality, string>> = {
  good: ',quality="good" ',
  uncertain: ',quality="uncertain" ',
  bad: ',quality="bad" ',
};
const QUALITY_ONLY: Readonly<Record<Quality, string>> = {
  good: ' quality="good" ',
  uncertain: ' quality="uncertain" ',
  bad: ' quality="bad" ',
};

export class CatalogPoint {
  /** Position in the catalog; alert rules index their state by it. */
  readonly index: number;
  readonly key: string;
  /** 'building/point', as alerts, programs and the API name it. */
  readonly source: string;
  readonly buildingId: string;
  readonly config: PointConfig;
  readonly commune: string;
  readonly label: string;
  readonly ref: PointRef;
  /** Polling period (Modbus) or sampling interval (OPC UA). */
  readonly periodMs: number;
  /** OPC UA monitored items report changes only: silence means "unchanged" while the device is up. */
  readonly byException: boolean;
  readonly staleAfterMs: number;
  readonly counter: CounterSpec | undefined;
  private readonly valuePrefix: string;
  private readonly qualityPrefix: string;

  /** Latest value (meters: the index), as read. */
  value: number | boolean | undefined = undefined;
  quality: Quality | undefined = undefined;
  /** Timestamp of the latest value: the device's where it gives one, else the time of reception. */
  at: number | undefined = undefined;
  /** Reception time of the latest good value; the start time until one arrives. */
  lastGoodAt = 0;
  /** Meters: the last consumption rate per hour (NaN before the second reading). */
  rate = Number.NaN;
  /** Lines produced for this point since start. */
  lines = 0;
  /** Some alert rule watches this point: the sampler tells the alert engine of each new value. */
  watched = false;
  /** Why the device refused the point at the start check (missing register or node); it is not sampled. */
  refused: string | undefined = undefined;
  readonly counterState: CounterState | undefined;
  private readonly buckets: Float64Array | undefined;
  private bucketHour = 0;

  constructor(
    index: number,
    building: BuildingConfig,
    buildingIndex: number,
    point: PointConfig,
    pointIndex: number,
    telemetry: TelemetryConfig,
    /** The polling period of the point's device, where the device polls for all its points (HTTP). */
    devicePeriodMs?: number,
  ) {
    this.index = index;
    this.buildingId = building.id;
    this.config = point;
    this.commune = building.commune;
    this.source = `${building.id}/${point.id}`;
    this.key = POINT_KEY_PREFIX + this.source;
    this.label = `buildings[${buildingIndex}].points[${pointIndex}] '${this.source}'`;
    const modbus = point.modbus;
    const opcua = point.opcua;
    if (modbus) {
      this.periodMs = modbus.period_s * 1000;
      this.byException = false;
      this.ref = {
        key: this.key,
        label: this.label,
        periodMs: this.periodMs,
        address: {
          protocol: 'modbus',
          table: modbus.table,
          address: modbus.address,
          type: modbus.type,
          wordOrder: modbus.word_order,
          byteOrder: modbus.byte_order,
          scale: modbus.scale,
          offset: modbus.offset,
        },
      };
    } else if (opcua) {
      this.periodMs = Math.max(opcua.sampling_ms, 100);
      this.byException = true;
      this.ref = {
        key: this.key,
        label: this.label,
        address: {
          protocol: 'opcua',
          nodeId: opcua.node_id,
          samplingMs: opcua.sampling_ms,
          ...(opcua.deadband ? { deadband: opcua.deadband } : {}),
        },
      };
    } else if (point.mqtt) {
      const mqtt = point.mqtt;
      this.periodMs = mqtt.period_s * 1000;
      // A sensor publishes when it has something to say: silence is staleness, never a failed poll.
      this.byException = false;
      this.ref = {
        key: this.key,
        label: this.label,
        address: {
          protocol: 'mqtt',
          match: mqtt.match,
          path: compilePath(mqtt.path),
          scale: mqtt.scale,
          offset: mqtt.offset,
          ...(mqtt.states ? { states: mqtt.states } : {}),
          ...(mqtt.radio ? { radio: mqtt.radio } : {}),
        },
      };
    } else if (point.http) {
      const http = point.http;
      // One document per device, polled at the device's period.
      this.periodMs = devicePeriodMs ?? DEFAULT_HTTP_PERIOD_MS;
      this.byException = false;
      this.ref = {
        key: this.key,
        label: this.label,
        address: {
          protocol: 'http',
          path: compilePath(http.path),
          scale: http.scale,
          offset: http.offset,
          ...(http.states ? { states: http.states } : {}),
        },
      };
    } else {
      throw new Error(`${this.label}: no 'modbus', 'opcua', 'mqtt' or 'http' binding`);
    }
    this.staleAfterMs =
      point.stale_after_s !== undefined
        ? point.stale_after_s * 1000
        : Math.max(telemetry.stale_min_s * 1000, telemetry.stale_factor * this.periodMs);

    const series =
      point.measurement === 'meter'
        ? seriesKey('meter', {
            commune: building.commune,
            building: building.id,
            meter: point.id,
            kind: point.quantity,
            unit: point.unit,
          })
        : seriesKey('sensor', {
            commune: building.commune,
            building: building.id,
            room: point.room ?? '-',
            point: point.id,
            quantity: point.quantity,
            unit: point.unit,
          });
    this.valuePrefix = `${series} ${fieldKey(point.measurement === 'meter' ? 'index' : 'value')}=`;
    this.qualityPrefix = series;
    if (point.measurement === 'meter') {
      this.counter = {
        rollover: point.rollover ?? rolloverOfBinding(point),
        maxRatePerHour: point.max_rate ?? telemetry.max_rates[point.quantity],
        reset: telemetry.meter_reset,
      };
      this.counterState = newCounterState();
      this.buckets = new Float64Array(BUCKETS);
    }
  }

  get isMeter(): boolean {
    return this.counter !== undefined;
  }

  /**
   * The line for one sample (a sample without a value gives a line with its quality only), and the
   * latest state updated. `step` is scratch space for meters, reused across calls.
   */
  ingest(sample: Sample, timestamp: number, step: CounterStep): string {
    const raw = sample.value;
    let quality = sample.quality;
    this.quality = quality;
    this.at = timestamp;
    if (raw === null || (typeof raw === 'number' && !Number.isFinite(raw))) {
      this.quality = 'bad';
      return this.qualityPrefix + QUALITY_ONLY.bad + timestamp;
    }
    const numeric = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
    this.value = raw;
    if (quality === 'good') this.lastGoodAt = sample.time;
    if (this.counter === undefined) {
      return this.valuePrefix + numeric + QUALITY_FIELD[quality] + timestamp;
    }
    counterStep(this.counter, this.counterState!, numeric, timestamp, step);
    if (step.event === 'implausible') {
      quality = 'bad';
      this.quality = quality;
    }
    if (Number.isNaN(step.delta)) {
      return this.valuePrefix + numeric + QUALITY_FIELD[quality] + timestamp;
    }
    this.rate = step.rate;
    this.addConsumption(step.delta, timestamp);
    return (
      this.valuePrefix +
      numeric +
      ',delta=' +
      tidy(step.delta) +
      ',rate=' +
      tidy(step.rate) +
      QUALITY_FIELD[quality] +
      timestamp
    );
  }

  /** Meters: consumption over the last 24 hours (to the hour), in the point's unit. */
  last24h(now: number): number | undefined {
    if (!this.buckets) return undefined;
    const hour = Math.floor(now / HOUR_MS);
    let sum = 0;
    for (
      let h = Math.max(hour - 23, this.bucketHour - BUCKETS + 1);
      h <= Math.min(hour, this.bucketHour);
      h++
    )
      sum += this.buckets[h % BUCKETS];
    return sum;
  }

  /**
   * No good value for longer than its threshold. A point reported by exception (OPC UA) stays fresh
   * while its last value was good and its device is up; `deviceDownSince` is when the device went down
   * (undefined while it is up).
   */
  isStale(now: number, deviceDownSince: number | undefined): boolean {
    let freshAt = this.lastGoodAt;
    if (this.byException && this.quality === 'good')
      freshAt = deviceDownSince === undefined ? now : Math.max(freshAt, deviceDownSince);
    return now - freshAt > this.staleAfterMs;
  }

  private addConsumption(delta: number, at: number): void {
    const buckets = this.buckets!;
    const hour = Math.floor(at / HOUR_MS);
    if (hour > this.bucketHour) {
      for (let h = Math.max(this.bucketHour + 1, hour - BUCKETS + 1); h <= hour; h++)
        buckets[h % BUCKETS] = 0;
      this.bucketHour = hour;
    }
    if (hour > this.bucketHour - BUCKETS) buckets[hour % BUCKETS] += delta;
  }
}

/** Every point of the configuration, by index, by PointRef key and by device. */
export class PointCatalog {
  readonly points: CatalogPoint[] = [];
  readonly byKey = new Map<string, CatalogPoint>();
  readonly bySource = new Map<string, CatalogPoint>();
  readonly byDevice = new Map<string, CatalogPoint[]>();

  constructor(config: Pick<Config, 'buildings' | 'telemetry'> & Partial<Pick<Config, 'devices'>>) {
    const devicePeriods = new Map(
      (config.devices ?? []).flatMap((d) => (d.protocol === 'http-json' ? [[d.id, d.period_s * 1000]] : [])),
    );
    config.buildings.forEach((building, b) =>
      building.points.forEach((point, p) => {
        const entry = new CatalogPoint(
          this.points.length,
          building,
          b,
          point,
          p,
          config.telemetry,
          devicePeriods.get(point.device),
        );
        this.points.push(entry);
        this.byKey.set(entry.key, entry);
        this.bySource.set(entry.source, entry);
        const list = this.byDevice.get(point.device) ?? [];
        list.push(entry);
        this.byDevice.set(point.device, list);
      }),
    );
  }
}

/** Bits of an integer register (as a range times the scale) where a meter wraps; undefined for floats. */
export function rolloverOfBinding(point: PointConfig): number | undefined {
  const binding = point.modbus;
  if (!binding) return undefined;
  switch (binding.type) {
    case 'uint16':
      return 65_536 * binding.scale;
    case 'int16':
      return 32_768 * binding.scale;
    case 'uint32':
      return 4_294_967_296 * binding.scale;
    case 'int32':
      return 2_147_483_648 * binding.scale;
    case 'bool':
    case 'float32':
    case 'float64':
      return undefined;
  }
}

/** Deltas of scaled integers carry floating-point noise (0.30000000000000004): 12 significant digits. */
function tidy(x: number): string {
  return x === 0 ? '0' : String(Number(x.toPrecision(12)));
}
