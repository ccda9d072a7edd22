import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '../../config/schema';
import type { Bus } from '../bus';
import type { Clock, Timer } from '../../core/clock';
import { excerptText } from '../../core/excerpt';
import type { Component } from '../../core/lifecycle';
import type { LightingCommandEvent, LightingRequestRefused } from '../lighting/runtime/events';
import type { AlertNotificationSettled } from '../telemetry/events';
import { coversAny } from '../scope';
import type { AuditAction, AuditEntry } from './entry';
import type { Logger } from '../../core/logger';
import { writeFileAtomically } from '../../drivers/durableFile';
import { daysToTruncate, truncateAddress } from './retention';

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
  /**
   * A new file is started when the next entry would take the current one past this size, and at each
   * UTC day. Default 16 MiB.
   */
  maxFileBytes?: number;
  /** All files together stay within this: the oldest are deleted to make room. Default 1 GiB. */
  maxTotalBytes?: number;
  /** Files of days older than this are deleted (at start and when a new file starts). Default 366. */
  retentionDays?: number;
  /** Client addresses of entries older than this are cut to their network. Default 30. */
  ipDays?: number;
  /** Identical refusals within this window collapse into one entry with their count. Default 60 s. */
  refusalWindowMs?: number;
}

export type ResolvedAuditLogOptions = Required<AuditLogOptions>;

const MIB = 1024 * 1024;
const DAY_MS = 86_400_000;

export function coerceAuditLogOptions(options: AuditLogOptions = {}): ResolvedAuditLogOptions {
  const maxTotalBytes = options.maxTotalBytes ?? 1024 * MIB;
  return {
    // A file larger than the whole bound could never be kept.
    maxFileBytes: Math.min(options.maxFileBytes ?? 16 * MIB, maxTotalBytes),
    maxTotalBytes,
    retentionDays: options.retentionDays ?? 366,
    ipDays: options.ipDays ?? 30,
    refusalWindowMs: options.refusalWindowMs ?? 60_000,
  };
}

/** The `service.audit_*` settings. */
export function auditLogOptionsFromConfig(service: Config['service']): AuditLogOptions {
  return {
    maxFileBytes: service.audit_file_mb * MIB,
    maxTotalBytes: service.audit_max_mb * MIB,
    retentionDays: service.audit_retention_days,
    ipDays: service.audit_ip_days,
  };
}

/**
 * Distinct refusals written one by one per window and source, and always the first of each action;
 * beyond them, refusals are only counted, per source and action, so that a flood of ever-different requests still costs a bounded number of
 * entries, and one user's flood never hides another's refusals. A source is an authenticated user on
 * its channel; over MQTT, where the actor is only what the payload claims, the channel as a whole.
 */
const DISTINCT_REFUSALS_PER_WINDOW = 10;

/** Longest message, and longest other text field, of an entry that is not a success (untrusted input). */
const REFUSED_MESSAGE_CHARS = 1000;
const REFUSED_FIELD_CHARS = 200;

const FILE_PATTERN = /^audit-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl$/;
/** Holds the last UTC day whose files have had their addresses cut, so that each file is rewritten once. */
const ADDRESSES_CUT_FILE = 'addresses-cut-through';
/** Retention (deletion, addresses) is applied at start and then this often. */
const MAINTENANCE_PERIOD_MS = 6 * 3_600_000;

interface Pending {
  entry: AuditEntry;
  line: string;
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** An audit file on disk. */
interface AuditFile {
  name: string;
  day: string;
  index: number;
  size: number;
}

interface OpenFile {
  handle: FileHandle;
  file: AuditFile;
}

/** Refusals of one kind held back in the current window. */
interface Repeats {
  count: number;
  last: AuditEntry;
}

interface RefusalWindow {
  timer: Timer;
  /** Refusals written in this window, by their content (all but `at`). */
  written: Set<string>;
  /** How many of those each source wrote, and whether it wrote one of an action ('source action'). */
  writtenBySource: Map<string, number>;
  /** Repeats of those, by the same key. */
  repeats: Map<string, Repeats>;
  /** Refusals beyond DISTINCT_REFUSALS_PER_WINDOW, by source and action. */
  beyond: Map<string, Repeats>;
}

/**
 * The audit log: append-only JSON lines under `<stateDir>/audit/`, one file per UTC day (and more when
 * a day's file reaches its size). Entries are written in small batches, each made durable by fsync
 * before the callers waiting on it resume; then every entry goes on the bus as `auditRecorded`, from
 * which the telemetry writes it to InfluxDB. Commands given over MQTT reach the lighting runtime
 * directly; their bus events (`lightingCommandChanged`, via 'mqtt') are recorded here.
 *
 * Bounded, so that refused requests cannot fill the disk: an entry that is not a success has its text
 * fields cut to short escaped excerpts; identical refusals within `refusalWindowMs` are written once,
 * then once more at the end of the window with their count (`count`), and at most
 * DISTINCT_REFUSALS_PER_WINDOW different ones are written per window and source (the rest counted per
 * source and action); files beyond `retentionDays` or `maxTotalBytes` are deleted, oldest first. Successful commands
 * are always written whole, one entry each.
 */
export class AuditLog implements Component {
  readonly name = 'audit log';
  readonly dir: string;
  private readonly options: ResolvedAuditLogOptions;
  private queue: Pending[] = [];
  private writing?: Promise<void>;
  /** Files on disk, oldest first. */
  private files: AuditFile[] = [];
  private totalBytes = 0;
  private current?: OpenFile;
  private refusals?: RefusalWindow;
  private started = false;
  private stopped = false;
  private maintenanceTimer?: Timer;
  private maintenancePending = false;
  /** Writes and retention passes, one at a time: no file is rewritten or deleted under a write. */
  private exclusive: Promise<unknown> = Promise.resolve();
  private counts = { written: 0, failed: 0 };

  constructor(
    stateDir: string,
    private readonly deps: { bus: Bus; clock: Clock; logger: Logger },
    options: AuditLogOptions = {},
  ) {
    this.dir = path.join(stateDir, 'audit');
    this.options = coerceAuditLogOptions(options);
  }

  /**
   * Listens to the lighting runtime's command events. Called by the composition root when it wires
   * the service, so that MQTT commands arriving before start() are queued, not missed.
   */
  listen(): void {
    this.deps.bus.on('lightingCommandChanged', this, (event) => this.onLightingCommand(event));
    this.deps.bus.on('lightingRequestRefused', this, (event) => this.onRefusedRequest(event));
    this.deps.bus.on('alertNotificationSettled', this, (event) => this.onAlertNotification(event));
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.files = await this.scan();
    this.totalBytes = this.files.reduce((sum, file) => sum + file.size, 0);
    await this.applyRetention();
    await this.truncateAddresses();
    this.started = true;
    this.scheduleMaintenance();
    if (this.queue.length > 0) this.writing ??= this.drain();
  }

  /**
   * Deletes what is past retention and cuts the addresses of entries past `ipDays`, between writes. Run
   * at start and every MAINTENANCE_PERIOD_MS; a failure is logged and tried again next time.
   */
  maintain(): Promise<void> {
    return this.oneAtATime(async () => {
      await this.applyRetention();
      await this.truncateAddresses();
    });
  }

  private scheduleMaintenance(): void {
    this.maintenanceTimer = this.deps.clock.setTimeout(() => {
      this.maintenanceTimer = undefined;
      if (this.stopped) return;
      // A pass still waiting for its turn will see the same files: no second one.
      if (!this.maintenancePending) {
        this.maintenancePending = true;
        this.maintain()
          .catch((error: Error) => this.deps.logger.error(`audit log: retention failed: ${error.message}`))
          .finally(() => (this.maintenancePending = false));
      }
      this.scheduleMaintenance();
    }, MAINTENANCE_PERIOD_MS);
  }

  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const next = this.exclusive.then(work, work);
    this.exclusive = next.catch(() => undefined);
    return next;
  }

  /**
   * Rewrites each day file that has come past `ipDays` with its client addresses cut (retention.ts), once:
   * durably (temporary file, fsync, rename: durableFile.ts), so a crash leaves the old file or the new one
   * whole. It runs between writes (oneAtATime), and only on days long past.
   */
  private async truncateAddresses(): Promise<void> {
    const marker = path.join(this.dir, ADDRESSES_CUT_FILE);
    const doneThrough = await readFile(marker, 'utf8').then(
      (text) => text.trim(),
      () => '',
    );
    const { days, through } = daysToTruncate(
      this.files.map((f) => f.day),
      doneThrough,
      this.deps.clock.now(),
      this.options.ipDays,
    );
    // A file still open for appends (no entry since its day) is closed first: the rename replaces it.
    if (this.current && days.includes(this.current.file.day)) {
      const open = this.current;
      this.current = undefined;
      await open.handle.close();
    }
    for (const file of this.files.filter((f) => days.includes(f.day))) {
      const name = path.join(this.dir, file.name);
      const lines = (await readFile(name, 'utf8')).split('\n');
      let changed = 0;
      const cut = lines.map((line) => {
        if (line.trim() === '') return line;
        try {
          const entry = JSON.parse(line) as AuditEntry;
          const from = truncateAddress(entry.from);
          if (from === entry.from) return line;
          changed++;
          return JSON.stringify({ ...entry, from });
        } catch {
          return line; // a line cut short by a crash: kept as it is, as queries skip it
        }
      });
      if (changed === 0) continue;
      const content = cut.join('\n');
      await writeFileAtomically(name, content);
      const size = Buffer.byteLength(content);
      this.totalBytes += size - file.size;
      file.size = size;
      this.deps.logger.info(`audit log: ${file.name}: ${changed} client address(es) cut to their network`);
    }
    // Written once there was something to cut, so a young log has no such file.
    if (days.length > 0 && through !== doneThrough) await writeFile(marker, `${through}\n`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.closeRefusalWindow();
    this.stopped = true;
    if (this.maintenanceTimer) this.deps.clock.clearTimeout(this.maintenanceTimer);
    this.deps.bus.removeListeners(this);
    if (!this.started) this.abandon(this.queue.splice(0), 'the audit log never started');
    try {
      await this.flush();
      await this.exclusive;
    } finally {
      const current = this.current;
      this.current = undefined;
      await current?.handle.close();
    }
  }

  stats(): { written: number; failed: number } {
    return { ...this.counts };
  }

  /**
   * Appends an entry; resolves once it is on disk. Before start() the entry waits in the queue. After
   * stop(), or when the disk refuses it, it goes to the log and the promise rejects. A refusal that
   * repeats one already written in the current window resolves at once: it is on disk as part of the
   * entry that counts it, written when the window closes.
   */
  record(entry: Omit<AuditEntry, 'at'> & { at?: number }): Promise<AuditEntry> {
    const full = bounded({ at: entry.at ?? this.deps.clock.now(), ...withoutAt(entry) });
    if (!this.stopped && full.result === 'refused' && this.heldBack(full)) return Promise.resolve(full);
    return this.enqueue(full);
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

  private enqueue(entry: AuditEntry): Promise<AuditEntry> {
    return new Promise<AuditEntry>((resolve, reject) => {
      const line = `${JSON.stringify(entry)}\n`;
      const pending = { entry, line, bytes: Buffer.byteLength(line), resolve: () => resolve(entry), reject };
      if (this.stopped) return this.abandon([pending], 'the audit log is stopped');
      this.queue.push(pending);
      if (this.started) this.writing ??= this.drain();
    });
  }

  /** Whether a refusal is only counted: it repeats one written in this window, or the window has enough. */
  private heldBack(entry: AuditEntry): boolean {
    const window = (this.refusals ??= {
      timer: this.deps.clock.setTimeout(() => this.closeRefusalWindow(), this.options.refusalWindowMs),
      written: new Set<string>(),
      writtenBySource: new Map<string, number>(),
      repeats: new Map<string, Repeats>(),
      beyond: new Map<string, Repeats>(),
    });
    const key = JSON.stringify({ ...entry, at: undefined });
    if (window.written.has(key)) {
      countIn(window.repeats, key, entry);
      return true;
    }
    const source = entry.via === 'mqtt' ? 'mqtt' : `${entry.via} ${entry.actor}`;
    const written = window.writtenBySource.get(source) ?? 0;
    const firstOfAction = !window.writtenBySource.has(`${source} ${entry.action}`);
    if (written < DISTINCT_REFUSALS_PER_WINDOW || firstOfAction) {
      window.written.add(key);
      window.writtenBySource.set(source, written + 1);
      window.writtenBySource.set(`${source} ${entry.action}`, 1);
      return false;
    }
    countIn(window.beyond, `${source} ${entry.action}`, entry);
    return true;
  }

  /** Writes what the window held back: one entry per kind of refusal, with its count. */
  private closeRefusalWindow(): void {
    const window = this.refusals;
    if (!window) return;
    this.refusals = undefined;
    this.deps.clock.clearTimeout(window.timer);
    const seconds = Math.round(this.options.refusalWindowMs / 1000);
    const write = ({ count, last }: Repeats, what: string): void => {
      const message = `${count} ${what} within ${seconds} s; the last: ${last.message}`;
      this.enqueue(bounded({ ...last, message, count })).catch(() => undefined); // already logged by the writer
    };
    for (const repeats of window.repeats.values()) write(repeats, 'more identical refusal(s)');
    for (const repeats of window.beyond.values())
      write(
        repeats,
        `more refused ${repeats.last.action} request(s) via ${repeats.last.via}, beyond the ${DISTINCT_REFUSALS_PER_WINDOW} different ones written for this source`,
      );
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

  /**
   * An alert message to a person: the recipient's id, never the address, which is personal data that
   * the configuration already holds and that would otherwise outlive the person's entry here for a year.
   */
  private onAlertNotification(event: AlertNotificationSettled): void {
    const channel = event.channel === 'email' ? 'e-mail' : 'SMS';
    this.record({
      at: event.at,
      actor: 'nocturne',
      via: 'service',
      from: event.channel,
      action: 'notify-alert',
      target: `recipient ${event.recipient}`,
      communes: [event.commune],
      result: event.delivered ? 'ok' : 'failed',
      message: event.delivered
        ? `${channel} (${event.change}) delivered`
        : `${channel} (${event.change}) given up: ${event.reason ?? 'unknown'}`,
      id: event.alertId,
    }).catch(() => undefined); // already logged by the writer
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.oneAtATime(() => this.writeBatch(batch));
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
    // One file per UTC day of the entries' time (a batch spanning midnight is split), and no file
    // past maxFileBytes (a batch that does not fit is split too).
    let start = 0;
    while (start < batch.length) {
      const day = utcDay(batch[start].entry.at);
      const current = await this.fileFor(day, batch[start].bytes);
      let bytes = batch[start].bytes;
      let end = start + 1;
      while (
        end < batch.length &&
        utcDay(batch[end].entry.at) === day &&
        current.file.size + bytes + batch[end].bytes <= this.options.maxFileBytes
      )
        bytes += batch[end++].bytes;
      await this.makeRoom(bytes);
      await current.handle.write(
        batch
          .slice(start, end)
          .map((p) => p.line)
          .join(''),
      );
      await current.handle.sync();
      current.file.size += bytes;
      this.totalBytes += bytes;
      start = end;
    }
  }

  /** The file the next `bytes` of `day` go to: the open one while they fit, else the day's next. */
  private async fileFor(day: string, bytes: number): Promise<OpenFile> {
    const fits = (file: AuditFile): boolean =>
      file.size === 0 || file.size + bytes <= this.options.maxFileBytes;
    const previous = this.current;
    if (previous && previous.file.day === day && fits(previous.file)) return previous;
    this.current = undefined;
    await previous?.handle.close();
    // After a restart or a change of day, carry on with the day's last file while it has room.
    const last = this.files.filter((f) => f.day === day).at(-1);
    const index = last ? last.index + 1 : 0;
    const file = last && fits(last) ? last : { name: fileName(day, index), day, index, size: 0 };
    this.current = { handle: await open(path.join(this.dir, file.name), 'a'), file };
    if (file !== last) {
      this.files.push(file);
      this.files.sort(byAge);
      // A new file is when old ones may have to go.
      await this.applyRetention();
    }
    return this.current;
  }

  /** Deletes the files older than retentionDays, and the oldest ones beyond maxTotalBytes. */
  private async applyRetention(): Promise<void> {
    const oldestKept = utcDay(this.deps.clock.now() - this.options.retentionDays * DAY_MS);
    for (const file of this.files.filter((f) => f.day < oldestKept))
      await this.remove(file, `older than ${this.options.retentionDays} days`);
    await this.makeRoom(0);
  }

  /** Deletes the oldest files (never the open one) until `bytes` more fit within maxTotalBytes. */
  private async makeRoom(bytes: number): Promise<void> {
    while (this.totalBytes + bytes > this.options.maxTotalBytes) {
      const oldest = this.files.find((f) => f !== this.current?.file);
      if (!oldest) return;
      await this.remove(oldest, `to keep the audit log within ${formatBytes(this.options.maxTotalBytes)}`);
    }
  }

  private async remove(file: AuditFile, why: string): Promise<void> {
    if (file === this.current?.file) return;
    await rm(path.join(this.dir, file.name), { force: true });
    this.files = this.files.filter((f) => f !== file);
    this.totalBytes -= file.size;
    this.deps.logger.info(`audit log: ${file.name} deleted, ${why}`);
  }

  /** The audit files on disk, oldest first. */
  private async scan(): Promise<AuditFile[]> {
    const files: AuditFile[] = [];
    for (const name of await readdir(this.dir)) {
      const match = FILE_PATTERN.exec(name);
      if (!match) continue;
      const { size } = await stat(path.join(this.dir, name));
      files.push({ name, day: match[1], index: Number(match[2] ?? 0), size });
    }
    return files.sort(byAge);
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
    try {
      for await (const line of lines) {
        if (line.trim() === '') continue;
        try {
          entries.push(JSON.parse(line) as AuditEntry);
        } catch {
          // A line cut short by a crash during its write: the entries around it still count.
          this.deps.logger.warn(`audit log: unreadable line skipped in ${file}`);
        }
      }
    } catch (error) {
      // Deleted by retention since the directory was listed: it holds nothing any more.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
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

function countIn(map: Map<string, Repeats>, key: string, entry: AuditEntry): void {
  const repeats = map.get(key);
  if (repeats) {
    repeats.count++;
    repeats.last = entry;
  } else map.set(key, { count: 1, last: entry });
}

function byAge(a: AuditFile, b: AuditFile): number {
  return a.day.localeCompare(b.day) || a.index - b.index;
}

/**
 * An entry as it is kept: a success whole; anything else (untrusted input, possibly huge) with its
 * text fields cut to short escaped excerpts.
 */
function bounded(entry: AuditEntry): AuditEntry {
  if (entry.result === 'ok') return entry;
  const short = (text: string): string => excerptText(text, REFUSED_FIELD_CHARS);
  return {
    ...entry,
    actor: short(entry.actor),
    from: short(entry.from),
    target: short(entry.target),
    message: excerptText(entry.message, REFUSED_MESSAGE_CHARS),
    ...(entry.id !== undefined ? { id: short(entry.id) } : {}),
  };
}

function formatBytes(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${bytes} bytes`;
}

function fileName(day: string, index: number): string {
  return index === 0 ? `audit-${day}.jsonl` : `audit-${day}.${index}.jsonl`;
}
