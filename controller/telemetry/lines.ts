import type { DriverStats, Health } from '../../drivers/driver';
import {
  booleanValue,
  fieldKey,
  floatValue,
  integerValue,
  escapeKey,
  seriesKey,
  stringValue,
} from '../../drivers/influx/lineProtocol';
import type { Config } from '../../config/schema';
import { parseCivilDate, timeZone, zonedInstant } from '../../core/localTime';
import type { LuminaireReport, PresenceDetected } from '../lighting/runtime/events';

/**
 * Lines of the lighting, presence, event, device and service measurements, as docs/influx-schema.md
 * describes them. Integers where the schema says int (InfluxDB refuses a field whose type changes).
 */

const HEALTH_CODE: Readonly<Record<Health, number>> = { up: 2, degraded: 1, down: 0 };

/**
 * Events of one series (commune, kind, severity) must not share a millisecond, or InfluxDB would keep
 * only the last: two alerts raised by the same tick, a relight accepted and confirmed at once. A
 * timestamp already used in its series moves on by a millisecond.
 */
export class EventTimeline {
  private readonly last = new Map<string, number>();

  timestamp(series: string, at: number): number {
    const previous = this.last.get(series);
    const t = previous !== undefined && at <= previous ? previous + 1 : Math.round(at);
    this.last.set(series, t);
    return t;
  }
}

export interface EventFields {
  message: string;
  source: string;
  actor: string;
  state: string;
  id: string;
  /**
   * Additions of the alerts: the rule id, the rule kind, the value that raised it, and the text's code
   * and parameters (JSON), from which a reader renders `message` in another language.
   */
  rule?: string;
  alert?: string;
  value?: number;
  code?: string;
  params?: string;
  /** Additions of the commands: how the command came in (api, mqtt, console, cli). */
  via?: string;
  /** Refusals one audit entry stands for, when the audit log collapsed them (AuditEntry.count). */
  count?: number;
}

export function eventLine(
  timeline: EventTimeline,
  tags: { commune: string; kind: string; severity: string },
  fields: EventFields,
  at: number,
): string {
  const series = seriesKey('event', tags);
  let text =
    'message=' +
    stringValue(fields.message) +
    ',source=' +
    stringValue(fields.source) +
    ',actor=' +
    stringValue(fields.actor) +
    ',state=' +
    stringValue(fields.state) +
    ',id=' +
    stringValue(fields.id);
  if (fields.rule !== undefined) text += ',rule=' + stringValue(fields.rule);
  if (fields.alert !== undefined) text += ',alert=' + stringValue(fields.alert);
  const value = fields.value === undefined ? undefined : floatValue(fields.value);
  if (value !== undefined) text += ',value=' + value;
  if (fields.code !== undefined) text += ',code=' + stringValue(fields.code);
  if (fields.params !== undefined) text += ',params=' + stringValue(fields.params);
  if (fields.via !== undefined) text += ',via=' + stringValue(fields.via);
  const count = fields.count === undefined ? undefined : integerValue(fields.count);
  if (count !== undefined) text += ',count=' + count;
  return series + ' ' + text + ' ' + timeline.timestamp(series, at);
}

/**
 * Lines of the `lighting` measurement: every change the lighting runtime reports, and of its periodic
 * reports (every poll of a segment controller) one per luminaire and `periodMs`. A series key is put
 * together from parts kept per zone rather than kept whole per luminaire: at 100,000 luminaires that
 * is 28 MB less for one concatenation per line.
 */
export class LightingLines {
  private readonly writtenAt = new Map<string, number>();
  private readonly zoneParts = new Map<string, { head: string; tail: string }>();

  constructor(private readonly periodMs: number) {}

  /** The lines of one report: all of a change, the luminaires whose snapshot is due of a snapshot. */
  lines(report: {
    at: number;
    kind: 'change' | 'snapshot';
    luminaires: readonly LuminaireReport[];
  }): string[] {
    const out: string[] = [];
    for (const luminaire of report.luminaires) {
      const last = this.writtenAt.get(luminaire.luminaire);
      if (report.kind === 'snapshot' && last !== undefined && report.at - last < this.periodMs) continue;
      out.push(this.line(luminaire, report.at));
    }
    return out;
  }

  line(report: LuminaireReport, at: number): string {
    this.writtenAt.set(report.luminaire, at);
    let parts = this.zoneParts.get(report.zone);
    if (parts === undefined) {
      // Tags in key order (commune, luminaire, zone), as seriesKey sorts them.
      const [head, tail] = seriesKey('lighting', {
        commune: report.commune,
        luminaire: '\u0000',
        zone: report.zone,
      }).split('\u0000');
      parts = { head, tail };
      this.zoneParts.set(report.zone, parts);
    }
    const series = parts.head + escapeKey(report.luminaire) + parts.tail;
    let fields = 'source=' + stringValue(report.source) + ',estimated=' + booleanValue(report.estimated);
    fields += float(',level=', report.level);
    fields += float(',in_effect=', report.inEffect);
    fields += float(',output=', report.output);
    fields += integer(',priority=', report.priority);
    fields += float(',power_w=', report.powerW);
    fields += float(',energy_wh=', report.energyWh);
    fields += float(',baseline_wh=', report.baselineWh);
    fields += float(',burn_s=', report.burnS);
    fields += integer(',lamp_status=', report.lampStatus);
    return series + ' ' + fields + ' ' + Math.round(at);
  }
}

export function presenceLine(timeline: EventTimeline, detection: PresenceDetected): string {
  const series = seriesKey('presence', {
    commune: detection.commune,
    zone: detection.zone,
    sensor: detection.sensor,
    class: detection.class,
  });
  return (
    series +
    ' count=1i' +
    float(',level=', detection.level) +
    ',result=' +
    stringValue(detection.result) +
    ' ' +
    timeline.timestamp(series, detection.at)
  );
}

export function deviceLine(
  device: { id: string; commune: string | undefined; protocol: string },
  health: Health,
  stats: DriverStats | undefined,
  at: number,
): string {
  const series = seriesKey('device', {
    commune: device.commune ?? '-',
    device: device.id,
    protocol: device.protocol,
  });
  let fields = `${fieldKey('health')}=${HEALTH_CODE[health]}i`;
  if (stats) {
    fields += integer(',requests=', stats.requests);
    fields += integer(',errors=', stats.errors);
    fields += integer(',reconnects=', stats.reconnects);
  }
  return series + ' ' + fields + ' ' + Math.round(at);
}

export interface ServiceFigures {
  spoolBytes?: number;
  spoolPoints?: number;
  written?: number;
  replayed?: number;
  dropped?: number;
  quarantined?: number;
  lagMs?: number;
  mqttReceived?: number;
  mqttMalformed?: number;
  alertsOpen: number;
  /** Additions: building-point samples received and lines made from them since start. */
  samples: number;
  badSamples: number;
}

export function serviceLine(instance: string, figures: ServiceFigures, at: number): string {
  const series = seriesKey('service', { instance });
  let fields = `alerts_open=${figures.alertsOpen}i`;
  fields += integer(',spool_bytes=', figures.spoolBytes);
  fields += integer(',spool_points=', figures.spoolPoints);
  fields += integer(',written=', figures.written);
  fields += integer(',replayed=', figures.replayed);
  fields += integer(',dropped=', figures.dropped);
  fields += integer(',quarantined=', figures.quarantined);
  fields += float(',lag_ms=', figures.lagMs);
  fields += integer(',mqtt_received=', figures.mqttReceived);
  fields += integer(',mqtt_malformed=', figures.mqttMalformed);
  fields += integer(',samples=', figures.samples);
  fields += integer(',bad_samples=', figures.badSamples);
  return series + ' ' + fields + ' ' + Math.round(at);
}

function float(prefix: string, value: number | undefined): string {
  const text = value === undefined ? undefined : floatValue(value);
  return text === undefined ? '' : prefix + text;
}

function integer(prefix: string, value: number | undefined): string {
  const text = value === undefined ? undefined : integerValue(Math.round(value));
  return text === undefined ? '' : prefix + text;
}

/**
 * The dated tariffs and emission factors of the configuration, one point each at the first day it
 * applies (midnight, site time), so that dashboards can take the one in force over any period. Written
 * again at every start: the same point overwrites itself; a corrected entry replaces the old value.
 */
export function priceLines(config: Pick<Config, 'tariffs' | 'emission_factors' | 'site'>): string[] {
  const zone = timeZone(config.site.timezone);
  const startOf = (date: string): number => zonedInstant(zone, parseCivilDate(date)!, 0).at;
  return [
    ...config.tariffs.map(
      (t) =>
        seriesKey('tariff', { quantity: t.quantity, unit: t.unit, commune: t.commune ?? '*' }) +
        ' eur_per_unit=' +
        floatValue(t.eur_per_unit)! +
        (t.source !== undefined ? ',source=' + stringValue(t.source) : '') +
        ' ' +
        startOf(t.from),
    ),
    ...config.emission_factors.map(
      (f) =>
        seriesKey('emission_factor', { quantity: f.quantity, unit: f.unit }) +
        ' kg_co2e_per_unit=' +
        floatValue(f.kg_co2e_per_unit)! +
        ',source=' +
        stringValue(f.source) +
        ',year=' +
        integerValue(f.year)! +
        ' ' +
        startOf(f.from),
    ),
  ];
}
