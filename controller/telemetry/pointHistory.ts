/**
 * The last 24 hours of every sensor point, in memory, for the officials' curves without a Grafana
 * account: 5-minute buckets of min, mean and max, 288 per point, in flat typed arrays (one slot per
 * point and bucket of the day, reused when the day comes round), so memory is fixed by the number of
 * points and recording a sample allocates nothing. Pure: the time comes with each call.
 */

import type { HistoryBucket } from './services';

export const BUCKET_MS = 5 * 60_000;
export const BUCKETS = 288;
const DAY_MS = BUCKET_MS * BUCKETS;

export class PointHistory {
  /** Start of the bucket each slot holds; NaN: empty. */
  private readonly starts: Float64Array;
  private readonly mins: Float64Array;
  private readonly maxes: Float64Array;
  private readonly sums: Float64Array;
  private readonly counts: Uint32Array;

  constructor(readonly points: number) {
    const n = points * BUCKETS;
    this.starts = new Float64Array(n).fill(Number.NaN);
    this.mins = new Float64Array(n);
    this.maxes = new Float64Array(n);
    this.sums = new Float64Array(n);
    this.counts = new Uint32Array(n);
  }

  /** A value of point `point` taken at `at`; older than the bucket its slot holds now, it is dropped. */
  record(point: number, value: number, at: number): void {
    if (!(point >= 0 && point < this.points) || !Number.isFinite(value) || !Number.isFinite(at)) return;
    const start = at - (at % BUCKET_MS);
    const slot = point * BUCKETS + (Math.floor(start / BUCKET_MS) % BUCKETS);
    const held = this.starts[slot];
    if (held === start) {
      if (value < this.mins[slot]) this.mins[slot] = value;
      if (value > this.maxes[slot]) this.maxes[slot] = value;
      this.sums[slot] += value;
      this.counts[slot]++;
      return;
    }
    if (held > start) return;
    this.starts[slot] = start;
    this.mins[slot] = value;
    this.maxes[slot] = value;
    this.sums[slot] = value;
    this.counts[slot] = 1;
  }

  /** The buckets of the 24 hours up to `now`, oldest first; buckets with no sample are left out. */
  series(point: number, now: number): HistoryBucket[] {
    const out: HistoryBucket[] = [];
    if (!(point >= 0 && point < this.points)) return out;
    const last = now - (now % BUCKET_MS);
    for (let start = last - DAY_MS + BUCKET_MS; start <= last; start += BUCKET_MS) {
      const slot = point * BUCKETS + (Math.floor(start / BUCKET_MS) % BUCKETS);
      if (this.starts[slot] !== start) continue;
      const samples = this.counts[slot];
      out.push({
        at: start,
        min: this.mins[slot],
        mean: this.sums[slot] / samples,
        max: this.maxes[slot],
        samples,
      });
    }
    return out;
  }

  /** Memory held by the buckets. */
  bytes(): number {
    return (
      this.starts.byteLength +
      this.mins.byteLength +
      this.maxes.byteLength +
      this.sums.byteLength +
      this.counts.byteLength
    );
  }
}
