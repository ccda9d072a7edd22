import { ThrottledLog } from '../../core/throttledLog';

describe('ThrottledLog', () => {
  it('lets one line per key and interval through, with the count held back since the last', () => {
    const throttle = new ThrottledLog<'not-json' | 'invalid'>(10_000);
    const lines: string[] = [];
    const report = (key: 'not-json' | 'invalid', now: number): void =>
      throttle.report(key, now, (heldBack) => lines.push(`${key} at ${now} (+${heldBack})`));

    for (let i = 0; i < 1000; i++) report('not-json', i);
    report('invalid', 500);
    report('not-json', 9_999);
    report('not-json', 10_000);
    report('invalid', 10_499);
    report('invalid', 10_500);
    expect(lines).toEqual([
      'not-json at 0 (+0)',
      'invalid at 500 (+0)',
      'not-json at 10000 (+1000)',
      'invalid at 10500 (+1)',
    ]);
  });

  it('sums weights, so that a line can count points rather than calls', () => {
    const throttle = new ThrottledLog(60_000);
    const lost: number[] = [];
    for (const [now, points] of [
      [0, 10],
      [1_000, 20],
      [2_000, 30],
      [60_000, 5],
    ])
      throttle.report('write', now, (heldBack) => lost.push(heldBack + points), points);
    expect(lost).toEqual([10, 55]);
  });
});
