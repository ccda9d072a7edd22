import http from 'node:http';
import { ManualClock } from '../../core/clock';
import { formatCivilDate, timeZone } from '../../core/localTime';
import { UsageCounts, usageLine } from '../../controller/evaluation/usage';
import { levelForClass } from '../../controller/lighting/presence';
import { ZoneSchedule } from '../../controller/lighting/zoneSchedule';
import { ConfigSchema, type Config, type ZoneConfig } from '../../config/schema';
import { buildTerritory } from '../../config/demoTerritory';
import {
  formatFields,
  pointLine,
  seriesKey,
  type FieldValue,
  type Tags,
} from '../../drivers/influx/lineProtocol';
import { BuildingModel } from '../../simulators/buildings';
import { exponentialDelayMs, seededRandom, type Random } from '../../simulators/random';
import { SegmentController, segmentSpecFromConfig } from '../../simulators/segmentController';
import type { InfluxHarness } from './influxd';

/**
 * InfluxDB filled with days of a small territory, shaped exactly as docs/influx-schema.md says, with
 * values from the simulators' models: the building model (heating, occupancy, meters, a leak, lights
 * left on) and the segment controller model (levels from the zones' programs and calendars with the
 * sun, presence raises, an emergency relight, a dead lamp, energy counters). No server runs: the
 * models are evaluated on a manual clock. `fillTelemetry` is the one entry point, so the real telemetry
 * pipeline can take its place once it writes the same schema.
 */

export interface TelemetryFixtureOptions {
  /** First instant (ms). Default: Sunday 2025-01-05 00:00 Paris, so the range spans two Mondays. */
  from?: number;
  /** Length of the range. Default 10 days. */
  days?: number;
  /** Sampling period of meters, sensors, luminaires, devices and the service. Default 10 minutes. */
  stepMs?: number;
  seed?: number;
}

/** What was written: the territory, the range, and where the incidents are. */
export interface TelemetryFixture {
  config: Config;
  from: number;
  to: number;
  /** Incidents the data shows, by what a dashboard should find. */
  incidents: {
    leakBuilding: string;
    leakFrom: number;
    relightZone: string;
    relightFrom: number;
    relightTo: number;
    failedLuminaire: string;
  };
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DEFAULT_FROM = Date.UTC(2025, 0, 4, 23, 0, 0);
const WRITE_BATCH_LINES = 20_000;
/** Detections per hour and sensor while presence may raise the lamps. */
const DETECTIONS_PER_HOUR = 8;

/** Small enough to write in a second, large enough for every panel: two communes, five buildings. */
function fixtureTerritory(): Config {
  return ConfigSchema.parse(
    buildTerritory({
      communes: 2,
      modbusControllers: 2,
      opcuaControllers: 1,
      luminairesPerController: 8,
      zonesPerController: 2,
      presenceSensorsPerZone: 1,
      // Only the models run: the ports are never opened.
      modbusPorts: [1, 2],
      opcuaPorts: [3],
      bmsPort: 4,
      meterGatewayPort: 5,
    }),
  );
}

export async function fillTelemetry(
  influx: InfluxHarness,
  options: TelemetryFixtureOptions = {},
): Promise<TelemetryFixture> {
  const config = fixtureTerritory();
  const from = options.from ?? DEFAULT_FROM;
  const to = from + (options.days ?? 10) * DAY;
  const generator = new TelemetryGenerator(
    config,
    from,
    to,
    options.stepMs ?? 10 * MINUTE,
    options.seed ?? 1,
  );
  const lines = generator.run();
  for (let i = 0; i < lines.length; i += WRITE_BATCH_LINES) {
    await writeLines(influx, lines.slice(i, i + WRITE_BATCH_LINES));
  }
  return {
    config,
    from,
    to,
    incidents: generator.incidents,
  };
}

interface LuminaireSim {
  id: string;
  zone: ZoneConfig;
  controller: SegmentController;
  channel: number;
  ratedW: number;
  baselineWh: number;
  burnS: number;
}

interface Detection {
  at: number;
  sensor: string;
  zone: string;
  commune: string;
  cls: string;
  level: number;
}

class TelemetryGenerator {
  readonly incidents: TelemetryFixture['incidents'];
  private readonly lines: string[] = [];
  private readonly clock: ManualClock;
  private readonly buildings: BuildingModel;
  private readonly controllers = new Map<string, SegmentController>();
  private readonly schedules = new Map<string, ZoneSchedule>();
  private readonly luminaires: LuminaireSim[] = [];
  private readonly random: Random;
  private readonly lastIndex = new Map<string, number>();
  private readonly deviceCounters = new Map<
    string,
    { errors: number; reconnects: number; wasDown: boolean }
  >();

  constructor(
    private readonly config: Config,
    private readonly from: number,
    private readonly to: number,
    private readonly stepMs: number,
    seed: number,
  ) {
    this.clock = new ManualClock(from);
    this.buildings = new BuildingModel(config, this.clock, seed);
    this.random = seededRandom(seed);
    const programs = new Map(config.programs.map((p) => [p.id, p]));
    for (const zone of config.zones) {
      this.schedules.set(
        zone.id,
        ZoneSchedule.create({
          zone: zone.id,
          calendar: config.calendars.find((c) => c.id === zone.calendar)!,
          programs,
          location: zone.location ?? config.site.location,
          timeZone: zone.timezone ?? config.site.timezone,
        }),
      );
    }
    for (const device of config.devices) {
      if (!device.lighting) continue;
      const controller = new SegmentController(segmentSpecFromConfig(config, device), this.clock);
      // The service refreshes levels well within the watchdog; the fixture's steps are longer than it.
      controller.writeWatchdog(0);
      this.controllers.set(device.id, controller);
    }
    for (const zone of config.zones)
      for (const lum of zone.luminaires)
        this.luminaires.push({
          id: lum.id,
          zone,
          controller: this.controllers.get(lum.device)!,
          channel: lum.channel,
          ratedW: lum.power_w,
          baselineWh: 0,
          burnS: 0,
        });
    const leakBuilding = config.buildings.find((b) => b.kind === 'pool') ?? config.buildings[0];
    this.incidents = {
      leakBuilding: leakBuilding.id,
      leakFrom: from + 3 * DAY + 14 * HOUR,
      relightZone: config.zones[0].id,
      // An evening of the third night, while the schedule dims.
      relightFrom: from + 2 * DAY + 21 * HOUR,
      relightTo: from + 2 * DAY + 21 * HOUR + 45 * MINUTE,
      failedLuminaire: this.luminaires[2].id,
    };
  }

  run(): string[] {
    const detections = this.detections();
    const school = this.config.buildings.find((b) => b.kind === 'school');
    const lampFailureAt = this.from + 4 * DAY + 2 * HOUR;
    const forgottenFrom = this.from + 5 * DAY + 18 * HOUR;
    const forgottenTo = this.from + 6 * DAY + 7 * HOUR;
    const failed = this.luminaires.find((l) => l.id === this.incidents.failedLuminaire)!;
    let nextDetection = 0;
    const recent: Detection[] = [];
    for (let t = this.from; t < this.to; t += this.stepMs) {
      this.clock.set(t);
      if (t >= this.incidents.leakFrom && !this.buildings.faults(this.incidents.leakBuilding).leak)
        this.buildings.setFault(this.incidents.leakBuilding, 'leak', true);
      if (school)
        this.buildings.setFault(school.id, 'lights_forgotten', t >= forgottenFrom && t < forgottenTo);
      if (t >= lampFailureAt && failed.controller.channel(failed.channel).fault === undefined)
        failed.controller.setLampFault(failed.channel, 'lamp');
      while (nextDetection < detections.length && detections[nextDetection].at <= t) {
        const detection = detections[nextDetection++];
        recent.push(detection);
        this.presence(detection);
      }
      this.lighting(t, recent);
      this.buildingPoints(t);
      this.devices(t);
      this.service(t);
    }
    this.events(lampFailureAt);
    this.usage();
    return this.lines;
  }

  private write(measurement: string, tags: Tags, fields: Record<string, FieldValue>, at: number): void {
    const line = pointLine(seriesKey(measurement, tags), formatFields(fields), at);
    if (line === undefined)
      throw new Error(`fixture: no valid field in ${measurement} ${JSON.stringify(fields)}`);
    this.lines.push(line);
  }

  /** Poisson arrivals per sensor, kept when the schedule lets presence raise the lamps (at night). */
  private detections(): Detection[] {
    const out: Detection[] = [];
    const classes = ['pedestrian', 'pedestrian', 'pedestrian', 'vehicle', 'vehicle', 'cyclist'];
    for (const sensor of this.config.presence_sensors) {
      const zone = this.config.zones.find((z) => z.id === sensor.zone)!;
      const schedule = this.schedules.get(zone.id)!;
      for (let at = this.from; ;) {
        at += Math.round(exponentialDelayMs(this.random, DETECTIONS_PER_HOUR / 3600));
        if (at > this.to) break;
        if (!schedule.at(at).allowPresence) continue;
        const cls = classes[Math.floor(this.random() * classes.length)];
        out.push({
          at,
          sensor: sensor.id,
          zone: zone.id,
          commune: zone.commune,
          cls,
          level: levelForClass(sensor.levels, cls),
        });
      }
    }
    return out.sort((a, b) => a.at - b.at);
  }

  private presence(d: Detection): void {
    this.write(
      'presence',
      { commune: d.commune, zone: d.zone, sensor: d.sensor, class: d.cls },
      { count: 1n, level: d.level },
      d.at,
    );
  }

  /**
   * Levels decided as the arbiter would (relight 1 > presence 12 > schedule 16), written to the devices.
   * A detection during the last step raises its zone for this snapshot.
   */
  private lighting(t: number, recent: Detection[]): void {
    while (recent.length > 0 && recent[0].at <= t - this.stepMs) recent.shift();
    for (const lum of this.luminaires) {
      const schedule = this.schedules.get(lum.zone.id)!;
      const scheduled = schedule.at(t).level;
      const raise = recent
        .filter((d) => d.zone === lum.zone.id && d.level > scheduled)
        .reduce((max, d) => Math.max(max, d.level), 0);
      const relight =
        lum.zone.id === this.incidents.relightZone &&
        t >= this.incidents.relightFrom &&
        t < this.incidents.relightTo;
      const [level, priority, source] = relight
        ? [100, 1n, 'emergency']
        : raise > 0
          ? [raise, 12n, 'presence']
          : [scheduled, 16n, 'schedule'];
      const before = lum.controller.channel(lum.channel);
      if (before.commanded !== level) lum.controller.writeCommandedLevel(lum.channel, level);
      const state = lum.controller.channel(lum.channel);
      const dark = this.darkMs(schedule, t - this.stepMs, t);
      lum.baselineWh += (lum.ratedW * dark) / HOUR;
      if (before.output > 0 && t > this.from) lum.burnS += this.stepMs / 1000;
      this.write(
        'lighting',
        { commune: lum.zone.commune, zone: lum.zone.id, luminaire: lum.id },
        {
          level,
          in_effect: state.inEffect,
          output: state.output,
          priority,
          source,
          power_w: state.powerW,
          energy_wh: state.energyWh,
          baseline_wh: lum.baselineWh,
          burn_s: lum.burnS,
          lamp_status: BigInt(state.status),
          estimated: false,
        },
        t,
      );
    }
  }

  /** Time of [a, b] between dusk and dawn, from the zone's night plans (a step may straddle two nights). */
  private darkMs(schedule: ZoneSchedule, a: number, b: number): number {
    if (b <= this.from) return 0;
    const nights = new Map([a, b].map((t) => schedule.nightOf(t)).map((n) => [formatCivilDate(n), n]));
    let dark = 0;
    for (const night of nights.values()) {
      const plan = schedule.planFor(night);
      dark += Math.max(0, Math.min(b, plan.dawn) - Math.max(a, plan.dusk));
    }
    return dark;
  }

  private buildingPoints(t: number): void {
    for (const building of this.config.buildings) {
      for (const point of building.points) {
        const value = this.buildings.value(building.id, point.id);
        const numeric = typeof value === 'boolean' ? (value ? 1 : 0) : value;
        if (point.measurement === 'meter') {
          const key = `${building.id}/${point.id}`;
          const previous = this.lastIndex.get(key);
          this.lastIndex.set(key, numeric);
          const delta = previous === undefined ? 0 : numeric >= previous ? numeric - previous : numeric;
          this.write(
            'meter',
            {
              commune: building.commune,
              building: building.id,
              meter: point.id,
              kind: point.quantity,
              unit: point.unit,
            },
            { index: numeric, delta, rate: delta / (this.stepMs / HOUR), quality: 'good' },
            t,
          );
        } else {
          this.write(
            'sensor',
            {
              commune: building.commune,
              building: building.id,
              room: point.room ?? '-',
              point: point.id,
              quantity: point.quantity,
              unit: point.unit,
            },
            { value: numeric, quality: 'good' },
            t,
          );
        }
      }
    }
  }

  /** Every device up, except the OPC UA controller: degraded for half an hour, then unreachable for an hour. */
  private devices(t: number): void {
    const steps = Math.round((t - this.from) / this.stepMs);
    const outageFrom = this.from + 6 * DAY + 3 * HOUR;
    for (const device of this.config.devices) {
      const flaky = device.protocol === 'opcua' && device.lighting !== undefined;
      const down = flaky && t >= outageFrom && t < outageFrom + HOUR;
      const degraded = flaky && t >= outageFrom - 30 * MINUTE && t < outageFrom;
      const counters = this.deviceCounters.get(device.id) ?? { errors: 0, reconnects: 0, wasDown: false };
      counters.errors += down ? 12 : degraded ? 3 : 0;
      if (counters.wasDown && !down) counters.reconnects++;
      counters.wasDown = down;
      this.deviceCounters.set(device.id, counters);
      this.write(
        'device',
        { commune: device.commune ?? '-', device: device.id, protocol: device.protocol },
        {
          health: down ? 0n : degraded ? 1n : 2n,
          requests: BigInt(steps * 60),
          errors: BigInt(counters.errors),
          reconnects: BigInt(counters.reconnects),
        },
        t,
      );
    }
  }

  /** InfluxDB unreachable for 40 minutes on day 7: the spool fills, then replays; a few points dropped. */
  private service(t: number): void {
    const steps = Math.round((t - this.from) / this.stepMs);
    const outageFrom = this.from + 7 * DAY + 10 * HOUR;
    const outageTo = outageFrom + 40 * MINUTE;
    const inOutage = t >= outageFrom && t < outageTo;
    const spoolPoints = inOutage ? Math.round(((t - outageFrom) / MINUTE) * 900) : 0;
    const afterOutage = t >= outageTo;
    this.write(
      'service',
      { instance: this.config.service.instance },
      {
        spool_bytes: BigInt(spoolPoints * 120),
        spool_points: BigInt(spoolPoints),
        written: BigInt(steps * 9000),
        replayed: BigInt(afterOutage ? 36_000 : 0),
        dropped: BigInt(afterOutage ? 120 : 0),
        quarantined: 0n,
        lag_ms: inOutage ? t - outageFrom : 800,
        mqtt_received: BigInt(steps * 12),
        mqtt_malformed: BigInt(Math.floor(steps / 100)),
        alerts_open: BigInt(t >= this.incidents.leakFrom + 10 * HOUR ? 2 : 0),
      },
      t,
    );
  }

  /** Console and API use, counted as the service counts it (controller/evaluation/usage.ts). */
  private usage(): void {
    const counts = new UsageCounts(this.config.site.timezone);
    const [first, second] = this.config.communes.map((c) => c.id);
    for (let t = this.from + 9 * HOUR; t < this.to; t += DAY) {
      counts.count(t, 'lighting-manager', [first], 'sign-in');
      counts.count(t, 'lighting-manager', [first], 'page:zones');
      counts.count(t + HOUR, 'viewer', [first, second ?? first], 'api:GET /api/zones');
      counts.count(t + 2 * HOUR, 'admin', ['*'], 'page:alerts');
    }
    const zone = timeZone(this.config.site.timezone);
    for (const record of counts.records()) this.lines.push(usageLine(record, zone));
  }

  /** Alerts and commands as the service records them: raised → acknowledged → cleared, accepted → confirmed. */
  private events(lampFailureAt: number): void {
    const leak = this.config.buildings.find((b) => b.id === this.incidents.leakBuilding)!;
    const relightZone = this.config.zones.find((z) => z.id === this.incidents.relightZone)!;
    const failed = this.luminaires.find((l) => l.id === this.incidents.failedLuminaire)!;
    const nightAfterLeak = this.incidents.leakFrom + 10 * HOUR;
    const event = (
      at: number,
      commune: string,
      kind: string,
      severity: string,
      fields: { message: string; source: string; actor: string; state: string; id: string },
    ): void => this.write('event', { commune, kind, severity }, fields, at);

    event(nightAfterLeak, leak.commune, 'alert', 'warning', {
      message: `Débit d'eau nocturne de 0,12 m³/h à ${leak.name ?? leak.id} : fuite probable`,
      source: `${leak.id}/eau`,
      actor: 'nocturne',
      state: 'raised',
      id: 'alert-night-flow-1',
    });
    event(nightAfterLeak + 9 * HOUR, leak.commune, 'alert', 'warning', {
      message: 'Pris en charge par le service des bâtiments',
      source: `${leak.id}/eau`,
      actor: 'energie-emm',
      state: 'acknowledged',
      id: 'alert-night-flow-1',
    });
    event(lampFailureAt + 20 * MINUTE, failed.zone.commune, 'alert', 'critical', {
      message: `Lampe en panne : ${failed.id} commandée allumée, aucune puissance`,
      source: failed.id,
      actor: 'nocturne',
      state: 'raised',
      id: 'alert-lamp-failure-1',
    });
    const outageFrom = this.from + 6 * DAY + 3 * HOUR;
    const flaky = this.config.devices.find((d) => d.protocol === 'opcua' && d.lighting)!;
    event(outageFrom + 2 * MINUTE, flaky.commune ?? '*', 'alert', 'critical', {
      message: `Équipement injoignable : ${flaky.id}`,
      source: flaky.id,
      actor: 'nocturne',
      state: 'raised',
      id: 'alert-device-1',
    });
    event(outageFrom + HOUR + 1000, flaky.commune ?? '*', 'alert', 'critical', {
      message: `Équipement de nouveau joignable : ${flaky.id}`,
      source: flaky.id,
      actor: 'nocturne',
      state: 'cleared',
      id: 'alert-device-1',
    });
    event(this.incidents.relightFrom, relightZone.commune, 'relight', 'critical', {
      message: `Rallumage d'urgence de ${relightZone.name ?? relightZone.id} à 100 % : intervention`,
      source: relightZone.id,
      actor: 'police-metz',
      state: 'accepted',
      id: 'relight-1',
    });
    event(this.incidents.relightFrom + 800, relightZone.commune, 'relight', 'critical', {
      message: `Rallumage d'urgence confirmé sur ${relightZone.luminaires.length} luminaires`,
      source: relightZone.id,
      actor: 'police-metz',
      state: 'confirmed',
      id: 'relight-1',
    });
    event(this.incidents.relightTo, relightZone.commune, 'relight', 'info', {
      message: `Fin du rallumage d'urgence de ${relightZone.name ?? relightZone.id}`,
      source: relightZone.id,
      actor: 'police-metz',
      state: 'confirmed',
      id: 'relight-1-clear',
    });
    event(this.from + DAY + 9 * HOUR, '*', 'program', 'info', {
      message: 'Calendrier des fêtes de fin d’année retiré',
      source: 'calendars',
      actor: 'admin',
      state: 'confirmed',
      id: 'program-1',
    });
  }
}

/** POST through the harness's InfluxDB 2 write route, as the service's writer does. */
export function writeLines(influx: InfluxHarness, lines: string[]): Promise<void> {
  const url = `${influx.url}/api/v2/write?org=nocturne&bucket=${encodeURIComponent(influx.database)}&precision=ms`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (res.statusCode === 204) resolve();
        else reject(new Error(`fixture write: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(lines.join('\n'));
  });
}
