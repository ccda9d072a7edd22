/**
 * How a device profile's raw values become the service's units and back: light output in percent through
 * a level curve, lamp faults from a status register, fade seconds from a fade code. Pure functions of the
 * profile, shared by the service (what it writes and how it confirms it) and the simulators (how they
 * play the profile), so both read a profile the same way.
 */

/** Light output ↔ the value a device takes, in the register's engineering units (after its scale). */
export interface LevelCurve {
  /** Percent of light output → the value written; `whole`: rounded to an integer step. */
  toValue(percent: number): number;
  /** A value read back → percent of light output (NaN for a value that means no level). */
  toPercent(value: number): number;
  /** The value meaning 100 %. */
  readonly max: number;
}

export type LevelCurveConfig =
  'linear' | 'dali-arc' | { points: readonly (readonly [percent: number, value: number])[] };

/** DALI arc power (IEC 62386-102): 0 off, 1–254 logarithmic from 0.1 % to 100 %, 255 "mask" (no change). */
export const DALI_ARC_MAX = 254;
const DALI_ARC_STEPS = 253 / 3;

export function daliArcToPercent(arc: number): number {
  if (!(arc > 0)) return 0;
  if (arc > DALI_ARC_MAX) return Number.NaN;
  return 10 ** ((arc - 1) / DALI_ARC_STEPS - 1);
}

export function percentToDaliArc(percent: number): number {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return DALI_ARC_MAX;
  // Below 0.1 % the lowest arc (1) is the least light a DALI gear gives without going off.
  return Math.min(DALI_ARC_MAX, Math.max(1, Math.round(1 + DALI_ARC_STEPS * (Math.log10(percent) + 1))));
}

/**
 * The curve of a profile. `maxValue` is the linear curve's 100 % (`level_max_raw`); `whole`: the register
 * holds integers, so values are rounded to them.
 */
export function levelCurve(config: LevelCurveConfig, maxValue: number, whole: boolean): LevelCurve {
  const round = whole ? Math.round : (x: number) => x;
  if (config === 'linear')
    return {
      max: maxValue,
      toValue: (percent) => round((clampPercent(percent) * maxValue) / 100),
      toPercent: (value) => (value * 100) / maxValue,
    };
  if (config === 'dali-arc')
    return { max: DALI_ARC_MAX, toValue: percentToDaliArc, toPercent: daliArcToPercent };
  const points = config.points;
  return {
    max: points[points.length - 1][1],
    toValue: (percent) => round(interpolate(points, 0, 1, clampPercent(percent))),
    toPercent: (value) => interpolate(points, 1, 0, value),
  };
}

/** Why a table of curve points cannot be used, or undefined: from 0 % to 100 %, both columns rising. */
export function curvePointsProblem(points: readonly (readonly [number, number])[]): string | undefined {
  if (points.length < 2) return 'needs at least two points';
  if (points[0][0] !== 0) return `starts at ${points[0][0]} %, must start at 0 %`;
  if (points[points.length - 1][0] !== 100)
    return `ends at ${points[points.length - 1][0]} %, must end at 100 %`;
  for (let k = 1; k < points.length; k++)
    if (!(points[k][0] > points[k - 1][0]) || !(points[k][1] > points[k - 1][1]))
      return `point ${k + 1} [${points[k].join(', ')}] does not rise above point ${k} [${points[k - 1].join(', ')}]`;
  return undefined;
}

function clampPercent(percent: number): number {
  return Math.min(100, Math.max(0, percent));
}

/** Piecewise-linear from column `from` to column `to`, held at the ends. */
function interpolate(
  points: readonly (readonly [number, number])[],
  from: 0 | 1,
  to: 0 | 1,
  x: number,
): number {
  if (x <= points[0][from]) return points[0][to];
  for (let k = 1; k < points.length; k++) {
    const [a, b] = [points[k - 1], points[k]];
    if (x <= b[from]) return a[to] + ((x - a[from]) * (b[to] - a[to])) / (b[from] - a[from]);
  }
  return points[points.length - 1][to];
}

/**
 * Named failures a status register can report. The service carries them as a bit set (lamp 1, gear 2,
 * relay 4, communication 8): lamp and gear keep the values of nocturne's own status codes 1 and 2.
 */
export const LAMP_FAILURES = ['lamp', 'gear', 'relay', 'communication'] as const;
export type LampFailure = (typeof LAMP_FAILURES)[number];
export const FAILURE_BIT: Record<LampFailure, number> = { lamp: 1, gear: 2, relay: 4, communication: 8 };

/** A status register as a profile reads it: codes to one failure each, or bits to failures (or ignored). */
export type StatusDecoding =
  | { codes: Readonly<Record<string, LampFailure | 'ok'>> }
  | { bits: Readonly<Record<string, LampFailure | 'ignore'>> };

/** nocturne's own map: 0 ok, 1 lamp failure, 2 driver (gear) failure. */
export const NOCTURNE_STATUS: StatusDecoding = { codes: { '0': 'ok', '1': 'lamp', '2': 'gear' } };

/**
 * The failures a status value reports, as a bit set; NaN for a code the profile does not know (shown as
 * unknown, never as healthy), or a value that is not a whole number.
 */
export function statusDecoder(decoding: StatusDecoding): (raw: number) => number {
  if ('codes' in decoding) {
    const table = new Map<number, number>();
    for (const [code, meaning] of Object.entries(decoding.codes))
      table.set(Number(code), meaning === 'ok' ? 0 : FAILURE_BIT[meaning]);
    return (raw) => table.get(raw) ?? Number.NaN;
  }
  const bits: [mask: number, failure: number][] = [];
  for (const [bit, meaning] of Object.entries(decoding.bits))
    if (meaning !== 'ignore') bits.push([2 ** Number(bit), FAILURE_BIT[meaning]]);
  return (raw) => {
    if (!Number.isInteger(raw) || raw < 0) return Number.NaN;
    let failures = 0;
    for (const [mask, failure] of bits) if (Math.floor(raw / mask) % 2 === 1) failures |= failure;
    return failures;
  };
}

/** The inverse, for simulators: a raw status value reporting these failures (0 when none). */
export function statusEncoder(decoding: StatusDecoding): (failures: number) => number {
  if ('codes' in decoding) {
    const byFailures = new Map<number, number>();
    for (const [code, meaning] of Object.entries(decoding.codes)) {
      const failures = meaning === 'ok' ? 0 : FAILURE_BIT[meaning];
      if (!byFailures.has(failures)) byFailures.set(failures, Number(code));
    }
    // A device with one code per failure reports the most serious one it has: gear before lamp.
    return (failures) => {
      for (const failure of [...LAMP_FAILURES].reverse())
        if (failures & FAILURE_BIT[failure]) return byFailures.get(FAILURE_BIT[failure]) ?? 0;
      return byFailures.get(0) ?? 0;
    };
  }
  return (failures) => {
    let raw = 0;
    for (const [bit, meaning] of Object.entries(decoding.bits))
      if (meaning !== 'ignore' && failures & FAILURE_BIT[meaning]) raw += 2 ** Number(bit);
    return raw;
  };
}

/** DALI fade time codes (IEC 62386-102): code n ≥ 1 is 0.5 × √2ⁿ s; 0 is no fade. */
export const DALI_FADE_CODES: readonly number[] = [
  0, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.7, 8.0, 11.3, 16.0, 22.6, 32.0, 45.3, 64.0, 90.5,
];

/** The code whose fade is nearest to `seconds` (the shorter of two at equal distance). */
export function nearestFadeCode(codes: readonly number[], seconds: number): number {
  let best = 0;
  for (let code = 1; code < codes.length; code++)
    if (Math.abs(codes[code] - seconds) < Math.abs(codes[best] - seconds)) best = code;
  return best;
}
