import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog } from '../../../controller/audit/auditLog';
import type { AuditEntry } from '../../../controller/audit/entry';
import { Bus } from '../../../controller/bus';
import { ManualClock } from '../../../core/clock';
import { RecordingLogger } from '../../unit/api/harness';

// The audit log's retention on real files: addresses cut after ipDays by a durable rewrite, files
// deleted after retentionDays, both at start and as the service runs.

const DAY = 86_400_000;
const START = Date.parse('2026-01-10T12:00:00Z');

function entry(from: string, via: AuditEntry['via'] = 'api'): Omit<AuditEntry, 'at'> {
  return {
    actor: 'marie',
    role: 'lighting-manager',
    via,
    from,
    action: 'override',
    target: 'zone metz-a',
    communes: ['metz'],
    result: 'ok',
    status: 201,
    message: 'override at 40 %',
  };
}

describe('audit retention on disk', () => {
  let dir: string;
  let clock: ManualClock;
  let logger: RecordingLogger;
  const logs: AuditLog[] = [];
  const open = (): AuditLog => {
    const log = new AuditLog(dir, { bus: new Bus(logger), clock, logger }, { ipDays: 30, retentionDays: 90 });
    logs.push(log);
    return log;
  };
  const entries = async (name: string): Promise<AuditEntry[]> =>
    (await readFile(path.join(dir, 'audit', name), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEntry);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-audit-retention-'));
    clock = new ManualClock(START);
    logger = new RecordingLogger();
  });
  afterEach(async () => {
    for (const log of logs.splice(0)) await log.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('cuts client addresses after 30 days, once, keeping every other field, then deletes the day after 90', async () => {
    const log = open();
    await log.start();
    const written = [
      await log.record(entry('192.0.2.57')),
      await log.record(entry('2001:db8:4:7::1', 'console')),
      await log.record(entry('police-dispatch-1', 'mqtt')),
    ];
    clock.advance(29 * DAY);
    await log.record(entry('198.51.100.9')); // a younger day: kept whole
    await log.maintain();
    expect(await entries('audit-2026-01-10.jsonl')).toEqual(written);

    clock.advance(2 * DAY);
    await log.maintain();
    expect(await entries('audit-2026-01-10.jsonl')).toEqual([
      { ...written[0], from: '192.0.2.0' },
      { ...written[1], from: '2001:db8:4::' },
      written[2],
    ]);
    expect((await entries('audit-2026-02-08.jsonl'))[0].from).toBe('198.51.100.9');
    expect(await readdir(path.join(dir, 'audit'))).toEqual(expect.arrayContaining(['addresses-cut-through']));
    expect(await readdir(path.join(dir, 'audit'))).not.toContain('audit-2026-01-10.jsonl.tmp');

    // Done once: the next pass, even after a restart, leaves the file alone.
    const before = (await stat(path.join(dir, 'audit', 'audit-2026-01-10.jsonl'))).mtimeMs;
    await log.stop();
    const again = open();
    await again.start();
    expect((await stat(path.join(dir, 'audit', 'audit-2026-01-10.jsonl'))).mtimeMs).toBe(before);

    // The queries see the cut entries; past 90 days the file goes.
    expect((await again.query({ limit: 10 }, ['*'])).map((e) => e.from)).toEqual([
      '198.51.100.9',
      'police-dispatch-1',
      '2001:db8:4::',
      '192.0.2.0',
    ]);
    clock.advance(60 * DAY);
    await again.maintain();
    expect((await readdir(path.join(dir, 'audit'))).filter((n) => n.endsWith('.jsonl'))).toEqual([
      'audit-2026-02-08.jsonl',
    ]);
  });

  it('runs by itself as the service runs, and at start', async () => {
    const log = open();
    await log.start();
    await log.record(entry('192.0.2.57'));
    await log.stop();
    clock.advance(31 * DAY);
    const again = open();
    await again.start(); // at start
    expect((await entries('audit-2026-01-10.jsonl'))[0].from).toBe('192.0.2.0');

    await again.record(entry('203.0.113.5'));
    clock.advance(31 * DAY); // the periodic pass fires on the way
    const deadline = Date.now() + 5000;
    while ((await entries('audit-2026-02-10.jsonl'))[0].from !== '203.0.113.0') {
      if (Date.now() > deadline) throw new Error('the periodic pass did not cut the address');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});
