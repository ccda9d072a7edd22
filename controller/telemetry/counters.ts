/**
 * Meter counters (kWh, m³ indexes) turned into consumption by difference, without the spikes that
 * resets, rollovers and bad reads would make. Pure: the caller keeps a CounterState per meter and
 * feeds it each index with its timestamp. The index itself is always written as read; only `delta`
 * and `rate` come from here.
 *
 * - index ≥ previous: delta = index − previous.
 * - index < previous, previous near the top of the range and index near zero: a **rollover**,
 *   delta = rollover − previous + index.
 * - any other decrease: a **reset** (meter replaced or cleared): delta = index (the meter restarted
 *   from 0, policy 'index') or 0 (policy 'zero').
 * - a delta above `maxRatePerHour` over the elapsed time is **implausible**: not written as
 *   consumption, flagged bad. The next reading decides: close to the old baseline, the jump was a
 *   bad read and is forgotten; close to the jump, the meter really moved (replaced by one with a
 *   higher index) and the jump becomes the new baseline, still without consumption.
 */

export type ResetPolicy = 'index' | 'zero';

export interface CounterSpec {
  /** The value at which the index wraps to 0; undefined when unknown (floating-point meters). */
  rollover: number | undefined;
  /** Highest plausible consumption per hour; undefined: no check. */
  maxRatePerHour: number | undefined;
  reset: ResetPolicy;
}

export interface CounterState {
  /** Last index accepted as the baseline, and when it was read. */
  index: number;
  at: number;
  /** An implausible reading waiting for the next one to confirm or refute it. */
  suspectIndex: number | undefined;
  suspectAt: number;
}

export type CounterEvent =
  /** No previous index: nothing to subtract from. */
  | 'first'
  | 'normal'
  | 'rollover'
  | 'reset'
  /** A jump above the plausible rate: written without delta, quality bad. */
  | 'implausible'
  /** A jump confirmed by the next reading: the new baseline, without consumption. */
  | 'rebased'
  /** Not later than the baseline (a device clock going back, a duplicate): no delta. */
  | 'out-of-order';

export interface CounterStep {
  event: CounterEvent;
  /** Consumption since the previous reading; NaN when there is none (first, implausible…). */
  delta: number;
  /** delta per hour; NaN when there is no delta. */
  rate: number;
}

/** Where a reading counts as near the top (previous) or the bottom (new) of the range: 10 %. */
const ROLLOVER_BAND = 0.1;
const HOUR_MS = 3_600_000;

export function newCounterState(): CounterState {
  return { index: Number.NaN, at: Number.NaN, suspectIndex: undefined, suspectAt: 0 };
}

/**
 * The next reading of a meter: updates `state` and writes the outcome into `out` (reused by the
 * caller, so the hot path allocates nothing). Non-finite indexes must be filtered out before.
 */
export function counterStep(
  spec: CounterSpec,
  state: CounterState,
  index: number,
  at: number,
  out: CounterStep,
): CounterStep {
  out.delta = Number.NaN;
  out.rate = Number.NaN;
  if (Number.isNaN(state.index)) {
    accept(state, index, at);
    out.event = 'first';
    return out;
  }
  const elapsedMs = at - state.at;
  if (!(elapsedMs > 0)) {
    out.event = 'out-of-order';
    return out;
  }

  let delta: number;
  let event: CounterEvent;
  const difference = index - state.index;
  if (difference >= -jitter(state.index)) {
    delta = Math.max(0, difference);
    event = 'normal';
  } else if (isRollover(spec.rollover, state.index, index)) {
    delta = spec.rollover! - state.index + index;
    event = 'rollover';
  } else {
    delta = spec.reset === 'index' ? index : 0;
    event = 'reset';
  }

  if (spec.maxRatePerHour !== undefined && delta > (spec.maxRatePerHour * elapsedMs) / HOUR_MS) {
    if (event === 'reset') {
      // A replaced meter starting from a non-zero index: nothing is known of its consumption yet.
      accept(state, index, at);
      out.event = 'rebased';
      return out;
    }
    if (state.suspectIndex !== undefined && confirms(spec, state, index, at)) {
      accept(state, index, at);
      out.event = 'rebased';
      return out;
    }
    state.suspectIndex = index;
    state.suspectAt = at;
    out.event = 'implausible';
    return out;
  }

  accept(state, index, at);
  out.event = event;
  out.delta = delta;
  out.rate = (delta * HOUR_MS) / elapsedMs;
  return out;
}

/** The reading continues from the suspect one at a plausible rate: the jump was real. */
function confirms(spec: CounterSpec, state: CounterState, index: number, at: number): boolean {
  const since = at - state.suspectAt;
  const moved = index - state.suspectIndex!;
  return (
    since > 0 && moved >= -jitter(state.suspectIndex!) && moved <= (spec.maxRatePerHour! * since) / HOUR_MS
  );
}

function isRollover(rollover: number | undefined, previous: number, index: number): boolean {
  return (
    rollover !== undefined &&
    previous >= rollover * (1 - ROLLOVER_BAND) &&
    index >= 0 &&
    index <= rollover * ROLLOVER_BAND
  );
}

/** Floating-point meters may read a hair lower than before: not a reset. */
function jitter(previous: number): number {
  return Math.abs(previous) * 1e-9;
}

function accept(state: CounterState, index: number, at: number): void {
  state.index = index;
  state.at = at;
  state.suspectIndex = undefined;
}
