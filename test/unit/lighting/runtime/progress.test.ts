import type { LightingTopology } from '../../../../controller/lighting/topology';
import type { CommandProgress } from '../../../../controller/lighting/runtime/lightingService';
import { CommandTracker, ProgressBoard } from '../../../../controller/lighting/runtime/progress';
import { ManualClock } from '../../../../core/clock';

const REPORT_EVERY_MS = 200;
const same = (a: number, b: number): boolean => a === b;

function board(): { board: ProgressBoard; clock: ManualClock; reports: CommandProgress[] } {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 22));
  const reports: CommandProgress[] = [];
  const topology = { ids: ['l0', 'l1', 'l2', 'l3'] } as unknown as LightingTopology;
  const progressBoard = new ProgressBoard(
    topology,
    clock,
    { keep: 10, reportEveryMs: REPORT_EVERY_MS },
    (_tracker, progress) => reports.push(progress),
  );
  return { board: progressBoard, clock, reports };
}

/** A command of `slot` at 100 % on luminaires 0-3, priority 1. */
function tracked(slot: 'emergency' | 'override', acceptedAt: number): CommandTracker {
  const tracker = new CommandTracker('c-' + slot, slot, 100, 1, { kind: 'all' }, ['metz'], acceptedAt, 4);
  for (let i = 0; i < 4; i++) tracker.track(i);
  return tracker;
}

describe('ProgressBoard', () => {
  it('reports a moving command at most every reportEveryMs, and at once when it is done', () => {
    const { board: b, clock, reports } = board();
    b.begin(tracked('override', clock.now()));
    clock.advance(REPORT_EVERY_MS);
    expect(reports.map((r) => r.confirmed)).toEqual([0]);

    b.confirm(0, 100, same, 1, 100);
    clock.advance(REPORT_EVERY_MS / 2);
    b.confirm(1, 100, same, 1, 100); // a second read-back does not push the report back
    clock.advance(REPORT_EVERY_MS / 2 - 1);
    expect(reports).toHaveLength(1);
    clock.advance(1);
    expect(reports.map((r) => r.confirmed)).toEqual([0, 2]);

    b.confirm(2, 100, same, 1, 100);
    b.confirm(3, 100, same, 1, 100);
    clock.advance(0);
    expect(reports.at(-1)).toMatchObject({ confirmed: 4, done: true, doneAt: clock.now() });
  });

  it('says when an emergency relight last had nothing left pending; an override does not count', () => {
    const { board: b, clock } = board();
    expect(b.relightDoneAt).toBe(Number.NEGATIVE_INFINITY);
    b.begin(tracked('override', clock.now()));
    for (let i = 0; i < 4; i++) b.confirm(i, 100, same, 1, 100);
    expect(b.relightDoneAt).toBe(Number.NEGATIVE_INFINITY);

    b.begin(tracked('emergency', clock.now()));
    for (let i = 0; i < 3; i++) b.confirm(i, 100, same, 1, 100);
    expect(b.relightPending).toBe(true);
    clock.advance(500);
    b.fail(3, 'metz-sc-01', 'timeout');
    expect(b.relightPending).toBe(false);
    expect(b.relightDoneAt).toBe(clock.now());
  });
});
