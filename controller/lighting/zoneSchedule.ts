import type { IANAZone } from 'luxon';
import type { CalendarConfig, ProgramConfig } from '../../config/schema';
import { programFor, type CalendarChoice } from './calendar';
import { LuxTrigger, luxTriggers } from './lux';
import { epochDay, formatCivilDate, nightOf, timeZone, type CivilDate } from '../../core/localTime';
import { levelAt, nextChangeAfter, planNight, type NightPlan } from './schedule';
import type { GeoPoint } from '../../core/sun';

export interface ZoneScheduleOptions {
  zone: string;
  calendar: CalendarConfig;
  programs: ReadonlyMap<string, ProgramConfig>;
  location: GeoPoint;
  /** IANA time zone, e.g. 'Europe/Paris'. */
  timeZone: string;
}

/** What the schedule says at an instant, and why. */
export interface ScheduleState {
  level: number;
  /** Whether presence may raise the lamps now: they are lit, or it is night (see NightPlan.presenceFrom). */
  allowPresence: boolean;
  night: string;
  program: string;
  /** The calendar rule that chose the program; undefined for the calendar's default. */
  rule?: number;
  ruleName?: string;
  /** The step in force ('initial' before the night's first step), and whether a light sensor brought it forward. */
  step: number | 'initial';
  lux?: { point: string };
}

interface Night {
  plan: NightPlan;
  choice: CalendarChoice;
  triggers: LuxTrigger[];
}

/** Nights kept resolved: the one before, the current one and the next (a controller looks ahead). */
const NIGHTS_KEPT = 3;

/**
 * A zone's schedule over time: calendar → program → night plan, plus its light sensors. Pure: time and
 * readings come in as arguments. `at(t)` and `observeLux` expect non-decreasing instants for the
 * light-sensor state; the plan part answers for any instant.
 */
export class ZoneSchedule {
  private readonly nights = new Map<number, Night>();
  private readonly lastReading = new Map<string, { t: number; lux: number }>();

  private constructor(
    readonly zone: string,
    private readonly calendar: CalendarConfig,
    private readonly programs: ReadonlyMap<string, ProgramConfig>,
    private readonly location: GeoPoint,
    private readonly tz: IANAZone,
  ) {}

  /** Checks what the schedule needs up front, so a bad reference stops the start, not a night. */
  static create(options: ZoneScheduleOptions): ZoneSchedule {
    const { zone, calendar, programs } = options;
    const referenced = [calendar.default, ...calendar.rules.map((r) => r.program)];
    const missing = referenced.filter((id) => !programs.has(id));
    if (missing.length > 0) {
      throw new Error(
        `zone '${zone}': calendar '${calendar.id}' names unknown program(s) ${[...new Set(missing)].map((id) => `'${id}'`).join(', ')}`,
      );
    }
    let tz: IANAZone;
    try {
      tz = timeZone(options.timeZone);
    } catch (error) {
      throw new Error(`zone '${zone}': ${(error as Error).message}`, { cause: error });
    }
    return new ZoneSchedule(zone, calendar, programs, options.location, tz);
  }

  /** The light sensors this zone's programs follow ('building/point'). */
  luxPoints(): string[] {
    const ids = new Set([this.calendar.default, ...this.calendar.rules.map((r) => r.program)]);
    const points = new Set<string>();
    for (const id of ids)
      for (const step of this.programs.get(id)!.steps) if (step.lux) points.add(step.lux.point);
    return [...points];
  }

  nightOf(t: number): CivilDate {
    return nightOf(this.tz, t);
  }

  planFor(night: CivilDate): NightPlan {
    return this.night(night).plan;
  }

  at(t: number): ScheduleState {
    const { plan, choice, triggers } = this.night(this.nightOf(t));
    let early: LuxTrigger | undefined;
    for (const trigger of triggers) {
      trigger.advanceTo(t);
      if (trigger.level() !== undefined) early = trigger;
    }
    const level = early ? early.spec.level : levelAt(plan, t);
    const stepIndex = plan.steps.findLastIndex((s) => s.at <= t);
    const state: ScheduleState = {
      level,
      allowPresence: level > 0 || (t >= plan.presenceFrom && t < plan.presenceTo),
      night: plan.night,
      program: plan.program,
      step: early ? early.spec.step : stepIndex < 0 ? 'initial' : plan.steps[stepIndex].index,
    };
    if (choice.rule !== undefined) state.rule = choice.rule;
    if (choice.ruleName !== undefined) state.ruleName = choice.ruleName;
    if (early) state.lux = { point: early.spec.point };
    return state;
  }

  /** A light-sensor reading; readings of points this zone does not follow are ignored. */
  observeLux(point: string, t: number, lux: number): void {
    if (!Number.isFinite(lux)) return;
    this.lastReading.set(point, { t, lux });
    for (const night of this.nights.values()) {
      for (const trigger of night.triggers) if (trigger.spec.point === point) trigger.observe(t, lux);
    }
  }

  /**
   * The next instant after t at which `at()` may answer differently: a step, a light-sensor deadline,
   * the presence window's bounds or the night's end. The controller sets one timer for it.
   */
  nextDeadlineAfter(t: number): number {
    const { plan, triggers } = this.night(this.nightOf(t));
    const candidates = [plan.end, plan.presenceFrom, plan.presenceTo, nextChangeAfter(plan, t)?.at];
    for (const trigger of triggers) candidates.push(trigger.nextDeadline());
    return Math.min(...candidates.filter((c): c is number => c !== undefined && c > t));
  }

  private night(date: CivilDate): Night {
    const key = epochDay(date);
    const cached = this.nights.get(key);
    if (cached) return cached;
    const choice = programFor(this.calendar, date);
    const program = this.programs.get(choice.program);
    if (!program)
      throw new Error(
        `zone '${this.zone}', night ${formatCivilDate(date)}: unknown program '${choice.program}'`,
      );
    const plan = planNight(program, date, { location: this.location, zone: this.tz });
    const triggers = luxTriggers(plan, program).map((spec) => new LuxTrigger(spec));
    for (const trigger of triggers) {
      const reading = this.lastReading.get(trigger.spec.point);
      if (reading) trigger.observe(reading.t, reading.lux);
    }
    const night = { plan, choice, triggers };
    this.nights.set(key, night);
    if (this.nights.size > NIGHTS_KEPT) {
      // Drop the night farthest from the one asked for.
      const farthest = [...this.nights.keys()].reduce((a, b) =>
        Math.abs(b - key) > Math.abs(a - key) ? b : a,
      );
      this.nights.delete(farthest);
    }
    return night;
  }
}
