import { ManualClock } from '../../../core/clock';
import { BUCKETS, BUCKET_MS, PointHistory } from '../../../controller/telemetry/pointHistory';

// The officials' 24-hour curves: 5-minute buckets, 288 per point, with a fake clock.

const T0 = Date.parse('2026-12-04T00:00:00Z');

describe('PointHistory', () => {
  it('keeps min, mean and max per 5-minute bucket, per point', () => {
    const clock = new ManualClock(T0);
    const history = new PointHistory(2);
    for (const value of [52, 61, 58]) {
      history.record(0, value, clock.now());
      clock.advance(60_000);
    }
    clock.advance(3 * 60_000); // into the next bucket
    history.record(0, 40, clock.now());
    history.record(1, 12.5, clock.now());
    expect(history.series(0, clock.now())).toEqual([
      { at: T0, min: 52, mean: 57, max: 61, samples: 3 },
      { at: T0 + BUCKET_MS, min: 40, mean: 40, max: 40, samples: 1 },
    ]);
    expect(history.series(1, clock.now())).toEqual([
      { at: T0 + BUCKET_MS, min: 12.5, mean: 12.5, max: 12.5, samples: 1 },
    ]);
  });

  it('covers exactly the last 24 hours: a day later the slot is reused and the old bucket is gone', () => {
    const clock = new ManualClock(T0);
    const history = new PointHistory(1);
    for (let i = 0; i < BUCKETS + 10; i++) {
      history.record(0, i, clock.now());
      clock.advance(BUCKET_MS);
    }
    const now = clock.now() - BUCKET_MS; // the last value's bucket
    const series = history.series(0, now);
    expect(series).toHaveLength(BUCKETS);
    expect(series[0]).toMatchObject({ at: T0 + 10 * BUCKET_MS, mean: 10 });
    expect(series[BUCKETS - 1]).toMatchObject({ at: T0 + (BUCKETS + 9) * BUCKET_MS, mean: BUCKETS + 9 });
    // Read 2 hours later with nothing new: the buckets older than 24 hours are left out.
    expect(history.series(0, now + 2 * 3_600_000)).toHaveLength(BUCKETS - 24);
  });

  it('drops a late sample whose slot already holds a newer bucket, and ignores what is not a number', () => {
    const history = new PointHistory(1);
    history.record(0, 5, T0 + BUCKETS * BUCKET_MS);
    history.record(0, 99, T0); // the same slot, a day older
    history.record(0, Number.NaN, T0 + BUCKETS * BUCKET_MS);
    history.record(3, 1, T0 + BUCKETS * BUCKET_MS); // no such point
    expect(history.series(0, T0 + BUCKETS * BUCKET_MS)).toEqual([
      { at: T0 + BUCKETS * BUCKET_MS, min: 5, mean: 5, max: 5, samples: 1 },
    ]);
    expect(history.series(3, T0)).toEqual([]);
  });

  it('holds a fixed 10,368 bytes per point, whatever comes in', () => {
    const history = new PointHistory(500);
    const before = history.bytes();
    for (let i = 0; i < 10_000; i++) history.record(i % 500, i, T0 + i * 1000);
    expect(history.bytes()).toBe(before);
    expect(before).toBe(500 * BUCKETS * (4 * 8 + 4));
  });
});
