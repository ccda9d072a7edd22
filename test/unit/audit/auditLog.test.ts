import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceSection } from '../../../config/schema/service';
import {
  AuditLog,
  auditLogOptionsFromConfig,
  coerceAuditLogOptions,
} from '../../../controller/audit/auditLog';
import type { AuditEntry } from '../../../controller/audit/entry';
import { Bus } from '../../../controller/bus';
import { ManualClock } from '../../../core/clock';
import type { LightingCommandEvent } from '../../../controller/lighting/runtime/events';
import { RecordingLogger } from '../api/harness';

const NIGHT = Date.parse('2025-07-13T23:59:59.000Z');

function entry(overrides: Partial<AuditEntry> = {}): Omit<AuditEntry, 'at'> {
  return {
    actor: 'police-metz',
    role: 'emergency',
    via: 'api',
    from: '10.0.0.7',
    action: 'relight',
    target: 'zone metz-a',
    communes: ['metz'],
    result: 'ok',
    status: 201,
    message: 'relight at 100 %',
    ...overrides,
  };
}

describe('AuditLog', () => {
  let dir: string;
  let clock: ManualClock;
  let bus: Bus;
  let logger: RecordingLogger;
  const logs: AuditLog[] = [];

  const open = (options = {}): AuditLog => {
    const log = new AuditLog(dir, { bus, clock, logger }, options);
    logs.push(log);
    return log;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-audit-'));
    clock = new ManualClock(NIGHT - 10_000);
    logger = new RecordingLogger();
    bus = new Bus(logger);
  });

  afterEach(async () => {
    for (const log of logs.splice(0)) await log.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const files = async (): Promise<string[]> => (await readdir(path.join(dir, 'audit'))).sort();
  const lines = async (name: string): Promise<AuditEntry[]> =>
    (await readFile(path.join(dir, 'audit', name), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);

  it('appends JSON lines, then tells the bus', async () => {
    const log = open();
    const heard: AuditEntry[] = [];
    bus.on('auditRecorded', {}, (e) => heard.push(e));
    await log.start();
    const written = await log.record(entry());
    expect(written.at).toBe(clock.now());
    expect(await files()).toEqual(['audit-2025-07-13.jsonl']);
    expect(await lines('audit-2025-07-13.jsonl')).toEqual([written]);
    expect(heard).toEqual([written]);
    expect(log.stats()).toEqual({ written: 1, failed: 0 });
  });

  it('keeps what is recorded before it starts, and writes it at the start', async () => {
    const log = open();
    const early = log.record(entry({ target: 'early' }));
    await log.start();
    await expect(early).resolves.toMatchObject({ target: 'early' });
    expect((await lines('audit-2025-07-13.jsonl')).map((e) => e.target)).toEqual(['early']);
  });

  it('starts a new file each UTC day and when a file is full, and carries on after a restart', async () => {
    const log = open({ maxFileBytes: 600 });
    await log.start();
    await log.record(entry({ target: 'before midnight' }));
    clock.advance(20_000);
    for (let i = 0; i < 4; i++) await log.record(entry({ target: `after midnight ${i}` }));
    expect(await files()).toEqual([
      'audit-2025-07-13.jsonl',
      'audit-2025-07-14.1.jsonl',
      'audit-2025-07-14.jsonl',
    ]);
    expect(
      (await lines('audit-2025-07-14.jsonl')).length + (await lines('audit-2025-07-14.1.jsonl')).length,
    ).toBe(4);
    await log.stop();

    const again = open({ maxFileBytes: 600 });
    await again.start();
    await again.record(entry({ target: 'after restart' }));
    // The day's last file was full: the next one, nothing overwritten.
    expect(await files()).toEqual([
      'audit-2025-07-13.jsonl',
      'audit-2025-07-14.1.jsonl',
      'audit-2025-07-14.2.jsonl',
      'audit-2025-07-14.jsonl',
    ]);
    expect((await lines('audit-2025-07-14.2.jsonl')).map((e) => e.target)).toEqual(['after restart']);
    const all = await again.query({ limit: 100 }, ['*']);
    expect(all.map((e) => e.target)).toEqual([
      'after restart',
      'after midnight 3',
      'after midnight 2',
      'after midnight 1',
      'after midnight 0',
      'before midnight',
    ]);
  });

  it('answers queries by time, actor, commune and action, newest first, within the reader’s communes', async () => {
    const log = open();
    await log.start();
    await log.record(entry({ target: 'a', communes: ['metz'] }));
    clock.advance(1000);
    await log.record(entry({ target: 'b', communes: ['woippy'], actor: 'sdis-57' }));
    clock.advance(1000);
    await log.record(entry({ target: 'c', communes: ['*'], actor: 'admin', action: 'put-program' }));
    clock.advance(1000);
    await log.record(entry({ target: 'd', communes: [], actor: 'eclairage-metz', action: 'delete-program' }));

    const targets = async (
      query: Parameters<AuditLog['query']>[0],
      scope: string[],
      self?: string,
    ): Promise<string[]> => (await log.query(query, scope, self)).map((e) => e.target);
    expect(await targets({ limit: 10 }, ['*'])).toEqual(['d', 'c', 'b', 'a']);
    expect(await targets({ limit: 2 }, ['*'])).toEqual(['d', 'c']);
    expect(await targets({ limit: 10, from: NIGHT - 9000, to: NIGHT - 8000 }, ['*'])).toEqual(['c', 'b']);
    expect(await targets({ limit: 10, actor: 'sdis-57' }, ['*'])).toEqual(['b']);
    expect(await targets({ limit: 10, action: 'put-program' }, ['*'])).toEqual(['c']);
    expect(await targets({ limit: 10, commune: 'metz' }, ['*'])).toEqual(['c', 'a']);
    // A Metz reader: Metz, territory-wide, and their own entry of no commune.
    expect(await targets({ limit: 10 }, ['metz'], 'eclairage-metz')).toEqual(['d', 'c', 'a']);
  });

  it('skips a line cut short by a crash and reads the others', async () => {
    const log = open();
    await log.start();
    await log.record(entry({ target: 'first' }));
    await appendFile(path.join(dir, 'audit', 'audit-2025-07-13.jsonl'), '{"at":12,"actor":"x"');
    await appendFile(path.join(dir, 'audit', 'audit-2025-07-13.jsonl'), '\n');
    await log.record(entry({ target: 'second' }));
    expect((await log.query({ limit: 10 }, ['*'])).map((e) => e.target)).toEqual(['second', 'first']);
    expect(logger.lines.some((l) => l.includes('unreadable line skipped'))).toBe(true);
  });

  it('records commands given over MQTT from the lighting runtime’s events, refused ones too, and only those', async () => {
    const log = open();
    log.listen();
    await log.start();
    const event = (over: Partial<LightingCommandEvent>): LightingCommandEvent => ({
      at: clock.now(),
      kind: 'relight',
      id: 'r-7',
      state: 'accepted',
      communes: ['metz'],
      severity: 'critical',
      message: "Emergency relight 'r-7' accepted",
      source: 'zone metz-a',
      actor: 'cta-codis-57',
      via: 'mqtt',
      from: 'nocturne/bridge/request/relight',
      ...over,
    });
    bus.emit('lightingCommandChanged', event({}));
    bus.emit('lightingCommandChanged', event({ state: 'confirmed' })); // progress, not a command
    bus.emit('lightingCommandChanged', event({ via: 'api' })); // the API records its own
    bus.emit(
      'lightingCommandChanged',
      event({ state: 'cleared', from: 'nocturne/bridge/request/clear-relight' }),
    );
    bus.emit('lightingRequestRefused', {
      at: clock.now(),
      command: 'relight',
      actor: 'cta-codis-57',
      via: 'mqtt',
      from: 'nocturne/bridge/request/relight',
      target: '{"zone":"metz-nowhere"}',
      message: "unknown zone 'metz-nowhere'",
    });
    await log.flush();
    const found = await log.query({ limit: 10 }, ['*']);
    expect(found.map((e) => [e.action, e.actor, e.from, e.target, e.result])).toEqual([
      ['relight', 'cta-codis-57', 'nocturne/bridge/request/relight', '{"zone":"metz-nowhere"}', 'refused'],
      ['clear-relight', 'cta-codis-57', 'nocturne/bridge/request/clear-relight', 'zone metz-a', 'ok'],
      ['relight', 'cta-codis-57', 'nocturne/bridge/request/relight', 'zone metz-a', 'ok'],
    ]);
  });

  const refusal = (overrides: Partial<AuditEntry> = {}): Omit<AuditEntry, 'at'> =>
    entry({
      actor: 'unknown',
      via: 'mqtt',
      from: 'nocturne/bridge/request/relight',
      role: undefined,
      status: undefined,
      target: 'unknown',
      communes: [],
      result: 'refused',
      message: 'the payload is not JSON',
      ...overrides,
    });
  const sizes = async (): Promise<number[]> =>
    Promise.all((await files()).map(async (name) => (await stat(path.join(dir, 'audit', name))).size));

  it('writes identical refusals once per window, then once more with their count', async () => {
    const log = open();
    const heard: AuditEntry[] = [];
    bus.on('auditRecorded', {}, (e) => heard.push(e));
    await log.start();
    clock.set(Date.parse('2025-07-14T12:00:00Z'));
    const flood = Array.from({ length: 1000 }, () => log.record(refusal()));
    // Each caller is answered at once: the repeats are on disk in the entry that counts them.
    expect(await Promise.all(flood)).toHaveLength(1000);
    await log.flush();
    expect(await log.query({ limit: 10 }, ['*'])).toHaveLength(1);

    clock.advance(60_000);
    await log.flush();
    const found = await log.query({ limit: 10 }, ['*']);
    expect(found.map((e) => [e.count, e.message])).toEqual([
      [999, '999 more identical refusal(s) within 60 s; the last: the payload is not JSON'],
      [undefined, 'the payload is not JSON'],
    ]);
    expect(heard).toEqual(found.reverse());
  });

  it('writes at most 10 different refusals per window over MQTT, and the first of each action; the rest are counted per action', async () => {
    const log = open();
    await log.start();
    clock.set(Date.parse('2025-07-14T12:00:00Z'));
    for (let i = 0; i < 100; i++) void log.record(refusal({ target: `{"zone":"z-${i}"}` }));
    void log.record(refusal({ action: 'clear-relight', from: 'nocturne/bridge/request/clear-relight' }));
    await log.stop(); // what the window held is written at stop too
    const kept = (await lines('audit-2025-07-14.jsonl')).map((e) => [e.action, e.target, e.count]);
    expect(kept).toHaveLength(12);
    expect(kept.slice(0, 10)).toEqual(
      Array.from({ length: 10 }, (_, i) => ['relight', `{"zone":"z-${i}"}`, undefined]),
    );
    // The first refusal of another action is written whole all the same.
    expect(kept.slice(10)).toEqual([
      ['clear-relight', 'unknown', undefined],
      ['relight', '{"zone":"z-99"}', 90],
    ]);
  });

  it("never lets one user's flood of refusals hide another user's", async () => {
    const log = open();
    await log.start();
    clock.set(Date.parse('2025-07-14T12:00:00Z'));
    const refusedApi = (actor: string, target: string): Omit<AuditEntry, 'at'> =>
      entry({ actor, target, result: 'refused', status: 403, message: 'outside your communes' });
    for (let i = 0; i < 100; i++) void log.record(refusedApi('energy-metz', `zone z-${i}`));
    void log.record(refusedApi('lighting-woippy', 'zone metz-a'));
    await log.stop();
    const kept = (await lines('audit-2025-07-14.jsonl')).map((e) => [e.actor, e.target, e.count]);
    expect(kept).toHaveLength(12);
    expect(kept).toContainEqual(['lighting-woippy', 'zone metz-a', undefined]);
    expect(kept.filter(([actor]) => actor === 'energy-metz')).toHaveLength(11);
    expect(kept).toContainEqual(['energy-metz', 'zone z-99', 90]);
  });

  it('writes every success, whole, however many and however alike', async () => {
    const log = open();
    await log.start();
    const target = `luminaires ${Array.from({ length: 500 }, (_, i) => `metz-l-${i}`).join(', ')}`;
    await Promise.all(Array.from({ length: 300 }, () => log.record(entry({ target }))));
    const written = await log.query({ limit: 1000 }, ['*']);
    expect(written).toHaveLength(300);
    expect(written.every((e) => e.target === target && e.count === undefined)).toBe(true);
  });

  it('keeps only a short escaped excerpt of the text of a refused or failed request', async () => {
    const log = open();
    await log.start();
    const big = `zone\n${'x'.repeat(240 * 1024)}`;
    await log.record(
      entry({ result: 'refused', status: 400, actor: big, target: big, message: big, id: big }),
    );
    await log.record(entry({ result: 'failed', status: 503, target: big, message: big }));
    const [refused, failed] = await lines('audit-2025-07-13.jsonl');
    expect(refused.target).toBe(`zone\\u000a${'x'.repeat(189)}…`);
    expect([refused.actor.length, refused.id?.length, refused.message.length]).toEqual([200, 200, 1000]);
    expect([failed.target.length, failed.message.length]).toEqual([200, 1000]);
    expect((await sizes())[0]).toBeLessThan(4096);
  });

  it('keeps every file and the whole directory within their bounds, deleting the oldest files', async () => {
    const log = open({ maxFileBytes: 1000, maxTotalBytes: 3000 });
    await log.start();
    clock.set(Date.parse('2025-07-14T12:00:00Z'));
    for (let i = 0; i < 40; i++) {
      // One at a time, then a whole batch at once: neither may overfill a file.
      if (i < 20) await log.record(entry({ target: `zone metz-${i}` }));
      else void log.record(entry({ target: `zone metz-${i}` }));
    }
    await log.flush();
    const kept = await sizes();
    expect(Math.max(...kept)).toBeLessThanOrEqual(1000);
    expect(kept.reduce((a, b) => a + b)).toBeLessThanOrEqual(3000);
    expect(
      logger.lines.filter((l) => l.includes('deleted, to keep the audit log within 3000 bytes')),
    ).not.toEqual([]);
    // Queries read across the files that are left, newest first.
    const targets = (await log.query({ limit: 1000 }, ['*'])).map((e) => e.target);
    expect(targets.length).toBeGreaterThanOrEqual(8);
    expect(targets).toEqual(Array.from({ length: targets.length }, (_, i) => `zone metz-${39 - i}`));
  });

  it('deletes the files of days beyond the retention, at start and when a new file starts', async () => {
    await mkdir(path.join(dir, 'audit'));
    await writeFile(path.join(dir, 'audit', 'audit-2024-07-12.jsonl'), '{}\n');
    await writeFile(path.join(dir, 'audit', 'audit-2025-07-01.jsonl'), '{}\n');
    const log = open({ retentionDays: 30 });
    await log.start();
    expect(await files()).toEqual(['audit-2025-07-01.jsonl']);
    clock.set(Date.parse('2025-08-01T12:00:00Z'));
    await log.record(entry());
    expect(await files()).toEqual(['audit-2025-08-01.jsonl']);
    expect(logger.lines.filter((l) => l.includes('older than 30 days'))).toHaveLength(2);
  });

  it('takes its bounds from service.audit_*, 16 MiB files within 1 GiB for a year by default', () => {
    expect(coerceAuditLogOptions(auditLogOptionsFromConfig(ServiceSection.parse(undefined)))).toEqual({
      maxFileBytes: 16 * 1024 * 1024,
      maxTotalBytes: 1024 * 1024 * 1024,
      retentionDays: 366,
      ipDays: 30,
      refusalWindowMs: 60_000,
    });
  });

  it('refuses entries once stopped, putting them whole in the service log', async () => {
    const log = open();
    await log.start();
    await log.stop();
    await expect(log.record(entry({ target: 'too late' }))).rejects.toThrow('the audit log is stopped');
    expect(logger.lines.find((l) => l.includes('not written'))).toContain('too late');
    expect(log.stats().failed).toBe(1);
  });

  it('reports a disk that refuses the write', async () => {
    const log = open();
    await log.start();
    await rm(path.join(dir, 'audit'), { recursive: true });
    await expect(log.record(entry())).rejects.toThrow(/could not write to .*audit/);
  });
});
