import type { IANAZone } from 'luxon';
import type { ProgramConfig } from '../../config/schema';
import {
  NOON_MINUTES,
  addDays,
  formatCivilDate,
  parseClockTime,
  zonedInstant,
  type CivilDate,
} from '../../core/localTime';
import {
  eveningTwilight,
  morningTwilight,
  solarMidnight,
  type GeoPoint,
  type SunEventTime,
  type Twilight,
} from '../../core/sun';

/**
 * Resolves a program for one lighting night (noon to noon) into absolute instants. Pure: the zone's
 * place and time zone come in, instants (epoch ms) go out. docs/lighting.md states the rules.
 */

export type SunEventName = 'dusk' | 'dawn' | 'sunset' | 'sunrise';

export type StepTime =
  { kind: 'clock'; minutes: number } | { kind: 'sun'; event: SunEventName; offsetMin: number };

export interface PlanContext {
  location: GeoPoint;
  zone: IANAZone;
}

/** How a step's instant was found. */
export type StepTiming =
  /** A clock time. */
  | 'clock'
  /** A sun event (with its offset). */
  | 'sun'
  /** The sun event does not occur that day: the step's `fallback` clock time. */
  | 'fallback'
  /** No event and no fallback, sky bright all night (white night): solar midnight, so the lamps stay off. */
  | 'sky-light'
  /** No event and no fallback, sky dark all day (polar night): the night's noon bounds, so the lamps burn. */
  | 'sky-dark';

export interface PlannedStep {
  /** Position of the step in the program's `steps`. */
  index: number;
  at: number;
  level: number;
  /** The step's `at` as configured, e.g. 'dusk+10min'. */
  spec: string;
  timing: StepTiming;
  /** The wall-clock time did not exist (spring forward) or occurred twice (autumn). */
  dst?: 'gap' | 'repeated';
  /** Set when the step fell before the previous one and was moved to it: its computed instant. */
  movedFrom?: number;
}

export type SkipReason =
  /** A clock step later than the next sun step (05:00 when dawn is at 04:50): lamps never come on after dawn. */
  | 'after-next-sun-step'
  /** The instant falls outside the night (an offset reaching past noon). */
  | 'outside-night'
  /** `at` cannot be read (only when the configuration was not validated). */
  | 'unreadable-time';

export interface SkippedStep {
  index: number;
  spec: string;
  reason: SkipReason;
  /** The computed instant, when there was one. */
  at?: number;
}

export interface NightPlan {
  /** The night's first date, 'YYYY-MM-DD'. */
  night: string;
  program: string;
  /** Noon that starts the night and noon that ends it (23 or 25 h apart on DST nights). */
  start: number;
  end: number;
  /** Level from noon until the first step: the program's last step, as the previous night ended. */
  initialLevel: number;
  /** Steps in force this night, in time order (ties keep program order: the later step wins). */
  steps: PlannedStep[];
  skipped: SkippedStep[];
  /** Evening and morning twilight of the program's kind, defaulted as for steps when they do not occur. */
  dusk: number;
  dawn: number;
  /** When presence may raise the lamps: from the earlier of dusk and the first lit step to the later of dawn and the last switch-off. */
  presenceFrom: number;
  presenceTo: number;
}

const MINUTE_MS = 60_000;

export function parseStepTime(text: string): StepTime | undefined {
  const clock = parseClockTime(text);
  if (clock !== undefined) return { kind: 'clock', minutes: clock };
  const m = /^(dusk|dawn|sunset|sunrise)(?:([+-])(\d{1,3})(min|h))?$/.exec(text);
  if (!m) return undefined;
  const amount = m[3] === undefined ? 0 : Number(m[3]) * (m[4] === 'h' ? 60 : 1);
  return { kind: 'sun', event: m[1] as SunEventName, offsetMin: m[2] === '-' ? -amount : amount };
}

/** Minutes after the night's noon at which a clock time comes: 13:00 → 60, 00:30 → 750. */
export function nightMinutes(clockMinutes: number): number {
  return (clockMinutes - NOON_MINUTES + 1440) % 1440;
}

const isEvening = (event: SunEventName): boolean => event === 'dusk' || event === 'sunset';

/** Twilight an event uses: dusk and dawn follow the program, sunset and sunrise are always official. */
const twilightOf = (event: SunEventName, program: Twilight): Twilight =>
  event === 'dusk' || event === 'dawn' ? program : 'official';

/**
 * The program's steps placed on the night that starts at noon on `night`.
 *
 * - Clock times from 12:00 belong to the night's first date, earlier ones to the next date.
 * - DST: a time in the spring-forward gap is placed at the first instant after it; a repeated time
 *   (autumn) at its first occurrence.
 * - Sun steps are anchors. A clock step later than the next sun step is skipped that night (so
 *   '05:00 → 70 %' does not light the street after a 04:50 dawn); a clock step earlier than the previous
 *   step is moved to it (an extinction at 22:00 before a 22:20 June dusk still applies at dusk).
 * - A sun event that does not occur uses the step's fallback clock time, else the sky default
 *   (see StepTiming).
 */
export function planNight(program: ProgramConfig, night: CivilDate, context: PlanContext): NightPlan {
  const start = zonedInstant(context.zone, night, NOON_MINUTES).at;
  const end = zonedInstant(context.zone, addDays(night, 1), NOON_MINUTES).at;
  const midnight = solarMidnight(night, context.location);

  const clockInstant = (minutes: number): { at: number; dst?: 'gap' | 'repeated' } => {
    const date = minutes >= NOON_MINUTES ? night : addDays(night, 1);
    const placed = zonedInstant(context.zone, date, minutes);
    return placed.resolution === 'exact' ? { at: placed.at } : { at: placed.at, dst: placed.resolution };
  };

  const sunEvent = (event: SunEventName): SunEventTime =>
    isEvening(event)
      ? eveningTwilight(night, context.location, twilightOf(event, program.twilight))
      : morningTwilight(addDays(night, 1), context.location, twilightOf(event, program.twilight));

  const skyDefault = (event: SunEventName, sky: 'light' | 'dark'): number =>
    sky === 'light' ? midnight : isEvening(event) ? start : end;

  type Resolved = {
    index: number;
    spec: string;
    level: number;
    anchor: boolean;
    at: number;
    timing: StepTiming;
    dst?: 'gap' | 'repeated';
  };
  const resolved: Resolved[] = [];
  const skipped: SkippedStep[] = [];
  program.steps.forEach((step, index) => {
    const time = parseStepTime(step.at);
    const base = { index, spec: step.at, level: step.level };
    if (!time) {
      skipped.push({ index, spec: step.at, reason: 'unreadable-time' });
      return;
    }
    if (time.kind === 'clock') {
      resolved.push({ ...base, anchor: false, timing: 'clock', ...clockInstant(time.minutes) });
      return;
    }
    const event = sunEvent(time.event);
    if (event.occurs) {
      resolved.push({ ...base, anchor: true, timing: 'sun', at: event.at + time.offsetMin * MINUTE_MS });
      return;
    }
    const fallback = step.fallback === undefined ? undefined : parseClockTime(step.fallback);
    if (fallback !== undefined) {
      resolved.push({ ...base, anchor: true, timing: 'fallback', ...clockInstant(fallback) });
    } else {
      const timing = event.sky === 'light' ? 'sky-light' : 'sky-dark';
      resolved.push({ ...base, anchor: true, timing, at: skyDefault(time.event, event.sky) });
    }
  });

  const steps: PlannedStep[] = [];
  let previous = start;
  resolved.forEach((step, k) => {
    const { index, spec, level, timing, dst, at } = step;
    if (!step.anchor) {
      const nextAnchor = resolved.slice(k + 1).find((s) => s.anchor);
      if (nextAnchor && at > nextAnchor.at) {
        skipped.push({ index, spec, reason: 'after-next-sun-step', at });
        return;
      }
    }
    if (at >= end) {
      skipped.push({ index, spec, reason: 'outside-night', at });
      return;
    }
    const planned: PlannedStep = { index, spec, level, timing, at: Math.max(at, previous) };
    if (dst) planned.dst = dst;
    if (at < previous) planned.movedFrom = at;
    steps.push(planned);
    previous = planned.at;
  });
  skipped.sort((a, b) => a.index - b.index);

  const initialLevel = program.steps[program.steps.length - 1].level;
  const eventOrDefault = (name: 'dusk' | 'dawn'): number => {
    const event = sunEvent(name);
    return event.occurs ? event.at : skyDefault(name, event.sky);
  };
  const dusk = eventOrDefault('dusk');
  const dawn = eventOrDefault('dawn');

  const lit = litSpan(initialLevel, steps, start, end);
  return {
    night: formatCivilDate(night),
    program: program.id,
    start,
    end,
    initialLevel,
    steps,
    skipped,
    dusk,
    dawn,
    presenceFrom: lit ? Math.min(dusk, lit.from) : dusk,
    presenceTo: lit ? Math.max(dawn, lit.to) : dawn,
  };
}

/** From the first instant the plan lights the lamps to the last instant it switches them off. */
function litSpan(
  initialLevel: number,
  steps: readonly PlannedStep[],
  start: number,
  end: number,
): { from: number; to: number } | undefined {
  let from = initialLevel > 0 ? start : undefined;
  let to = initialLevel > 0 ? end : undefined;
  let level = initialLevel;
  for (const step of steps) {
    if (step.level > 0 && from === undefined) from = step.at;
    if (step.level === 0 && level > 0) to = step.at;
    level = step.level;
  }
  if (level > 0) to = end;
  return from === undefined || to === undefined ? undefined : { from, to };
}

/** The plan's level at instant t, which must lie within the night. */
export function levelAt(plan: NightPlan, t: number): number {
  if (t < plan.start || t >= plan.end) {
    throw new RangeError(
      `levelAt: instant ${new Date(t).toISOString()} is outside the night of ${plan.night} (${new Date(plan.start).toISOString()} to ${new Date(plan.end).toISOString()})`,
    );
  }
  const i = lastStepAtOrBefore(plan.steps, t);
  return i < 0 ? plan.initialLevel : plan.steps[i].level;
}

/** The first instant after t, within the night, at which the plan's level changes; undefined if none. */
export function nextChangeAfter(plan: NightPlan, t: number): { at: number; level: number } | undefined {
  let level = t < plan.start ? plan.initialLevel : levelAt(plan, Math.min(t, plan.end - 1));
  for (let i = lastStepAtOrBefore(plan.steps, t) + 1; i < plan.steps.length; i++) {
    const step = plan.steps[i];
    // Steps sharing an instant: only the last one's level is ever in force.
    if (i + 1 < plan.steps.length && plan.steps[i + 1].at === step.at) continue;
    if (step.level !== level) return { at: step.at, level: step.level };
    level = step.level;
  }
  return undefined;
}

function lastStepAtOrBefore(steps: readonly PlannedStep[], t: number): number {
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid].at <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

export interface ProgramProblem {
  /** Path inside the program, e.g. ['steps', 3, 'at']. */
  path: (string | number)[];
  message: string;
}

/**
 * What the schema cannot see in a program: steps out of night order, fallbacks that can never apply,
 * light-sensor thresholds the wrong way round. For the configuration's cross-checks.
 */
export function checkProgram(program: ProgramConfig): ProgramProblem[] {
  const problems: ProgramProblem[] = [];
  let lastClock: { index: number; minutes: number; text: string } | undefined;
  let morningSeen: { index: number; text: string } | undefined;
  program.steps.forEach((step, index) => {
    const time = parseStepTime(step.at);
    if (!time) {
      problems.push({ path: ['steps', index, 'at'], message: `cannot read '${step.at}'` });
      return;
    }
    if (time.kind === 'clock') {
      const minutes = nightMinutes(time.minutes);
      if (lastClock && minutes < lastClock.minutes) {
        problems.push({
          path: ['steps', index, 'at'],
          message: `'${step.at}' comes before step ${lastClock.index} ('${lastClock.text}') in a night that runs from noon to noon; list steps in night order`,
        });
      }
      lastClock = { index, minutes, text: step.at };
      if (step.fallback !== undefined) {
        problems.push({
          path: ['steps', index, 'fallback'],
          message: 'a fallback only applies to a sun event (dusk, dawn, sunset, sunrise)',
        });
      }
    } else if (isEvening(time.event)) {
      if (morningSeen) {
        problems.push({
          path: ['steps', index, 'at'],
          message: `evening event '${step.at}' comes after morning event '${morningSeen.text}' (step ${morningSeen.index}); list steps in night order`,
        });
      }
    } else {
      morningSeen ??= { index, text: step.at };
    }
    if (step.lux) {
      const above = step.lux.above ?? 2 * step.lux.below;
      if (above < step.lux.below) {
        problems.push({
          path: ['steps', index, 'lux', 'above'],
          message: `must be at least 'below' (${step.lux.below} lx) for the hysteresis to work (is ${above})`,
        });
      }
      const before = program.steps[(index - 1 + program.steps.length) % program.steps.length].level;
      if (program.steps.length > 1 && before === step.level) {
        problems.push({
          path: ['steps', index, 'lux'],
          message: `the light sensor has nothing to switch: the step keeps the previous level (${step.level} %)`,
        });
      }
    }
  });
  return problems;
}
