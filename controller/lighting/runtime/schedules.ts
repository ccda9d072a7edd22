import type { Config } from '../../../config/schema';
import type { Sample } from '../../../drivers/driver';
import type { Clock } from '../../../core/clock';
import { epochDay, fromEpochDay } from '../../../core/localTime';
import type { Logger } from '../../../core/logger';
import { ZoneSchedule } from '../zoneSchedule';
import type { LightingDefinitions } from './definitions';
import type { LightingParts } from './parts';

const MAX_TIMER_MS = 2_147_000_000;
const HOUR_MS = 3_600_000;

/** What the zone schedules need of the runtime. */
export interface SchedulesHost {
  /** The parts once the runtime has built them. */
  parts(): LightingParts | undefined;
  isRunning(): boolean;
  /** Sends what the arbiter decided since the last call. */
  dispatchChanges(): void;
}

type NightBounds = { start: number; end: number; dusk: number; dawn: number };

/**
 * Each zone's schedule (its calendar's programs at its place): built from the definitions, applied to the
 * arbiter at each of its deadlines by a timer of its own, fed by the light sensors its programs follow,
 * and asked for the hours of darkness that the energy baseline counts.
 */
export class ZoneSchedules {
  /** Per zone, the night its baseline last advanced in (see darkHours). */
  private readonly darkNights: ({ schedule: ZoneSchedule } & NightBounds)[] = [];

  constructor(
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly definitions: LightingDefinitions,
    private readonly host: SchedulesHost,
  ) {}

  /** New schedules for the zones, applied now and dispatched (within the call: well under a second). */
  reschedule(zones: readonly number[]): void {
    const now = this.clock.now();
    for (const z of zones) {
      this.rebuild(z);
      this.apply(z, now);
    }
    this.host.dispatchChanges();
  }

  rebuild(z: number): void {
    const t = this.host.parts()!;
    const zone = t.topology.zones[z];
    const calendar = this.definitions.calendarsById.get(t.zoneCalendars[z])?.calendar;
    if (!calendar) {
      this.logger.error(`lighting: zone '${zone.id}': unknown calendar '${t.zoneCalendars[z]}'; no schedule`);
      t.schedules[z] = undefined;
      return;
    }
    t.schedules[z] = ZoneSchedule.create({
      zone: zone.id,
      calendar,
      programs: this.definitions.programConfigs(),
      location: zone.location ?? this.config.site.location,
      timeZone: zone.timeZone ?? this.config.site.timezone,
    });
    for (const point of t.schedules[z].luxPoints()) {
      const list = t.luxZones.get(point) ?? [];
      if (!list.includes(z)) list.push(z);
      t.luxZones.set(point, list);
    }
  }

  /** The zone's levels now, to the arbiter, and a timer for its next deadline. */
  apply(z: number, now: number): void {
    const t = this.host.parts()!;
    const schedule = t.schedules[z];
    if (t.zoneTimers[z]) this.clock.clearTimeout(t.zoneTimers[z]);
    t.zoneTimers[z] = undefined;
    if (!schedule) {
      t.arbiter.clearSchedule(z, now);
      return;
    }
    let next: number;
    try {
      const result = t.arbiter.applySchedule(z, schedule.at(now), now);
      if (!result.ok) this.logger.error(`lighting: ${result.error}`);
      next = schedule.nextDeadlineAfter(now);
    } catch (error) {
      this.logger.error(
        `lighting: zone '${t.topology.zones[z].id}': schedule failed: ${(error as Error).message}`,
      );
      next = now + HOUR_MS;
    }
    if (!Number.isFinite(next)) next = now + HOUR_MS;
    t.zoneTimers[z] = this.clock.setTimeout(
      () => {
        t.zoneTimers[z] = undefined;
        if (!this.host.isRunning()) return;
        this.apply(z, this.clock.now());
        this.host.dispatchChanges();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, next - now)),
    );
  }

  /** Light-sensor readings (sample key 'building/point') for the zones whose programs follow them. */
  observeLux(samples: readonly Sample[]): void {
    const t = this.host.parts();
    if (!t || t.luxZones.size === 0) return;
    let touched = false;
    for (const sample of samples) {
      const zones = t.luxZones.get(sample.key);
      if (!zones || sample.quality !== 'good' || typeof sample.value !== 'number') continue;
      for (const z of zones) {
        t.schedules[z]?.observeLux(sample.key, sample.time, sample.value);
        this.apply(z, this.clock.now());
        touched = true;
      }
    }
    if (touched) this.host.dispatchChanges();
  }

  /** Hours of darkness (dusk to dawn) in zone z between two instants: the baseline of the energy saved. */
  darkHours(z: number, from: number, to: number): number {
    const schedule = this.host.parts()!.schedules[z];
    if (!schedule || !(to > from)) return 0;
    // Called for every zone at every device report: within one night it is arithmetic on the night's
    // bounds, kept per zone; only crossing into another night looks the plans up (a time zone lookup).
    const night = this.darkNights[z];
    if (night?.schedule === schedule && from >= night.start && to <= night.end)
      return darkOverlap(night, from, to);
    let hours = 0;
    try {
      const last = epochDay(schedule.nightOf(to));
      for (let day = epochDay(schedule.nightOf(from)); day <= last; day++) {
        const plan = schedule.planFor(fromEpochDay(day));
        hours += darkOverlap(plan, from, to);
        if (day === last)
          this.darkNights[z] = {
            schedule,
            start: plan.start,
            end: plan.end,
            dusk: plan.dusk,
            dawn: plan.dawn,
          };
      }
    } catch (error) {
      this.logger.debug(() => `lighting: no baseline for zone #${z}: ${(error as Error).message}`);
      return 0;
    }
    return hours;
  }

  stop(): void {
    const t = this.host.parts();
    t?.zoneTimers.forEach((timer, z) => {
      if (timer) this.clock.clearTimeout(timer);
      t.zoneTimers[z] = undefined;
    });
  }
}

/** Hours of darkness (dusk to dawn) of one night between two instants. */
function darkOverlap(night: NightBounds, from: number, to: number): number {
  const a = Math.max(from, night.start, night.dusk);
  const b = Math.min(to, night.end, night.dawn);
  return b > a ? (b - a) / HOUR_MS : 0;
}
