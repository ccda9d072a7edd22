import { EventEmitter } from 'node:events';
import { promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { InfluxDB, type WriteApi } from '@influxdata/influxdb-client';
import type { Clock, Timer } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { backoffDelay } from '../backoff';
import type { Health } from '../driver';
import {
  type InfluxWriterOptions,
  type ResolvedInfluxWriterOptions,
  coerceInfluxWriterOptions,
} from './options';
import {
  type PostOutcome,
  type RejectedPart,
  classifyWriteFailure,
  isolateRejected,
  writerHealth,
} from './sendPolicy';
import { Spool, type SpoolBatch, type SpoolPosition } from './spool';

export type { InfluxWriterOptions } from './options';

export interface InfluxWriterStats {
  health: Health;
  /** Points InfluxDB acknowledged since start. */
  written: number;
  /** Of those, points that had waited in the spool for a failure or a restart to pass. */
  replayed: number;
  /** Points deleted unsent: oldest spool segments beyond the bound, refused points beyond the quarantine bound. */
  dropped: number;
  /** Points InfluxDB refused, kept in the quarantine file. */
  quarantined: number;
  /** Torn last lines (a crash during an append) cut off at start; never acknowledged to a caller. */
  torn: number;
  /** Points on disk not yet acknowledged by InfluxDB, and their bytes. */
  spooledPoints: number;
  spooledBytes: number;
  /** Age of the oldest point not yet acknowledged by InfluxDB (0 when none). */
  lagMs: number;
  /** Failed attempts since the last success. */
  consecutiveFailures: number;
}

export interface DroppedInfo {
  points: number;
  reason: 'spool-full' | 'quarantine-full';
  detail: string;
}

export interface QuarantinedInfo {
  points: number;
  /** InfluxDB's reason, e.g. "HTTP 400: partial write: field type conflict: …". */
  reason: string;
  file: string;
}

export interface InfluxWriterEvents {
  healthChanged: [health: Health, reason: string];
  dropped: [info: DroppedInfo];
  quarantined: [info: QuarantinedInfo];
}

interface InFlightBatch extends SpoolBatch {
  state: 'sending' | 'failed' | 'isolating' | 'done';
  /** Its segment was dropped by the bound: its outcome no longer matters. */
  discarded: boolean;
}

class WriterStoppedError extends Error {
  constructor() {
    super('influx writer stopped');
  }
}

const QUARANTINE_FILE = 'quarantine.lp';

/**
 * Telemetry to InfluxDB, durable: `write()` resolves once the lines are in the spool's file, which is synced
 * at most `syncIntervalMs` later (spool.ts says what a crash and a power cut can lose); a sender reads the
 * spool in order and writes batches through one WriteApi, moving the spool's cursor only after InfluxDB
 * acknowledged them. Failures (down, timeout, 5xx, 429, 401/403/404) are retried with backoff on the same
 * batch; batches InfluxDB refuses (400, 413, 422) have their refused lines moved to a quarantine file, and
 * the rest goes on. Nothing acknowledged to a caller is lost, except what the spool bound drops, which is
 * counted and reported, and what a power cut catches before its sync.
 *
 * The client's own retry buffer is off (`maxRetries: 0`): it drops batches on 4xx, drops its oldest lines
 * when full, and abandons pending retries on close (influxdb-client-js WriteApiImpl.ts, RetryBuffer.ts).
 */
export class InfluxWriter extends EventEmitter<InfluxWriterEvents> {
  private readonly options: ResolvedInfluxWriterOptions;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private spool: Spool | undefined;
  private agent: http.Agent | undefined;
  private writeApi: WriteApi | undefined;
  private health: Health = 'down';
  private inFlight: InFlightBatch[] = [];
  private readPosition: SpoolPosition = { segment: 0, offset: 0 };
  /**
   * Points held back by a failure or a restart (pending at start or at the last failure) and not yet
   * acknowledged: while there are some, health is 'degraded' and batches go one at a time.
   */
  private backlogPoints = 0;
  private oldestUnreadAt: number | undefined;
  private pumping = false;
  private pumpAgain = false;
  private flushTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private retryMode = false;
  private retryAfterMs = 0;
  private consecutiveFailures = 0;
  private lastFailure = '';
  private readonly sleepers = new Set<() => void>();
  private drainedListener: (() => void) | undefined;
  private quarantineBytes = 0;
  private quarantineWrite: Promise<void> = Promise.resolve();
  private written = 0;
  private replayed = 0;
  private quarantined = 0;
  private quarantineDropped = 0;

  constructor(
    options: InfluxWriterOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    super();
    this.options = coerceInfluxWriterOptions(options);
  }

  /** Opens and recovers the spool, then starts sending what it holds. InfluxDB being down does not fail it. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'new') throw new Error(`influx writer: start() called when ${this.state}`);
    this.state = 'starting';
    const options = this.options;
    const spool = new Spool(
      {
        dir: options.spoolDir,
        maxBytes: options.spoolMaxBytes,
        segmentBytes: options.segmentBytes,
        cursorSaveIntervalMs: options.cursorSaveIntervalMs,
        // Appends are written as they come (those of one turn of the event loop together) and
        // acknowledged once in the file; only the fdatasyncs are paced.
        syncIntervalMs: 0,
        fsyncIntervalMs: options.syncIntervalMs,
        // The tail spares the sender a read of what was just written; with no InfluxDB there is no
        // sender, and 16 MB of lines would be held for nothing (the points stay in the file).
        tailMaxBytes: options.target ? options.tailMaxBytes : 0,
      },
      this.clock,
      this.logger.child('spool'),
    );
    this.spool = spool;
    spool.on('appended', this.onAppended);
    spool.on('dropped', this.onSpoolDropped);
    const recovery = await spool.open();
    if (recovery.pendingPoints > 0 || recovery.tornLines > 0) {
      this.logger.info(
        `spool ${options.spoolDir}: ${recovery.pendingPoints} points (${recovery.pendingBytes} bytes) to replay` +
          (recovery.tornLines > 0 ? `, ${recovery.tornLines} torn line(s) cut off` : ''),
      );
    }
    this.quarantineBytes = await fileSize(this.quarantineFile());
    if (signal?.aborted) {
      await this.stop();
      throw new Error('influx writer: start aborted');
    }
    const target = options.target;
    if (target) {
      this.agent = target.url.startsWith('https:')
        ? new https.Agent({ keepAlive: true })
        : new http.Agent({ keepAlive: true });
      const influx = new InfluxDB({
        url: target.url,
        token: target.token,
        timeout: options.requestTimeoutMs,
        transportOptions: { agent: this.agent },
      });
      this.writeApi = influx.getWriteApi(target.org, target.bucket, 'ms', {
        // Each batch is handed over as one record and flushed at once, so the flush promise tells its
        // fate; the client must never flush on its own (such a flush swallows its error).
        batchSize: Math.max(2, options.batchSize),
        flushInterval: 0,
        maxBatchBytes: Number.MAX_SAFE_INTEGER,
        maxRetries: 0,
        gzipThreshold: options.gzip ? 1000 : Number.MAX_SAFE_INTEGER,
        // Returning the rejection makes flush() reject with it instead of the client logging to the console.
        writeFailed: (error: Error) => Promise.reject(error),
      });
    } else {
      this.logger.warn(`InfluxDB not configured: points stay in the spool ${options.spoolDir}`);
    }
    this.readPosition = spool.position();
    this.backlogPoints = recovery.pendingPoints;
    if (recovery.pendingPoints > 0) this.oldestUnreadAt = this.clock.now();
    this.state = 'running';
    this.updateHealth();
    this.pump();
  }

  /**
   * Appends points (line protocol, one per line, no newline) to the spool; resolves once they are in its file.
   * Rejects, writing nothing, when a line is empty or holds a newline, or when the writer is not running.
   */
  write(lines: readonly string[]): Promise<void> {
    if (this.state !== 'running' || !this.spool) {
      return Promise.reject(new Error(`influx writer is ${this.state}: ${lines.length} points not accepted`));
    }
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (typeof line !== 'string' || line.length === 0 || line.includes('\n')) {
        return Promise.reject(
          new Error(
            `influx writer: line #${i} of ${lines.length} is not one line of line protocol: ${String(JSON.stringify(line)).slice(0, 120)}`,
          ),
        );
      }
    }
    return this.spool.append(lines);
  }

  stats(): InfluxWriterStats {
    const spool = this.spool?.stats();
    const oldest = spool?.oldestPendingTime;
    return {
      health: this.health,
      written: this.written,
      replayed: this.replayed,
      dropped: (spool?.droppedPoints ?? 0) + this.quarantineDropped,
      quarantined: this.quarantined,
      torn: spool?.tornLines ?? 0,
      spooledPoints: spool?.pendingPoints ?? 0,
      spooledBytes: spool?.pendingBytes ?? 0,
      lagMs: oldest === undefined ? 0 : Math.max(0, this.clock.now() - oldest),
      consecutiveFailures: this.consecutiveFailures,
    };
  }

  getHealth(): Health {
    return this.health;
  }

  quarantineFile(): string {
    return path.join(this.options.spoolDir, QUARANTINE_FILE);
  }

  /**
   * Stops accepting points, sends what InfluxDB takes within `stopTimeoutMs`, and leaves the rest in the
   * spool for the next start. Idempotent; safe after a failed start.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    if (wasRunning && this.writeApi) {
      try {
        await this.drain(this.options.stopTimeoutMs);
      } catch (error) {
        this.logger.error(`influx writer: draining failed: ${(error as Error).message}`);
      }
    }
    this.state = 'stopped';
    for (const timer of [this.flushTimer, this.retryTimer]) if (timer) this.clock.clearTimeout(timer);
    this.flushTimer = undefined;
    this.retryTimer = undefined;
    for (const wake of [...this.sleepers]) wake();
    try {
      this.writeApi?.dispose();
    } catch (error) {
      this.logger.error(`influx writer: closing the write API failed: ${(error as Error).message}`);
    }
    try {
      // Ends requests still waiting for an answer; their batches stay in the spool.
      this.agent?.destroy();
    } catch (error) {
      this.logger.error(`influx writer: closing connections failed: ${(error as Error).message}`);
    }
    try {
      await this.quarantineWrite;
    } catch (error) {
      this.logger.error(`influx writer: quarantine write failed: ${(error as Error).message}`);
    }
    try {
      if (this.spool) {
        this.spool.off('appended', this.onAppended);
        this.spool.off('dropped', this.onSpoolDropped);
        await this.spool.close();
      }
    } catch (error) {
      this.logger.error(`influx writer: closing the spool failed: ${(error as Error).message}`);
    }
    const left = this.spool?.stats().pendingPoints ?? 0;
    if (left > 0)
      this.logger.info(`influx writer stopped: ${left} points stay in the spool for the next start`);
    this.inFlight = [];
    this.updateHealth();
  }

  /** Resolves when everything spooled is acknowledged, or after `timeoutMs`. */
  private drain(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => finish(), timeoutMs);
      const finish = (): void => {
        this.clock.clearTimeout(timer);
        this.drainedListener = undefined;
        resolve();
      };
      this.drainedListener = finish;
      this.pump();
      this.checkDrained();
    });
  }

  private checkDrained(): void {
    if (this.drainedListener && (this.spool?.stats().pendingPoints ?? 0) === 0) this.drainedListener();
  }

  private readonly onAppended = (): void => {
    this.oldestUnreadAt ??= this.clock.now();
    // Waiting for a full batch or for flush_ms: an append that leaves the batch short changes nothing
    // (at thousands of appends a second, the pump would look again at each one only to wait).
    if (this.flushTimer && this.unread() < this.options.batchSize) return;
    this.pump();
  };

  private readonly onSpoolDropped = (info: { points: number; bytes: number; segment: number }): void => {
    // Batches of a deleted segment are abandoned; their points are the ones counted as dropped.
    this.inFlight = this.inFlight.filter((batch) => {
      if (batch.start.segment > info.segment) return true;
      batch.discarded = true;
      return false;
    });
    if (this.readPosition.segment <= info.segment && this.spool) this.readPosition = this.spool.position();
    this.backlogPoints -= Math.min(info.points, this.backlogPoints);
    this.notify('dropped', {
      points: info.points,
      reason: 'spool-full',
      detail: `spool ${this.options.spoolDir} reached its bound of ${this.options.spoolMaxBytes} bytes`,
    });
    this.afterSettle();
  };

  private sending(): boolean {
    return this.state === 'running' || this.state === 'stopping';
  }

  private pump(): void {
    if (!this.writeApi || !this.sending() || this.retryMode) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pumpLoop()
      .catch((error: Error) => this.logger.error(`influx writer: reading the spool failed: ${error.message}`))
      .finally(() => {
        this.pumping = false;
      });
  }

  /** Reads batches from the spool and sends them, up to `maxInFlight` at once. */
  private async pumpLoop(): Promise<void> {
    const spool = this.spool as Spool;
    const { batchSize, maxBatchBytes, maxInFlight, flushMs } = this.options;
    do {
      this.pumpAgain = false;
      // A backlog is replayed one batch at a time, strictly in order; fresh points may overlap.
      while (
        this.sending() &&
        !this.retryMode &&
        this.inFlight.length < (this.backlogPoints > 0 ? 1 : maxInFlight)
      ) {
        const unread = this.unread();
        if (unread <= 0) {
          this.oldestUnreadAt = undefined;
          break;
        }
        const waited = this.clock.now() - (this.oldestUnreadAt ?? this.clock.now());
        if (unread < batchSize && waited < flushMs && this.state === 'running') {
          this.flushTimer ??= this.clock.setTimeout(() => {
            this.flushTimer = undefined;
            this.pump();
          }, flushMs - waited);
          break;
        }
        const from = this.readPosition;
        const batch = await spool.read(from, batchSize, maxBatchBytes);
        if (!batch || !this.sending()) break;
        // A segment dropped by the bound during the read moved the read position on: read again.
        if (this.readPosition !== from) continue;
        this.readPosition = batch.end;
        this.oldestUnreadAt = unread > batch.points ? this.clock.now() : undefined;
        const inFlight: InFlightBatch = { ...batch, state: 'sending', discarded: false };
        this.inFlight.push(inFlight);
        this.send(inFlight);
      }
    } while (this.pumpAgain);
  }

  /** Points in the spool not yet read for a batch. */
  private unread(): number {
    return (this.spool?.uncommittedPoints ?? 0) - this.inFlightPoints();
  }

  private inFlightPoints(): number {
    let points = 0;
    for (const batch of this.inFlight) points += batch.points;
    return points;
  }

  private post(text: string): Promise<void> {
    try {
      const api = this.writeApi as WriteApi;
      api.writeRecord(text);
      return api.flush();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private send(batch: InFlightBatch): void {
    batch.state = 'sending';
    this.post(batch.text).then(
      () => this.onSent(batch),
      (error: unknown) => this.onFailed(batch, error),
    );
  }

  private onSent(batch: InFlightBatch): void {
    if (batch.discarded || this.state === 'stopped') return;
    batch.state = 'done';
    this.settle(batch.points, batch.points);
    if (this.consecutiveFailures > 0) {
      this.logger.info(`InfluxDB accepts writes again after ${this.consecutiveFailures} failed attempt(s)`);
    }
    this.consecutiveFailures = 0;
    this.retryAfterMs = 0;
    this.afterSettle();
  }

  private onFailed(batch: InFlightBatch, error: unknown): void {
    if (batch.discarded || this.state === 'stopped') return;
    const failure = classifyWriteFailure(error);
    if (failure.action === 'quarantine') {
      // InfluxDB answered: it is up, only this data is refused.
      this.consecutiveFailures = 0;
      batch.state = 'isolating';
      this.isolate(batch, failure.message).catch((isolationError: Error) => {
        if (batch.discarded || isolationError instanceof WriterStoppedError) return;
        this.logger.error(`influx writer: quarantining a refused batch failed: ${isolationError.message}`);
        batch.state = 'failed';
        this.enterRetry(0);
        this.afterSettle();
      });
      return;
    }
    batch.state = 'failed';
    this.lastFailure = failure.message;
    if (this.consecutiveFailures === 0) {
      this.logger.warn(`InfluxDB write failed, spooling and retrying: ${failure.message}`);
    } else {
      this.logger.debug(
        () => `InfluxDB write failed again (#${this.consecutiveFailures + 1}): ${failure.message}`,
      );
    }
    this.consecutiveFailures++;
    this.enterRetry(failure.retryAfterMs);
    this.afterSettle();
  }

  private enterRetry(retryAfterMs: number): void {
    this.retryMode = true;
    this.retryAfterMs = retryAfterMs;
    this.backlogPoints = this.spool?.stats().pendingPoints ?? 0;
  }

  /**
   * After any outcome: commit acknowledged batches in order; in retry mode, once nothing is on the wire,
   * resend the oldest failed batch (at once after a success, after a backoff delay after a failure).
   */
  private afterSettle(): void {
    const spool = this.spool as Spool;
    while (this.inFlight.length > 0 && this.inFlight[0].state === 'done') {
      spool.commit(this.inFlight.shift() as InFlightBatch);
    }
    const sending = this.inFlight.some((b) => b.state === 'sending');
    const failed = this.inFlight.find((b) => b.state === 'failed');
    if (this.retryMode && !sending && !failed) this.retryMode = false;
    this.updateHealth();
    this.checkDrained();
    if (!this.retryMode) {
      this.pump();
      return;
    }
    if (this.retryTimer || sending || !failed) return;
    const delay =
      this.consecutiveFailures === 0
        ? 0
        : Math.max(this.retryAfterMs, backoffDelay(this.consecutiveFailures - 1, this.options.backoff));
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.sending() || failed.discarded || failed.state !== 'failed') {
        this.afterSettle();
        return;
      }
      this.send(failed);
    }, delay);
  }

  /** Sends the halves of a refused batch until the refused lines are found, then quarantines them. */
  private async isolate(batch: InFlightBatch, reason: string): Promise<void> {
    const lines = batch.text.split('\n');
    const rejected = await isolateRejected(
      lines,
      reason,
      (text) => this.postUntilAnswered(text),
      this.options.maxIsolationRequests,
    );
    if (batch.discarded || this.state === 'stopped') return;
    await this.quarantine(rejected);
    const refused = rejected.reduce((sum, part) => sum + part.lines.length, 0);
    batch.state = 'done';
    this.settle(batch.points, batch.points - refused);
    this.afterSettle();
  }

  /** Posts until InfluxDB answers about the data itself; waits out outages. */
  private async postUntilAnswered(text: string): Promise<PostOutcome> {
    for (let attempt = 0; ; attempt++) {
      if (!this.sending()) throw new WriterStoppedError();
      try {
        await this.post(text);
        return 'ok';
      } catch (error) {
        const failure = classifyWriteFailure(error);
        if (failure.action === 'quarantine') return { rejected: failure.message };
        await this.sleep(Math.max(failure.retryAfterMs, backoffDelay(attempt, this.options.backoff)));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.clock.clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = this.clock.setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  /** Appends refused lines to the quarantine file, each group under a comment giving InfluxDB's reason. */
  private async quarantine(parts: RejectedPart[]): Promise<void> {
    if (parts.length === 0) return;
    const file = this.quarantineFile();
    const points = parts.reduce((sum, part) => sum + part.lines.length, 0);
    const when = new Date(this.clock.now()).toISOString();
    const text = parts
      .map((part) => `# ${when} ${part.reason.replace(/\n/g, ' ')}\n${part.lines.join('\n')}\n`)
      .join('');
    const bytes = Buffer.byteLength(text);
    if (this.quarantineBytes + bytes > this.options.quarantineMaxBytes) {
      this.quarantineDropped += points;
      this.logger.error(
        `influx writer: quarantine ${file} is full: ${points} refused points dropped (${parts[0].reason})`,
      );
      this.notify('dropped', {
        points,
        reason: 'quarantine-full',
        detail: `${file} reached its bound of ${this.options.quarantineMaxBytes} bytes; refused: ${parts[0].reason}`,
      });
      return;
    }
    const write = this.quarantineWrite.then(() => appendDurably(file, text));
    this.quarantineWrite = write.catch(() => undefined);
    await write;
    this.quarantineBytes += bytes;
    this.quarantined += points;
    for (const part of parts) {
      this.logger.error(
        `influx writer: ${part.lines.length} point(s) refused, kept in ${file}: ${part.reason}`,
      );
      this.notify('quarantined', { points: part.lines.length, reason: part.reason, file });
    }
  }

  /** Counts a batch InfluxDB answered: `settled` points leave the backlog, `written` of them were stored. */
  private settle(settled: number, written: number): void {
    const fromBacklog = Math.min(settled, this.backlogPoints);
    this.backlogPoints -= fromBacklog;
    this.written += written;
    this.replayed += Math.min(fromBacklog, written);
  }

  private updateHealth(): void {
    const configured = this.writeApi !== undefined;
    const next =
      this.state === 'stopped'
        ? 'down'
        : writerHealth({
            configured,
            consecutiveFailures: this.consecutiveFailures,
            catchingUp: this.backlogPoints > 0,
            downAfterFailures: this.options.downAfterFailures,
          });
    if (next === this.health) return;
    this.health = next;
    const reason =
      this.state === 'stopped'
        ? 'stopped'
        : !configured
          ? 'InfluxDB not configured'
          : this.consecutiveFailures > 0
            ? `${this.consecutiveFailures} failed attempt(s): ${this.lastFailure}`
            : this.backlogPoints > 0
              ? 'sending the spooled backlog'
              : 'writes acknowledged';
    this.logger.info(`influx writer health: ${next} (${reason})`);
    this.notify('healthChanged', next, reason);
  }

  /** Emits without letting a failing listener break the sender's state. */
  private notify<E extends keyof InfluxWriterEvents>(event: E, ...args: InfluxWriterEvents[E]): void {
    try {
      // The typed emit cannot follow a generic event name; the signature above keeps callers typed.
      (this.emit as (event: E, ...args: InfluxWriterEvents[E]) => boolean)(event, ...args);
    } catch (error) {
      this.logger.error(`InfluxWriter/${event}: a listener failed: ${(error as Error).message}`);
    }
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fsp.stat(file)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

async function appendDurably(file: string, text: string): Promise<void> {
  const handle = await fsp.open(file, 'a');
  try {
    await handle.write(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
