import { Bus } from '../../../../controller/bus';
import {
  ChangeFeed,
  FLUSH_SLICE,
  RELIGHT_FIRST_MS,
  RELIGHT_SETTLE_MS,
} from '../../../../controller/lighting/runtime/changeFeed';
import type { LightingParts } from '../../../../controller/lighting/runtime/parts';
import type { ZoneStatePublisher } from '../../../../controller/lighting/runtime/zoneState';
import { ManualClock } from '../../../../core/clock';
import { RecordingLogger } from './fakes';

const COUNT = 5 * FLUSH_SLICE;
const BATCH_MS = 250;

/**
 * A feed over COUNT luminaires whose zone states record what they are told (the feed's last step for
 * every luminaire of a slice); no bus listener nor subscriber, so nothing else of the parts is read.
 */
function feedOver(onTold: (i: number, feed: ChangeFeed) => void): {
  feed: ChangeFeed;
  clock: ManualClock;
  board: { relightPending: boolean; relightDoneAt: number };
} {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 22));
  const logger = new RecordingLogger();
  const feed = new ChangeFeed({ bus: new Bus(logger), clock, logger, batchMs: BATCH_MS });
  const board = { relightPending: false, relightDoneAt: Number.NEGATIVE_INFINITY };
  const parts = { topology: { count: COUNT }, board } as unknown as LightingParts;
  feed.start(parts, { changed: (i: number) => onTold(i, feed) } as unknown as ZoneStatePublisher);
  return { feed, clock, board };
}

const pendingLength = (feed: ChangeFeed): number =>
  (feed as unknown as { pendingList: number[] }).pendingList.length;

describe('ChangeFeed', () => {
  it('tells every changed luminaire once, in slices, after the batch interval', () => {
    const told: number[] = [];
    const { feed, clock } = feedOver((i) => told.push(i));
    for (let i = 0; i < COUNT; i++) feed.levelChanged(i);
    feed.levelChanged(7); // again, while pending: told once
    clock.advance(BATCH_MS - 1);
    expect(told).toEqual([]);
    clock.advance(1);
    expect(told.length).toBe(COUNT);
    expect(new Set(told).size).toBe(COUNT);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('keeps its pending list within twice the luminaires while changes keep coming between slices', () => {
    // Each luminaire told is changed again at once for a while: the list never empties in that time.
    let rounds = 0;
    let longest = 0;
    const { feed, clock } = feedOver((i, f) => {
      longest = Math.max(longest, pendingLength(f));
      if (rounds < 20 * COUNT) {
        rounds++;
        f.levelChanged(i);
      }
    });
    for (let i = 0; i < COUNT; i++) feed.levelChanged(i);
    clock.advance(BATCH_MS);
    expect(rounds).toBe(20 * COUNT);
    expect(longest).toBeLessThanOrEqual(2 * COUNT);
    // Once the changes stop, the last ones are told and the list is empty.
    clock.advance(BATCH_MS);
    expect(pendingLength(feed)).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('holds the levels back while an emergency relight waits for its read-backs, for a bounded time', () => {
    const told: number[] = [];
    const { feed, clock, board } = feedOver((i) => told.push(i));
    board.relightPending = true;
    for (let i = 0; i < COUNT; i++) feed.levelChanged(i);
    clock.advance(BATCH_MS + 1000);
    expect(told).toEqual([]);
    // Confirmed: the batch waits RELIGHT_SETTLE_MS more (other shards of the machine still confirming
    // theirs), then is told at the next look, slice after slice.
    board.relightPending = false;
    board.relightDoneAt = clock.now();
    clock.advance(RELIGHT_SETTLE_MS - 50);
    expect(told).toEqual([]);
    clock.advance(50);
    expect(told.length).toBe(COUNT);

    // A relight that never gets its read-backs holds a batch back no longer than RELIGHT_FIRST_MS.
    told.length = 0;
    board.relightDoneAt = Number.NEGATIVE_INFINITY;
    board.relightPending = true;
    for (let i = 0; i < COUNT; i++) feed.levelChanged(i);
    clock.advance(BATCH_MS + RELIGHT_FIRST_MS - 60);
    expect(told).toEqual([]);
    clock.advance(60);
    expect(told.length).toBe(COUNT);
  });
});
