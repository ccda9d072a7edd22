import { MINUTE, feed, paris } from '../energy/fixtures';
import { Harness, type Rules } from './harness';

const START = paris('2026-01-12', '10:00');

const RISE = {
  id: 'montee-moselle',
  kind: 'rate-of-change',
  scope: { points: ['pont/niveau'] },
  per_hour: 0.2,
  over_min: 30,
  hysteresis: 0.05,
} as const satisfies NonNullable<Rules>[number];
const rise: Rules = [RISE];

/** One reading a minute for `minutes`, the level moving by `perMinute` each time. */
function readings(h: Harness, from: number, perMinute: number, minutes: number): number {
  let level = from;
  for (let i = 0; i < minutes; i++) {
    h.advance(MINUTE);
    level += perMinute;
    h.feed('pont/niveau', Math.round(level * 1000) / 1000);
  }
  return level;
}

describe('rate-of-change', () => {
  it('raises once the level has risen faster than per_hour over the whole window, clears past the hysteresis', () => {
    const h = new Harness(rise, START);
    h.feed('pont/niveau', 2);
    let level = readings(h, 2, 0.01, 29); // 0.6 m/h, but not yet 30 minutes of history
    expect(h.changes).toEqual([]);
    level = readings(h, level, 0.01, 1);
    expect(h.kinds()).toEqual(['raised:pont/niveau']);
    const alert = h.changes[0].alert;
    expect(alert.value).toBeCloseTo(0.6, 6);
    expect(alert).toMatchObject({ kind: 'rate-of-change', unit: 'm/h', commune: 'metz' });
    expect(alert.message).toBe(
      'Montée rapide de Niveau de la Moselle (Station du pont des Morts) : 0,6 m/h sur 30 min, au-delà de 0,2 m/h',
    );
    // The level stops rising: the change over the window falls by 0.02 m/h a minute.
    readings(h, level, 0, 22); // 0.16 m/h: below per_hour, within the hysteresis
    expect(h.open()).toHaveLength(1);
    readings(h, level, 0, 1); // 0.14 m/h
    expect(h.kinds()).toEqual(['raised:pont/niveau', 'cleared:pont/niveau']);
  });

  it('measures over the window whatever the spacing of the readings', () => {
    const h = new Harness(rise, START);
    // 0.3 m/h, read at irregular moments.
    const at = [0, 4, 11, 13, 25, 31, 38];
    for (const minute of at) {
      h.clock.set(START + minute * MINUTE);
      h.feed('pont/niveau', 1 + (0.3 * minute) / 60);
    }
    expect(h.kinds()).toEqual(['raised:pont/niveau']);
    expect(h.changes[0].alert.value).toBeCloseTo(0.3, 6);
  });

  it('says nothing of a slow rise, nor of a fall unless told to watch falls', () => {
    const h = new Harness(rise, START);
    h.feed('pont/niveau', 2);
    const level = readings(h, 2, 0.001, 60); // 0.06 m/h
    readings(h, level, -0.02, 60); // falling 1.2 m/h
    expect(h.changes).toEqual([]);

    const fall = new Harness([{ ...RISE, id: 'baisse', direction: 'fall' }], START);
    fall.feed('pont/niveau', 3);
    readings(fall, 3, -0.01, 30);
    expect(fall.kinds()).toEqual(['raised:pont/niveau']);
    expect(fall.changes[0].alert.value).toBeCloseTo(-0.6, 6);
    expect(fall.changes[0].alert.message).toContain('Baisse rapide de Niveau de la Moselle');
  });

  it('ignores bad readings: they neither make a change nor end the history', () => {
    const h = new Harness(rise, START);
    h.feed('pont/niveau', 2);
    for (let i = 1; i <= 40; i++) {
      h.advance(MINUTE);
      const point = h.point('pont/niveau');
      if (i % 10 === 0) {
        // A bad reading with a wild value, then a missing one.
        feed(point, 9.99, h.clock.now(), 'bad');
        h.engine.observePoint(point, h.clock.now());
        h.feed('pont/niveau', null);
      } else h.feed('pont/niveau', 2 + i * 0.001); // 0.06 m/h
    }
    expect(h.changes).toEqual([]);
  });

  it('measures no change across a gap longer than the window', () => {
    const h = new Harness(rise, START);
    h.feed('pont/niveau', 2);
    readings(h, 2, 0, 30);
    h.advance(45 * MINUTE); // silent
    h.feed('pont/niveau', 2.5); // +0.5 m since the last reading, 45 min ago
    readings(h, 2.5, 0, 40);
    expect(h.changes).toEqual([]);
  });

  it('keeps an open alert through a silence, then clears it once the readings span the window again', () => {
    const h = new Harness(rise, START);
    h.feed('pont/niveau', 2);
    const level = readings(h, 2, 0.01, 30);
    expect(h.kinds()).toEqual(['raised:pont/niveau']);
    h.advance(2 * 60 * MINUTE); // silent: nothing known, nothing changes
    expect(h.kinds()).toEqual(['raised:pont/niveau']);
    h.feed('pont/niveau', level);
    readings(h, level, 0, 29);
    expect(h.kinds()).toEqual(['raised:pont/niveau']);
    readings(h, level, 0, 1);
    expect(h.kinds()).toEqual(['raised:pont/niveau', 'cleared:pont/niveau']);
  });

  it('waits for_s with the change beyond per_hour', () => {
    const h = new Harness([{ ...RISE, for_s: 600 }], START);
    h.feed('pont/niveau', 2);
    const level = readings(h, 2, 0.01, 39);
    expect(h.changes).toEqual([]);
    readings(h, level, 0.01, 1);
    expect(h.changes.map((c) => c.alert.raisedAt)).toEqual([START + 40 * MINUTE]);
  });
});
