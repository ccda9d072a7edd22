import type { NightPlan } from './schedule';

/**
 * Lighting energy: power per luminaire from the device when it measures it, otherwise estimated from
 * the rated power and the level; energy and burn hours by integration; savings against burning at
 * full power all night.
 */

export interface PowerModel {
  /** Driver and gear losses on top of the rated power, as a fraction (0.1 = 10 %). Default 0. */
  driverLoss?: number;
  /** What the luminaire draws when off (driver, radio), W. Default 0. */
  standbyW?: number;
}

/** Estimated draw at `level` %: standby + rated × level × (1 + driver loss). Dimming is taken as linear. */
export function estimatePowerW(ratedW: number, level: number, model: PowerModel = {}): number {
  const standby = model.standbyW ?? 0;
  if (!(level > 0)) return standby;
  return standby + ratedW * (Math.min(level, 100) / 100) * (1 + (model.driverLoss ?? 0));
}

export interface PowerReading {
  watts: number;
  /** True when computed from the level because the device does not measure. */
  estimated: boolean;
}

/**
 * The power to account for a luminaire: the measured value when there is one (not NaN), else the
 * estimate from the level in effect (or, before any read-back, the level commanded); undefined when
 * neither is known.
 */
export function powerOf(
  measuredW: number,
  level: number,
  ratedW: number,
  model: PowerModel = {},
): PowerReading | undefined {
  if (Number.isFinite(measuredW) && measuredW >= 0) return { watts: measuredW, estimated: false };
  if (Number.isFinite(level)) return { watts: estimatePowerW(ratedW, level, model), estimated: true };
  return undefined;
}

export interface EnergyLedgerOptions {
  /** A gap between observations longer than this is not integrated but counted as unknown. Default: none. */
  maxGapMs?: number;
}

/**
 * Energy (Wh) and burn hours per luminaire, integrated from observations (t, watts, lit). A value holds
 * until the next observation, which is exact for levels (they change in steps) and close for polled
 * power; so observe at every change and at least at every poll. Typed arrays: 100,000 luminaires take
 * about 4 MB.
 */
export class EnergyLedger {
  private readonly lastT: Float64Array;
  private readonly lastW: Float64Array;
  private readonly lastLit: Uint8Array;
  private readonly wh: Float64Array;
  private readonly burnMs: Float64Array;
  private readonly unknownMs: Float64Array;

  constructor(
    readonly count: number,
    private readonly options: EnergyLedgerOptions = {},
  ) {
    this.lastT = new Float64Array(count).fill(Number.NaN);
    this.lastW = new Float64Array(count);
    this.lastLit = new Uint8Array(count);
    this.wh = new Float64Array(count);
    this.burnMs = new Float64Array(count);
    this.unknownMs = new Float64Array(count);
  }

  /** Luminaire i draws `watts` from t on; `lit` when its level is above 0. Out-of-order or bad input is ignored. */
  observe(i: number, t: number, watts: number, lit: boolean): boolean {
    if (!(i >= 0 && i < this.count) || !Number.isFinite(t) || !Number.isFinite(watts) || watts < 0)
      return false;
    const last = this.lastT[i];
    if (!Number.isNaN(last)) {
      if (t < last) return false;
      const dt = t - last;
      if (dt > (this.options.maxGapMs ?? Number.POSITIVE_INFINITY)) this.unknownMs[i] += dt;
      else {
        this.wh[i] += (this.lastW[i] * dt) / 3_600_000;
        if (this.lastLit[i]) this.burnMs[i] += dt;
      }
    }
    this.lastT[i] = t;
    this.lastW[i] = watts;
    this.lastLit[i] = lit ? 1 : 0;
    return true;
  }

  energyWh(i: number): number {
    return this.wh[i];
  }

  burnHours(i: number): number {
    return this.burnMs[i] / 3_600_000;
  }

  /** Time not accounted for because observations were too far apart. */
  unknownHours(i: number): number {
    return this.unknownMs[i] / 3_600_000;
  }

  totalWh(): number {
    let total = 0;
    for (const wh of this.wh) total += wh;
    return total;
  }
}

export interface Savings {
  /** Full power from dusk to dawn (the program's twilight), standby the rest of the night, Wh: the reference. */
  fullNightWh: number;
  savedWh: number;
  /** savedWh / fullNightWh, percent; 0 when there is no night (white nights). */
  savedPct: number;
  darkHours: number;
}

export interface NightEnergy extends Savings {
  /** Energy the plan uses over the whole night (noon to noon), Wh. */
  plannedWh: number;
  /** Hours with a level above 0. */
  burnHours: number;
}

/** What a night plan costs a luminaire of `ratedW`, and saves against full power all night. */
export function nightEnergy(plan: NightPlan, ratedW: number, model: PowerModel = {}): NightEnergy {
  let plannedWh = 0;
  let burnMs = 0;
  let from = plan.start;
  let level = plan.initialLevel;
  const segment = (to: number): void => {
    const dt = to - from;
    plannedWh += (estimatePowerW(ratedW, level, model) * dt) / 3_600_000;
    if (level > 0) burnMs += dt;
  };
  for (const step of plan.steps) {
    segment(step.at);
    from = step.at;
    level = step.level;
  }
  segment(plan.end);
  return {
    plannedWh,
    burnHours: burnMs / 3_600_000,
    ...savingsAgainstFullNight(plannedWh, plan, ratedW, model),
  };
}

/** Energy used in a night (measured, or from an EnergyLedger) against the full-power reference of its plan. */
export function savingsAgainstFullNight(
  usedWh: number,
  plan: NightPlan,
  ratedW: number,
  model: PowerModel = {},
): Savings {
  const darkMs = Math.max(0, plan.dawn - plan.dusk);
  const standby = model.standbyW ?? 0;
  const fullNightWh =
    (estimatePowerW(ratedW, 100, model) * darkMs + standby * (plan.end - plan.start - darkMs)) / 3_600_000;
  const savedWh = fullNightWh - usedWh;
  return {
    fullNightWh,
    savedWh,
    savedPct: fullNightWh > 0 ? (savedWh / fullNightWh) * 100 : 0,
    darkHours: darkMs / 3_600_000,
  };
}
