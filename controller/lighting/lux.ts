import type { ProgramConfig } from '../../config/schema';
import type { NightPlan } from './schedule';

/**
 * Light-sensor steps. A step with `lux` still starts at its planned instant at the latest, but the
 * sensor can bring it forward: a step that raises the level starts as soon as it has been dark
 * (lux below `below`) for `for_s`, a step that lowers it as soon as it has been bright (lux above
 * `above`) for `for_s`, whichever comes first. Until the planned instant the sensor can also undo
 * an early switch with the opposite threshold (hysteresis), but lamps once lit stay lit at least
 * `min_burn_min`. The window in which the sensor acts starts at the previous step of the night (for
 * the evening's first step: noon), so a dark winter storm lights the street early, and ends at the
 * step's planned instant.
 */

export interface LuxTriggerSpec {
  /** Position of the step in the program. */
  step: number;
  /** Light sensor, 'building/point'. */
  point: string;
  /** raise: the step increases the level (switched early in the dark); lower: it decreases it (early in daylight). */
  direction: 'raise' | 'lower';
  /** The sensor may act from here (previous step of the night, or the night's start)... */
  from: number;
  /** ...until the step's planned instant, after which the plan applies. */
  at: number;
  level: number;
  /** Level in force before the step, which the sensor returns to when it undoes an early switch. */
  previousLevel: number;
  below: number;
  above: number;
  forMs: number;
  minBurnMs: number;
}

export type LuxTriggerState = 'waiting' | 'early' | 'done';

/** The light-sensor triggers of a night plan, one per planned step that has `lux` and a window. */
export function luxTriggers(plan: NightPlan, program: ProgramConfig): LuxTriggerSpec[] {
  const specs: LuxTriggerSpec[] = [];
  plan.steps.forEach((planned, k) => {
    const lux = program.steps[planned.index]?.lux;
    if (!lux) return;
    const previousLevel = k > 0 ? plan.steps[k - 1].level : plan.initialLevel;
    const from = k > 0 ? plan.steps[k - 1].at : plan.start;
    if (planned.level === previousLevel || from >= planned.at) return;
    specs.push({
      step: planned.index,
      point: lux.point,
      direction: planned.level > previousLevel ? 'raise' : 'lower',
      from,
      at: planned.at,
      level: planned.level,
      previousLevel,
      below: lux.below,
      above: lux.above ?? 2 * lux.below,
      forMs: lux.for_s * 1000,
      minBurnMs: program.min_burn_min * 60_000,
    });
  });
  return specs;
}

/**
 * One light-sensor step as a small state machine fed with (time, lux): waiting → early → (waiting) →
 * done. Readings hold until the next one. Time only moves forward; an older instant is ignored.
 */
export class LuxTrigger {
  private current: LuxTriggerState = 'waiting';
  /** Since when the last reading has favoured switching early (waiting) or undoing it (early). */
  private since: number | undefined;
  /** When the lamps were last lit, for the minimum burning time. */
  private litAt: number;
  private time = Number.NEGATIVE_INFINITY;

  constructor(readonly spec: LuxTriggerSpec) {
    this.litAt = spec.previousLevel > 0 ? spec.from : Number.NEGATIVE_INFINITY;
  }

  state(): LuxTriggerState {
    return this.current;
  }

  /** The level the sensor imposes now; undefined when the plan's own level applies. */
  level(): number | undefined {
    return this.current === 'early' ? this.spec.level : undefined;
  }

  /** Lets time pass to t without a new reading. */
  advanceTo(t: number): void {
    if (t < this.time) return;
    this.settle(t);
    this.time = t;
  }

  /** A reading taken at t. */
  observe(t: number, lux: number): void {
    if (t < this.time || !Number.isFinite(lux)) return;
    this.settle(t);
    this.time = t;
    if (this.current === 'done') return;
    const favours = this.current === 'waiting' ? this.favoursSwitch(lux) : this.favoursRevert(lux);
    this.since = favours ? (this.since ?? t) : undefined;
    this.settle(t);
  }

  /** The next instant at which the state can change without a new reading; undefined once done. */
  nextDeadline(): number | undefined {
    if (this.current === 'done') return undefined;
    const transition = this.transitionTime();
    return transition === undefined ? this.spec.at : Math.min(transition, this.spec.at);
  }

  private settle(t: number): void {
    while (this.current !== 'done') {
      const transition = this.transitionTime();
      if (this.spec.at <= t && (transition === undefined || transition >= this.spec.at)) {
        this.current = 'done';
        this.since = undefined;
        return;
      }
      if (transition === undefined || transition > t) return;
      if (this.current === 'waiting') {
        this.current = 'early';
        if (this.spec.level > 0 && this.spec.previousLevel === 0) this.litAt = transition;
      } else {
        this.current = 'waiting';
        if (this.spec.previousLevel > 0 && this.spec.level === 0) this.litAt = transition;
      }
      // The reading that caused the switch favours the new state, so nothing is pending.
      this.since = undefined;
    }
  }

  private transitionTime(): number | undefined {
    if (this.since === undefined) return undefined;
    const { from, forMs, minBurnMs, level, previousLevel } = this.spec;
    const switchesOff =
      this.current === 'waiting' ? level === 0 && previousLevel > 0 : previousLevel === 0 && level > 0;
    return Math.max(
      this.since + forMs,
      from,
      switchesOff ? this.litAt + minBurnMs : Number.NEGATIVE_INFINITY,
    );
  }

  private favoursSwitch(lux: number): boolean {
    return this.spec.direction === 'raise' ? lux < this.spec.below : lux > this.spec.above;
  }

  private favoursRevert(lux: number): boolean {
    return this.spec.direction === 'raise' ? lux > this.spec.above : lux < this.spec.below;
  }
}
