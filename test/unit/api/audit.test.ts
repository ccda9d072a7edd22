import { appendFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditLog, type AuditEntry } from '../../../controller/api/audit';
import { Bus } from '../../../controller/bus';
import { ManualClock } from '../../../controller/clock';
import type { LightingCommandEvent } from '../../../controller/lighting/runtime/events';
import { RecordingLogger } from './harness';

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
