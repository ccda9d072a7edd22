import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Bus } from '../bus';
import type { Clock } from '../clock';
import type { Component } from '../lifecycle';
import type { LightingCommandEvent, LightingRequestRefused } from '../lighting/runtime/events';
import type { Actor, Role } from '../lighting/runtime/api';
import type { Logger } from '../logger';
import { coversAny } from './access';

export const AUDIT_ACTIONS = [
  'relight',
  'clear-relight',
  'override',
  'release-override',
  'put-program',
  'delete-program',
  'put-calendar',
  'delete-calendar',
  'assign-calendar',
  'acknowledge-alert',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One command, as the audit log keeps it: who, what, when, from where, and its result. */
export interface AuditEntry {
  /** Epoch ms. */
  at: number;
  /** Configuration user id; over MQTT, the actor the dispatch system named. */
  actor: string;
  /** Absent for MQTT requests: the broker's ACL, not a configured user, let them in. */
  role?: Role;
  via: Actor['via'];
  /** Client address (HTTP) or client id / topic (MQTT). */
  from: string;
  action: AuditAction;
  /** What it was about, as an operator reads it: 'zone metz-rue-serpenoise', 'program eco', 'alert 12'. */
  target: string;
  /** Communes concerned; '*' for the whole territory; empty when unknown (a refused request). */
  communes: string[];
  /** ok: done; refused: not allowed, invalid or in conflict (4xx); failed: the service could not (5xx). */
  result: 'ok' | 'refused' | 'failed';
  /** HTTP status; absent for MQTT. */
  status?: number;
  /** What was done, or why not. */
  message: string;
  /** Id of the command, program, calendar or alert. */
  id?: string;
}

export interface AuditQuery {
  from?: number;
  to?: number;
  actor?: string;
  commune?: string;
  action?: AuditAction;
  /** Newest entries first, at most this many. */
  limit: number;
}

export interface AuditLogOptions {
  /** A file is rotated when it reaches this size, and at each UTC day. Default 64 MiB. */
  maxFileBytes?: number;
}

const FILE_PATTERN = /^audit-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl$/;

interface Pending {
  entry: AuditEntry;
  line: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The audit log: append-only JSON lines under `<stateDir>/audit/`, one file per UTC day (and more when
 * a day's file grows past its limit). Entries are written in small batches, each made durable by
 * fsync before the callers waiting on it resume; then every entry goes on the bus as
 * `auditRecorded`, from which the telemetry writes it to InfluxDB. Commands given over MQTT reach the
 * lighting runtime directly; their bus events (`lightingCommandChanged`, via 'mqtt') are recorded here.
 */
export class AuditLog implements Component {
  readonly name = 'audit log';
  readonly dir: string;
  private readonly maxFileBytes: number;
  private queue: Pending[] = [];
  private writing?: Promise<void>;
  private file?: { handle: FileHandle; day: string; index: number; size: number };
  private started = false;
  private stopped = false;
  private counts = { written: 0, failed: 0 };

  constructor(
    stateDir: string,
    private readonly deps: { bus: Bus; clock: Clock; logger: Logger },
    options: AuditLogOptions = {},
  ) {
    this.dir = path.join(stateDir, 'audit');
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
  }

  /**
   * Listens to the lighting runtime's command events. Called by the composition root when it wires
   * the service, so that MQTT commands arriving before start() are queued, not missed.
   */
  listen(): void {
    this.deps.bus.on('lightingCommandChanged', this, (event) => this.onLightingCommand(event));
    this.deps.bus.on('lightingRequestRefused', this, (event) => this.onRefusedRequest(event));
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.started = true;
    if (this.queue.length > 0) this.writing ??= this.drain();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deps.bus.removeListeners(this);
    if (!this.started) this.abandon(this.queue.splice(0), 'the audit log never started');
    try {
      await this.flush();
    } finally {
      const file = this.file;
      this.file = undefined;
      await file?.handle.close();
    }
  }

  stats(): { written: number; failed: number } {
    return { ...this.counts };
  }

  /**
   * Appends an entry; resolves once it is on disk. Before start() the entry waits in the queue. After
   * stop(), or when the disk refuses it, it goes to the log in full and the promise rejects.
   */
  record(entry: Omit<AuditEntry, 'at'> & { at?: number }): Promise<AuditEntry> {
    const full: AuditEntry = { at: entry.at ?? this.deps.clock.now(), ...withoutAt(entry) };
    return new Promise<AuditEntry>((resolve, reject) => {
      const pending = {
        entry: full,
        line: `${JSON.stringify(full)}\n`,
        resolve: () => resolve(full),
        reject,
      };
      if (this.stopped) return this.abandon([pending], 'the audit log is stopped');
      this.queue.push(pending);
      if (this.started) this.writing ??= this.drain();
    });
  }

  /** Waits until everything recorded so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Entries matching the query, newest first, limited to what the actor's communes cover. */
  async query(query: AuditQuery, scope: readonly string[], self?: string): Promise<AuditEntry[]> {
    await this.flush();
    const files = await this.filesBetween(query.from, query.to);
    const found: AuditEntry[] = [];
    // Newest files first, so a small limit reads little.
    for (const file of files.reverse()) {
      const entries = await this.readFile(file);
      for (const entry of entries.reverse()) {
        if (!matches(entry, query)) continue;
        if (!coversAny(scope, entry.communes) && entry.actor !== self) continue;
        found.push(entry);
        if (found.length >= query.limit) return found;
      }
    }
    return found;
  }

  private onLightingCommand(event: LightingCommandEvent): void {
    if (event.via !== 'mqtt') return; // HTTP commands are recorded by the API, with their status
    const action = MQTT_ACTIONS[`${event.kind}:${event.state}`];
    if (!action) return;
    this.record({
      at: event.at,
      actor: event.actor,
      via: 'mqtt',
      from: event.from,
      action,
      target: event.source,
      communes: [...event.communes],
      result: 'ok',
      message: event.message,
      id: event.id,
    }).catch(() => undefined); // already logged by the writer
  }

  private onRefusedRequest(event: LightingRequestRefused): void {
    this.record({
      at: event.at,
      actor: event.actor,
      via: 'mqtt',
      from: event.from,
      action: event.command,
      target: event.target,
      communes: [],
      result: 'refused',
      message: event.message,
    }).catch(() => undefined); // already logged by the writer
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.writeBatch(batch);
          this.counts.written += batch.length;
          for (const pending of batch) pending.resolve();
          for (const pending of batch) this.deps.bus.emit('auditRecorded', pending.entry);
        } catch (error) {
          this.abandon(batch, `could not write to ${this.dir}: ${(error as Error).message}`);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** Entries that cannot reach the disk still reach the service log, whole. */
  private abandon(batch: Pending[], why: string): void {
    if (batch.length === 0) return;
    this.counts.failed += batch.length;
    const message = `audit log: ${batch.length} entr${batch.length === 1 ? 'y' : 'ies'} not written: ${why}`;
    this.deps.logger.error(message, { entries: batch.map((p) => p.entry) });
    for (const pending of batch) pending.reject(new Error(message));
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    // One file per UTC day of the entries' time; a batch spanning midnight is split.
    let start = 0;
    while (start < batch.length) {
      const day = utcDay(batch[start].entry.at);
      let end = start + 1;
      while (end < batch.length && utcDay(batch[end].entry.at) === day) end++;
      const text = batch
        .slice(start, end)
        .map((p) => p.line)
        .join('');
      const file = await this.fileFor(day, Buffer.byteLength(text));
      await file.handle.write(text);
      await file.handle.sync();
      file.size += Buffer.byteLength(text);
      start = end;
    }
  }

  private async fileFor(day: string, bytes: number): Promise<NonNullable<AuditLog['file']>> {
    let file = this.file;
    if (file && file.day === day && (file.size === 0 || file.size + bytes <= this.maxFileBytes)) return file;
    let index: number;
    if (file && file.day === day) index = file.index + 1;
    else {
      // After a restart, carry on with the day's last file.
      index = Math.max(
        0,
        ...(await readdir(this.dir))
          .map((name) => FILE_PATTERN.exec(name))
          .filter((m): m is RegExpExecArray => m !== null && m[1] === day)
          .map((m) => Number(m[2] ?? 0)),
      );
    }
    await file?.handle.close();
    this.file = undefined;
    for (;;) {
      const name = path.join(this.dir, fileName(day, index));
      const size = await stat(name).then(
        (s) => s.size,
        () => 0,
      );
      if (size > 0 && size + bytes > this.maxFileBytes) {
        index++;
        continue;
      }
      file = { handle: await open(name, 'a'), day, index, size };
      this.file = file;
      return file;
    }
  }

  /** Audit files whose day may hold entries between from and to, oldest first. */
  private async filesBetween(from: number | undefined, to: number | undefined): Promise<string[]> {
    const fromDay = from === undefined ? '' : utcDay(from);
    const toDay = to === undefined ? '9999-12-31' : utcDay(to);
    return (await readdir(this.dir))
      .map((name) => ({ name, match: FILE_PATTERN.exec(name) }))
      .filter(({ match }) => match !== null && match[1] >= fromDay && match[1] <= toDay)
      .sort(
        (a, b) =>
          a.match![1].localeCompare(b.match![1]) || Number(a.match![2] ?? 0) - Number(b.match![2] ?? 0),
      )
      .map(({ name }) => path.join(this.dir, name));
  }

  private async readFile(file: string): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as AuditEntry);
      } catch {
        // A line cut short by a crash during its write: the entries around it still count.
        this.deps.logger.warn(`audit log: unreadable line skipped in ${file}`);
      }
    }
    return entries;
  }
}

const MQTT_ACTIONS: Partial<Record<string, AuditAction>> = {
  'relight:accepted': 'relight',
  'relight:cleared': 'clear-relight',
  'override:accepted': 'override',
  'override:released': 'release-override',
  'program:changed': 'put-program',
  'program:deleted': 'delete-program',
  'calendar:changed': 'put-calendar',
  'calendar:deleted': 'delete-calendar',
};

function matches(entry: AuditEntry, query: AuditQuery): boolean {
  if (query.from !== undefined && entry.at < query.from) return false;
  if (query.to !== undefined && entry.at > query.to) return false;
  if (query.actor !== undefined && entry.actor !== query.actor) return false;
  if (query.action !== undefined && entry.action !== query.action) return false;
  if (query.commune !== undefined && !entry.communes.some((c) => c === query.commune || c === '*'))
    return false;
  return true;
}

function withoutAt<T extends { at?: number }>(entry: T): Omit<T, 'at'> {
  const { at: _at, ...rest } = entry;
  return rest;
}

function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

function fileName(day: string, index: number): string {
  return index === 0 ? `audit-${day}.jsonl` : `audit-${day}.${index}.jsonl`;
}
