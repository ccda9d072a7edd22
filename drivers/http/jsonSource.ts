import { EventEmitter } from 'node:events';
import type { Clock, Timer } from '../../core/clock';
import { excerptText } from '../../core/excerpt';
import type { Logger } from '../../core/logger';
import { DropCounter } from '../../core/dropCounter';
import { ThrottledLog } from '../../core/throttledLog';
import { backoffDelay, coerceBackoff, type BackoffOptions, type ResolvedBackoff } from '../backoff';
import {
  DriverError,
  type Driver,
  type DriverErrorCode,
  type DriverEvents,
  type DriverStats,
  type Health,
  type HttpAddress,
  type PointRef,
  type PointWrite,
  type Sample,
  type Subscription,
  type WriteResult,
} from '../driver';
import { readField, readUplink } from '../mqtt/uplinks';

export interface HttpJsonOptions {
  deviceId: string;
  /** http:// or https://; redirects are not followed (the configuration names the final URL). */
  url: string;
  periodMs: number;
  /** Time one request may take, body included. */
  timeoutMs: number;
  /** Retries of a poll after a timeout, a network error, a 5xx or a 429. */
  retries: number;
  /** Extra request headers, secrets already read. */
  headers?: Readonly<Record<string, string>>;
  /** Dot path of the observation time in the document, split; absent: Last-Modified, Date, reception. */
  timePath?: readonly string[];
  /** Delays between retries; default 1 s doubling, at most 30 s. */
  backoff?: BackoffOptions;
  /** Largest document read; default 4 MiB. */
  maxBytes?: number;
  /** Dropped documents and failed polls are logged at most once per reason per interval; default 10 s. */
  logEveryMs?: number;
}

export interface HttpJsonDeps {
  clock: Clock;
  logger: Logger;
}

/** Why a document, or one value of it, gave no sample; counted in stats().dropped. */
export const HTTP_DROP_REASONS = [
  'not-json',
  'not-object',
  'too-large',
  'bad-time',
  'missing-field',
  'wrong-type',
  'unchanged',
] as const;
export type HttpDropReason = (typeof HTTP_DROP_REASONS)[number];

/** Failed polls in a row after which the device is down rather than degraded. */
export const DOWN_AFTER_FAILED_POLLS = 3;
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

interface Document {
  values: unknown;
  /** When the values were taken: the document's time, Last-Modified, Date or the reception. */
  time: number;
  /** The time describes the data (time_path or Last-Modified): an equal or older one is not new. */
  dataTime: boolean;
  receivedAt: number;
}

type Answer =
  | { kind: 'document'; body: Buffer | 'too-large'; headers: Headers; receivedAt: number }
  | { kind: 'not-modified' };

type Attempt =
  { ok: true; answer: Answer } | { ok: false; error: DriverError; retry: boolean; retryAfterMs?: number };

/**
 * A JSON document a public service serves over HTTP (Hub'Eau hydrometry, air-quality open data), polled
 * every period from start(): conditional requests (ETag, Last-Modified), a 304 or a document no newer than
 * the last one gives nothing; otherwise each subscribed point reads its value by path (readField, as MQTT
 * sources do) with the document's time. Timeouts, network errors, 5xx and 429 are retried with backoff
 * (Retry-After respected up to the period), other 4xx are not. One failed poll makes the device degraded,
 * three in a row down, a success up again. What cannot be read is counted per reason, logged at most once
 * per interval and dropped; nothing is thrown.
 */
export class HttpJsonDriver extends EventEmitter<DriverEvents> implements Driver {
  readonly deviceId: string;
  private readonly url: URL;
  /** The URL without query or credentials, for logs: a query may carry a token. */
  private readonly shownUrl: string;
  private readonly backoff: ResolvedBackoff;
  private readonly maxBytes: number;
  /** Failed polls: one line per kind of failure and interval. */
  private readonly log: ThrottledLog<`poll-${DriverErrorCode}`>;
  private readonly bindings: { ref: PointRef; address: HttpAddress }[] = [];
  private readonly drops: DropCounter<HttpDropReason>;
  private readonly counters = { requests: 0, errors: 0, reconnects: 0 };
  private lifecycle: 'new' | 'started' | 'stopped' = 'new';
  private stopping?: Promise<void>;
  private timer?: Timer;
  private polling?: Promise<void>;
  private readonly inFlight = new Set<AbortController>();
  private readonly sleepers = new Set<() => void>();
  private firstAttempt?: () => void;
  private etag?: string;
  private lastModified?: string;
  private lastDataTime = Number.NEGATIVE_INFINITY;
  private last?: Document;
  private reported: Health = 'down';
  private reportedError?: DriverError;
  private failedPolls = 0;
  private answeredOnce = false;

  constructor(
    private readonly options: HttpJsonOptions,
    private readonly deps: HttpJsonDeps,
  ) {
    super();
    this.deviceId = options.deviceId;
    this.url = new URL(options.url);
    this.shownUrl = `${this.url.origin}${this.url.pathname}`;
    this.backoff = coerceBackoff({ initialMs: 1000, maxMs: 30_000, ...options.backoff });
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.log = new ThrottledLog(options.logEveryMs ?? 10_000);
    this.drops = new DropCounter(HTTP_DROP_REASONS, deps.clock, deps.logger, options.logEveryMs);
  }

  /** Starts polling; resolves after the first request was answered or failed (not its retries). */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.lifecycle !== 'new') return;
    this.lifecycle = 'started';
    const first = new Promise<void>((resolve) => (this.firstAttempt = resolve));
    this.pollNow();
    if (!signal) return first;
    let onAbort = (): void => undefined;
    const aborted = new Promise<void>((resolve) => {
      onAbort = resolve;
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    await Promise.race([first, aborted]);
    signal.removeEventListener('abort', onAbort);
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  health(): Health {
    return this.reported;
  }

  /** A document's paths exist once the service serves them: nothing to check ahead. */
  check(_points: readonly PointRef[]): Promise<DriverError[]> {
    return Promise.resolve([]);
  }

  /**
   * One request (with its retries), unconditional and apart from the polling (its validators, last time and
   * health stay as they are): the points' values now, or bad samples saying why not.
   */
  async read(points: readonly PointRef[]): Promise<Sample[]> {
    const refs = points.map((ref) => ({ ref, address: this.addressOf(ref) }));
    const result = await this.fetchDocument(false);
    const now = this.deps.clock.now();
    const bad = (key: string, error: DriverError): Sample => ({
      key,
      value: null,
      quality: 'bad',
      time: now,
      error,
    });
    if (!result.ok) return points.map((p) => bad(p.key, result.error));
    const document = result.answer.kind === 'document' ? this.readDocument(result.answer) : undefined;
    if (!document) {
      const error = new DriverError('bad-type', `device '${this.deviceId}': no readable document`);
      return points.map((p) => bad(p.key, error));
    }
    return refs.map(({ ref, address }) => {
      const field = readField(document.values, address);
      if (field.ok)
        return { key: ref.key, value: field.value, quality: 'good', sourceTime: document.time, time: now };
      this.drop(field.reason, `${ref.label ?? ref.key}: ${field.detail}`);
      return bad(
        ref.key,
        new DriverError(
          field.reason === 'missing-field' ? 'not-found' : 'bad-type',
          `${ref.label ?? ref.key}: ${field.detail}`,
        ),
      );
    });
  }

  write(writes: readonly PointWrite[]): Promise<WriteResult[]> {
    return Promise.resolve(
      writes.map((w) => ({
        key: w.key,
        ok: false,
        error: new DriverError(
          'exception',
          `device '${this.deviceId}' is an HTTP JSON source: it cannot be written`,
        ),
      })),
    );
  }

  /**
   * Binds the points to the polled document. Polling runs from start() at the device's period (the points'
   * own periods do not apply: there is one document); points bound after a document arrived get their
   * values from it at once.
   */
  subscribe(points: readonly PointRef[]): Subscription {
    const added = points.map((ref) => ({ ref, address: this.addressOf(ref) }));
    if (this.lifecycle === 'stopped') return { close: () => Promise.resolve() };
    this.bindings.push(...added);
    const cached = this.last;
    if (cached)
      queueMicrotask(() => {
        if (this.lifecycle !== 'started' || this.last !== cached) return;
        this.emitSamples(
          cached,
          added.filter((b) => this.bindings.includes(b)),
        );
      });
    return {
      close: () => {
        for (const binding of added) {
          const at = this.bindings.indexOf(binding);
          if (at >= 0) this.bindings.splice(at, 1);
        }
        return Promise.resolve();
      },
    };
  }

  stats(): DriverStats {
    return { ...this.counters, dropped: { ...this.drops.counts } };
  }

  private addressOf(ref: PointRef): HttpAddress {
    if (ref.address.protocol !== 'http')
      throw new Error(
        `${ref.label ?? ref.key}: not an HTTP address on HTTP JSON device '${this.deviceId}' (is ${ref.address.protocol})`,
      );
    return ref.address;
  }

  private pollNow(): void {
    this.polling = this.poll().finally(() => {
      this.polling = undefined;
    });
  }

  private async poll(): Promise<void> {
    const startedAt = this.deps.clock.now();
    try {
      const result = await this.fetchDocument(true);
      if (this.lifecycle !== 'started') return;
      if (!result.ok) return this.pollFailed(result.error);
      this.answered();
      const { answer } = result;
      if (answer.kind === 'not-modified') return;
      if (answer.body !== 'too-large') {
        this.etag = answer.headers.get('etag') ?? undefined;
        this.lastModified = answer.headers.get('last-modified') ?? undefined;
      }
      const document = this.readDocument(answer);
      if (!document) return;
      if (document.dataTime) {
        if (document.time <= this.lastDataTime) {
          this.drops.counts.unchanged++;
          this.deps.logger.debug(
            () =>
              `device '${this.deviceId}': document of ${new Date(document.time).toISOString()} already read`,
          );
          return;
        }
        this.lastDataTime = document.time;
      }
      this.last = document;
      this.emitSamples(document, this.bindings);
    } catch (error) {
      // Nothing above should throw; a listener that does must not end the polling.
      this.deps.logger.error(`HttpJsonDriver/poll: ${(error as Error).message}`, { device: this.deviceId });
    } finally {
      this.firstAttempt?.();
      if (this.lifecycle === 'started') {
        const delay = Math.max(0, startedAt + this.options.periodMs - this.deps.clock.now());
        this.timer = this.deps.clock.setTimeout(() => {
          this.timer = undefined;
          if (this.lifecycle === 'started') this.pollNow();
        }, delay);
      }
    }
  }

  private emitSamples(
    document: Document,
    bindings: readonly { ref: PointRef; address: HttpAddress }[],
  ): void {
    const samples: Sample[] = [];
    for (const { ref, address } of bindings) {
      const field = readField(document.values, address);
      if (!field.ok) {
        this.drop(field.reason, `${ref.label ?? ref.key}: ${field.detail}`);
        continue;
      }
      samples.push({
        key: ref.key,
        value: field.value,
        quality: 'good',
        sourceTime: document.time,
        time: document.receivedAt,
      });
    }
    if (samples.length > 0) this.emitSafe('samples', samples);
  }

  /** The values' root and time of an answer, or undefined (counted and logged) when it cannot be read. */
  private readDocument(answer: Extract<Answer, { kind: 'document' }>): Document | undefined {
    if (answer.body === 'too-large') {
      this.drop('too-large', `the document is larger than ${this.maxBytes} bytes`);
      return undefined;
    }
    const read = readUplink(answer.body, {}, { format: 'json', timePath: this.options.timePath });
    if (read.ok === 'ignored') return undefined; // not given by the json format
    if (!read.ok) {
      const reason = read.reason === 'not-object' || read.reason === 'bad-time' ? read.reason : 'not-json';
      this.drop(reason, read.detail);
      return undefined;
    }
    const { values, time } = read.uplink;
    if (time !== undefined) return { values, time, dataTime: true, receivedAt: answer.receivedAt };
    const lastModified = httpDate(answer.headers.get('last-modified'));
    if (lastModified !== undefined)
      return { values, time: lastModified, dataTime: true, receivedAt: answer.receivedAt };
    const date = httpDate(answer.headers.get('date'));
    return { values, time: date ?? answer.receivedAt, dataTime: false, receivedAt: answer.receivedAt };
  }

  /** One poll's request with its retries: the answer, or the last failure. */
  private async fetchDocument(
    conditional: boolean,
  ): Promise<{ ok: true; answer: Answer } | { ok: false; error: DriverError }> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.attempt(conditional);
      this.firstAttempt?.();
      this.firstAttempt = undefined;
      if (result.ok) return result;
      if (result.error.code !== 'stopped') this.counters.errors++;
      if (!result.retry || attempt >= this.options.retries || this.lifecycle === 'stopped')
        return { ok: false, error: result.error };
      const delay = Math.min(
        this.options.periodMs,
        Math.max(backoffDelay(attempt, this.backoff), result.retryAfterMs ?? 0),
      );
      this.deps.logger.debug(
        () => `device '${this.deviceId}': ${result.error.message}; retry ${attempt + 1} in ${delay} ms`,
      );
      await this.sleep(delay);
      if (this.isStopped())
        return { ok: false, error: new DriverError('stopped', `device '${this.deviceId}': driver stopped`) };
    }
  }

  private async attempt(conditional: boolean): Promise<Attempt> {
    if (this.lifecycle === 'stopped')
      return {
        ok: false,
        retry: false,
        error: new DriverError('stopped', `device '${this.deviceId}': driver stopped`),
      };
    const what = `device '${this.deviceId}': GET ${this.shownUrl}`;
    const controller = new AbortController();
    this.inFlight.add(controller);
    const timer = this.deps.clock.setTimeout(
      () =>
        controller.abort(
          new DriverError('timeout', `${what}: no answer within ${this.options.timeoutMs} ms`),
        ),
      this.options.timeoutMs,
    );
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'nocturne',
      ...this.options.headers,
    };
    if (conditional && this.etag !== undefined) headers['if-none-match'] = this.etag;
    if (conditional && this.lastModified !== undefined) headers['if-modified-since'] = this.lastModified;
    this.counters.requests++;
    try {
      const response = await fetch(this.url, {
        headers,
        signal: controller.signal,
        redirect: 'manual',
      });
      const status = response.status;
      if (status === 304) {
        await response.body?.cancel();
        return { ok: true, answer: { kind: 'not-modified' } };
      }
      if (status >= 200 && status < 300) {
        const body = await readBody(response, this.maxBytes);
        return {
          ok: true,
          answer: { kind: 'document', body, headers: response.headers, receivedAt: this.deps.clock.now() },
        };
      }
      await response.body?.cancel();
      const statusText = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (status >= 300 && status < 400) {
        const location = response.headers.get('location');
        return {
          ok: false,
          retry: false,
          error: new DriverError(
            'exception',
            `${what}: ${statusText}, redirected${location ? ` to ${excerptText(location, 200)}` : ''}; configure the final URL`,
            statusText,
          ),
        };
      }
      const retry = status >= 500 || status === 429;
      return {
        ok: false,
        retry,
        retryAfterMs: retry
          ? retryAfter(response.headers.get('retry-after'), this.deps.clock.now())
          : undefined,
        error: new DriverError(
          'exception',
          `${what}: ${statusText}${retry ? '' : ' (not retried)'}`,
          statusText,
        ),
      };
    } catch (error) {
      if (controller.signal.aborted && controller.signal.reason instanceof DriverError)
        return {
          ok: false,
          retry: controller.signal.reason.code === 'timeout',
          error: controller.signal.reason,
        };
      return {
        ok: false,
        retry: true,
        error: new DriverError('disconnected', `${what}: ${describeFetchError(error)}`, undefined, {
          cause: error,
        }),
      };
    } finally {
      this.deps.clock.clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }

  /** A method, not a field comparison: TypeScript would keep the narrowing from before an await. */
  private isStopped(): boolean {
    return this.lifecycle === 'stopped';
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleepers.delete(wake);
        this.deps.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.deps.clock.setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private answered(): void {
    this.failedPolls = 0;
    if (this.reported === 'up') return;
    const reconnect = this.answeredOnce;
    this.answeredOnce = true;
    if (reconnect) this.counters.reconnects++;
    this.setHealth('up');
    this.emitSafe('connected', { reconnect });
  }

  private pollFailed(error: DriverError): void {
    if (error.code === 'stopped') return;
    this.failedPolls++;
    this.log.report(`poll-${error.code}`, this.deps.clock.now(), (heldBack) =>
      this.deps.logger.warn(
        `${error.message} (poll failed${this.failedPolls > 1 ? `, ${this.failedPolls} in a row` : ''})${heldBack > 0 ? ` (${heldBack} more since the last report)` : ''}`,
      ),
    );
    this.setHealth(this.failedPolls >= DOWN_AFTER_FAILED_POLLS ? 'down' : 'degraded', error);
  }

  /** Emits on a change of health, or of its reason while not up. */
  private setHealth(health: Health, error?: DriverError): void {
    const sameReason =
      this.reportedError?.code === error?.code && this.reportedError?.detail === error?.detail;
    if (health === this.reported && (health === 'up' || sameReason)) return;
    const from = this.reported;
    this.reported = health;
    this.reportedError = error;
    const fields = { device: this.deviceId, from, to: health };
    if (health === 'up') this.deps.logger.info('device healthy', fields);
    else if (from !== health) this.deps.logger.warn(`device ${health}: ${error?.message ?? ''}`, fields);
    this.emitSafe('healthChanged', health, error);
  }

  private drop(reason: HttpDropReason, detail: string): void {
    this.drops.drop(
      reason,
      () =>
        `device '${this.deviceId}': document of ${this.shownUrl} dropped (${reason}): ${excerptText(detail, 200)}`,
    );
  }

  private emitSafe<K extends keyof DriverEvents>(event: K, ...args: DriverEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: DriverEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.deps.logger.error(`HttpJsonDriver/${event}: ${(error as Error).message}`, {
        device: this.deviceId,
      });
    }
  }

  /** Cancels the next poll, the retry waits and the requests in flight, then waits for the poll to end. */
  private async shutdown(): Promise<void> {
    this.lifecycle = 'stopped';
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const stopped = new DriverError('stopped', `device '${this.deviceId}': driver stopped`);
    for (const controller of this.inFlight) controller.abort(stopped);
    for (const wake of [...this.sleepers]) wake();
    try {
      await this.polling;
    } catch (error) {
      this.deps.logger.error(`HttpJsonDriver/stop: ${(error as Error).message}`, { device: this.deviceId });
    }
    this.firstAttempt?.();
    this.bindings.length = 0;
    this.reported = 'down';
  }
}

/** The body, up to `limit` bytes once decompressed, or 'too-large' (the rest is not read). */
async function readBody(response: Response, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    return 'too-large';
  }
  if (!response.body) return Buffer.alloc(0);
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return 'too-large';
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Retry-After in seconds or as an HTTP date, in ms from now. */
function retryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function httpDate(header: string | null): number | undefined {
  if (header === null) return undefined;
  const time = Date.parse(header);
  return Number.isFinite(time) ? time : undefined;
}

/** undici's 'fetch failed' hides the cause: ECONNREFUSED, ENOTFOUND, a TLS refusal… */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return error.message;
}
