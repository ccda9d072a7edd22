import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../core/clock';
import { type Logger, silentLogger } from '../../../core/logger';
import { Spool, type SpoolBatch, type SpoolOptions } from '../../../drivers/influx/spool';

// The spool on a real file system (a temp dir per test); time is a ManualClock.

const T0 = Date.UTC(2026, 0, 15, 18, 0, 0);
let dir: string;
let clock: ManualClock;
const spools: Spool[] = [];

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'nocturne-spool-unit-'));
  clock = new ManualClock(T0);
});

afterEach(async () => {
  for (const spool of spools.splice(0)) await spool.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

function newSpool(options: Partial<SpoolOptions> = {}, logger: Logger = silentLogger): Spool {
  const spool = new Spool(
    {
      dir,
      maxBytes: 1 << 20,
      segmentBytes: 1 << 16,
      cursorSaveIntervalMs: 1000,
      tailMaxBytes: 1 << 20,
      ...options,
    },
    clock,
    logger,
  );
  spools.push(spool);
  return spool;
}

/** `m,s=a v=<i> <T0+i>`: 20-something bytes a line. */
const lines = (from: number, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `m,s=a v=${from + i} ${T0 + from + i}`);

/** Reads everything from the cursor on, committing each batch as InfluxDB would acknowledge it. */
async function drain(spool: Spool, maxPoints = 7, commit = true): Promise<string[]> {
  const out: string[] = [];
  let position = spool.position();
  for (;;) {
    const batch: SpoolBatch | undefined = await spool.read(position, maxPoints, 1 << 20);
    if (!batch) return out;
    expect(batch.points).toBeLessThanOrEqual(maxPoints);
    expect(batch.text.split('\n')).toHaveLength(batch.points);
    out.push(...batch.text.split('\n'));
    position = batch.end;
    if (commit) spool.commit(batch);
  }
}

async function segmentFiles(): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((name) => /^\d{16}\.lp$/.test(name)).sort();
}

async function closeAndReopen(spool: Spool, options: Partial<SpoolOptions> = {}): Promise<Spool> {
  await spool.close();
  const next = newSpool(options);
  await next.open();
  return next;
}

test('appends come back in order, in batches of at most maxPoints, across segments', async () => {
  const spool = newSpool({ segmentBytes: 200 });
  await spool.open();
  await spool.append(lines(0, 5));
  await spool.append(lines(5, 20));
  await spool.append(lines(25, 3));
  expect((await segmentFiles()).length).toBeGreaterThan(1);
  expect(await drain(spool)).toEqual(lines(0, 28));
  expect(spool.stats()).toMatchObject({ pendingPoints: 0, pendingBytes: 0 });
});

test('reading from the files gives the same batches as reading from the memory tail', async () => {
  const fromMemory = newSpool({ segmentBytes: 300 });
  await fromMemory.open();
  for (let i = 0; i < 10; i++) await fromMemory.append(lines(i * 4, 4));
  const expected = await drain(fromMemory, 5, false);
  const fromDisk = await closeAndReopen(fromMemory, { segmentBytes: 300, tailMaxBytes: 1 });
  expect(await drain(fromDisk, 5)).toEqual(expected);
  expect(expected).toEqual(lines(0, 40));
});

test('appends made together share one group and keep their call order', async () => {
  const spool = newSpool();
  await spool.open();
  let appended = 0;
  spool.on('appended', () => appended++);
  await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append(lines(i * 2, 2))));
  expect(appended).toBe(1);
  expect(await drain(spool, 1000)).toEqual(lines(0, 100));
});

test('appends within the sync interval of a group join the next one; a lone append is written at once', async () => {
  const spool = newSpool({ syncIntervalMs: 50 });
  await spool.open();
  let appended = 0;
  spool.on('appended', () => appended++);
  const started = performance.now();
  await spool.append(lines(0, 1));
  expect(appended).toBe(1);
  // Three appends a few ms apart, each before the interval since the first group ends: one group.
  const later: Promise<void>[] = [];
  for (let k = 1; k <= 3; k++) {
    later.push(spool.append(lines(k, 1)));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(later);
  expect(appended).toBe(2);
  expect(performance.now() - started).toBeGreaterThanOrEqual(49);
  expect(await drain(spool, 1000)).toEqual(lines(0, 4));
});

test('an append is acknowledged once its lines are in the segment file; fdatasync follows on its own, and close syncs the rest', async () => {
  const spool = newSpool({ syncIntervalMs: 30 });
  await spool.open();
  await spool.append(lines(0, 3));
  // In the file (the page cache: what a crash of the process leaves), the sync not yet done.
  expect(spool.stats().syncs).toBe(0);
  const [file] = await segmentFiles();
  expect(await fsp.readFile(path.join(dir, file), 'utf8')).toBe(lines(0, 3).join('\n') + '\n');
  for (let waited = 0; spool.stats().syncs === 0 && waited < 5000; waited += 5) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(spool.stats().syncs).toBe(1);
  await spool.append(lines(3, 2));
  expect(spool.stats().syncs).toBe(1);
  await spool.close();
  expect(spool.stats().syncs).toBe(2);
});

test('a segment is synced before the next one is started', async () => {
  // Each append of two lines (~50 bytes) fills a segment of 60 bytes: every append after the first starts one.
  // With no pacing, syncs of appends that follow each other closely merge; those of a rotation cannot.
  const spool = newSpool({ segmentBytes: 60, syncIntervalMs: 0 });
  await spool.open();
  for (let k = 0; k < 4; k++) await spool.append(lines(k * 2, 2));
  expect(await segmentFiles()).toHaveLength(4);
  expect(spool.stats().syncs).toBeGreaterThanOrEqual(3);
  expect(await drain(spool, 1000)).toEqual(lines(0, 8));
});

test('after a reopen, reading resumes at the persisted cursor; consumed segments are deleted', async () => {
  const spool = newSpool({ segmentBytes: 200 });
  await spool.open();
  await spool.append(lines(0, 30));
  await spool.append(lines(30, 30));
  const first = (await spool.read(spool.position(), 40, 1 << 20)) as SpoolBatch;
  spool.commit(first);
  const acknowledged = first.text.split('\n');
  expect(acknowledged).toEqual(lines(0, acknowledged.length));

  const reopened = await closeAndReopen(spool, { segmentBytes: 200 });
  expect(reopened.stats().pendingPoints).toBe(60 - acknowledged.length);
  expect(await drain(reopened)).toEqual(lines(acknowledged.length, 60 - acknowledged.length));
  await reopened.close();
  expect(await segmentFiles()).toHaveLength(1);
});

test('the cursor is saved at most once per interval while open, and at close', async () => {
  const spool = newSpool();
  await spool.open();
  await spool.append(lines(0, 10));
  const cursorFile = path.join(dir, 'cursor.json');
  const saved = async (): Promise<unknown> => JSON.parse(await fsp.readFile(cursorFile, 'utf8'));

  // Saved once at open (a fresh spool's first segment), then no more than once a second.
  await waitUntil(async () => (await saved().catch(() => undefined)) !== undefined);
  const opened = await saved();
  const first = (await spool.read(spool.position(), 4, 1 << 20)) as SpoolBatch;
  spool.commit(first);
  await settle();
  expect(await saved()).toEqual(opened);
  clock.advance(1000);
  await waitUntil(async () => JSON.stringify(await saved()) === JSON.stringify(first.end));

  const second = (await spool.read(first.end, 4, 1 << 20)) as SpoolBatch;
  spool.commit(second);
  await settle();
  expect(await saved()).toEqual(first.end);
  await spool.close();
  expect(await saved()).toEqual(second.end);
});

test('a torn last line is cut off at open and counted; appends continue on a line boundary', async () => {
  const spool = newSpool();
  await spool.open();
  await spool.append(lines(0, 10));
  await spool.close();
  const [segment] = await segmentFiles();
  await fsp.appendFile(path.join(dir, segment), 'm,s=a v=10 17');

  const reopened = newSpool();
  expect(await reopened.open()).toMatchObject({ pendingPoints: 10, tornLines: 1 });
  await reopened.append(lines(10, 5));
  expect(await drain(reopened)).toEqual(lines(0, 15));
  expect(reopened.stats().tornLines).toBe(1);
  expect(await fsp.readFile(path.join(dir, segment), 'utf8')).toBe(lines(0, 15).join('\n') + '\n');
});

test('beyond the bound, the oldest segments are dropped and counted; the newest are kept', async () => {
  const spool = newSpool({ maxBytes: 1000, segmentBytes: 250 });
  await spool.open();
  const dropped: number[] = [];
  spool.on('dropped', (info) => dropped.push(info.points));
  for (let i = 0; i < 100; i += 5) await spool.append(lines(i, 5));

  const stats = spool.stats();
  expect(stats.droppedPoints).toBeGreaterThan(0);
  expect(dropped.reduce((a, b) => a + b, 0)).toBe(stats.droppedPoints);
  expect(stats.pendingBytes).toBeLessThanOrEqual(1000);
  const kept = await drain(spool);
  expect(kept).toEqual(lines(stats.droppedPoints, 100 - stats.droppedPoints));
});

test('a batch of a dropped segment is not committed, and reading moves on to what is kept', async () => {
  const spool = newSpool({ maxBytes: 500, segmentBytes: 125 });
  await spool.open();
  await spool.append(lines(0, 4));
  const stale = (await spool.read(spool.position(), 4, 1 << 20)) as SpoolBatch;
  for (let i = 4; i < 40; i += 4) await spool.append(lines(i, 4));
  const droppedPoints = spool.stats().droppedPoints;
  expect(droppedPoints).toBeGreaterThanOrEqual(4);

  spool.commit(stale);
  expect(spool.stats().pendingPoints).toBe(40 - droppedPoints);
  expect(await drain(spool, 4)).toEqual(lines(droppedPoints, 40 - droppedPoints));
});

test('an unreadable cursor means replaying from the first segment, reported', async () => {
  const spool = newSpool();
  await spool.open();
  await spool.append(lines(0, 6));
  spool.commit((await spool.read(spool.position(), 3, 1 << 20)) as SpoolBatch);
  await spool.close();
  await fsp.writeFile(path.join(dir, 'cursor.json'), '{"segm');

  const errors: string[] = [];
  const logger: Logger = { ...silentLogger, error: (msg) => errors.push(msg), child: () => logger };
  const reopened = newSpool({}, logger);
  expect(await reopened.open()).toMatchObject({ pendingPoints: 6 });
  expect(errors).toEqual([expect.stringContaining('cursor.json is unreadable')]);
});

test('a cursor beyond the data (saved before a crash lost the tail) is brought back to the last line', async () => {
  const spool = newSpool();
  await spool.open();
  await spool.append(lines(0, 4));
  await spool.close();
  const [segment] = await segmentFiles();
  await fsp.writeFile(
    path.join(dir, 'cursor.json'),
    JSON.stringify({ segment: Number(segment.slice(0, 16)), offset: 10_000 }),
  );

  const reopened = newSpool();
  expect(await reopened.open()).toMatchObject({ pendingPoints: 0 });
  await reopened.append(lines(4, 2));
  expect(await drain(reopened)).toEqual(lines(4, 2));
});

test('the age of the oldest pending point: append time, or its own timestamp after a reopen', async () => {
  const spool = newSpool();
  await spool.open();
  expect(spool.stats().oldestPendingTime).toBeUndefined();
  await spool.append(lines(0, 3));
  clock.advance(5000);
  await spool.append(lines(3, 3));
  expect(spool.stats().oldestPendingTime).toBe(T0);
  spool.commit((await spool.read(spool.position(), 3, 1 << 20)) as SpoolBatch);
  expect(spool.stats().oldestPendingTime).toBe(T0 + 5000);

  const reopened = await closeAndReopen(spool);
  expect(reopened.stats().oldestPendingTime).toBe(T0 + 3);
});

test('append after close is refused with the reason', async () => {
  const spool = newSpool();
  await spool.open();
  await spool.close();
  await expect(spool.append(lines(0, 1))).rejects.toThrow(`spool ${dir} is closed`);
});

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await settle();
  }
  throw new Error('condition not met within 4 s');
}
