import http from 'node:http';
import https from 'node:https';
import type { AlertWebhookConfig } from '../../../config/schema';
import { readSecret } from '../../../config/secrets';
import { backoffDelay, coerceBackoff, type ResolvedBackoff } from '../../../drivers/backoff';
import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { AlertView, Severity } from '../services';

/** What a webhook receives: one alert change. */
export interface WebhookPayload {
  event: 'alert';
  /** The change: the alert's new state. */
  change: 'raised' | 'acknowledged' | 'cleared';
  /** A line for chat channels (Slack, Teams, Mattermost read `text`). */
  text: string;
  alert: AlertView;
  instance: string;
  site: string;
}

export interface WebhookStats {
  delivered: number;
  /** Attempts that failed (each retry counts). */
  failedAttempts: number;
  /** Changes given up after the retries, refused (4xx), or dropped from a full queue or at stop. */
  abandoned: number;
  queued: number;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };
/** A refusal a retry cannot fix; 408 and 429 are worth retrying. */
const isPermanent = (status: number): boolean =>
  status >= 400 && status < 500 && status !== 408 && status !== 429;

/**
 * One webhook: alert changes POSTed as JSON, in order, one request at a time, each retried with
 * backoff (drivers/backoff.ts) on a network error, a timeout, a 5xx, 408 or 429, up to `retries` times.
 * A 4xx otherwise is a refusal and is not retried. Secrets (a URL holding a token, header values) are
 * read at start. The queue is in memory and bounded: changes still queued at stop are counted and lost.
 */
export class WebhookSender {
  private url: URL | undefined;
  private headers: Record<string, string> = {};
  private readonly queue: WebhookPayload[] = [];
  private readonly backoff: ResolvedBackoff;
  private sending = false;
  private stopped = false;
  private retryTimer: Timer | undefined;
  private wakeRetry: (() => void) | undefined;
  private inFlight: http.ClientRequest | undefined;
  private idle: Promise<void> = Promise.resolve();
  private readonly counters: WebhookStats = { delivered: 0, failedAttempts: 0, abandoned: 0, queued: 0 };

  constructor(
    readonly config: AlertWebhookConfig,
    private readonly deps: { configDir: string; env?: NodeJS.ProcessEnv; clock: Clock; logger: Logger },
  ) {
    this.backoff = coerceBackoff({
      initialMs: config.backoff_ms,
      maxMs: Math.max(config.backoff_ms, 60_000),
    });
  }

  /** Reads the secrets; a missing one fails the start with the webhook named. */
  start(): void {
    const where = `alerts.webhooks '${this.config.id}'`;
    try {
      const url =
        typeof this.config.url === 'string'
          ? this.config.url
          : readSecret(this.config.url, this.deps.configDir, this.deps.env);
      this.url = new URL(url);
      if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:')
        throw new Error(`the URL must be http:// or https:// (is '${this.url.protocol}')`);
    } catch (error) {
      throw new Error(`${where} url: ${(error as Error).message}`, { cause: error });
    }
    for (const [name, value] of Object.entries(this.config.headers)) {
      try {
        this.headers[name] =
          typeof value === 'string' ? value : readSecret(value, this.deps.configDir, this.deps.env);
      } catch (error) {
        throw new Error(`${where} headers.${name}: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  /** Whether this webhook wants the change, by severity, state, commune and kind. */
  accepts(alert: AlertView, change: WebhookPayload['change']): boolean {
    const c = this.config;
    return (
      SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[c.min_severity] &&
      c.states.includes(change) &&
      (c.communes === undefined || c.communes.includes(alert.commune)) &&
      (c.kinds === undefined || (c.kinds as readonly string[]).includes(alert.kind))
    );
  }

  enqueue(payload: WebhookPayload): void {
    if (this.stopped || !this.url) return;
    if (this.queue.length >= this.config.max_queue) {
      this.queue.shift();
      this.counters.abandoned++;
      this.deps.logger.warn(
        `webhook '${this.config.id}': queue full (${this.config.max_queue}), oldest change dropped`,
      );
    }
    this.queue.push(payload);
    if (!this.sending) this.idle = this.drain();
  }

  stats(): WebhookStats {
    return { ...this.counters, queued: this.queue.length };
  }

  /** Ends the request in flight and any wait; what is queued is counted as abandoned. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) this.deps.clock.clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    this.inFlight?.destroy(new Error('service stopping'));
    await this.idle;
    if (this.queue.length > 0) {
      this.deps.logger.warn(
        `webhook '${this.config.id}': ${this.queue.length} alert changes not delivered at stop`,
      );
      this.counters.abandoned += this.queue.length;
      this.queue.length = 0;
    }
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const payload = this.queue[0];
        const delivered = await this.deliver(payload);
        if (this.stopped && !delivered) break;
        this.queue.shift();
        if (delivered) this.counters.delivered++;
        else this.counters.abandoned++;
      }
    } finally {
      this.sending = false;
    }
  }

  /** One change, with its retries: true once delivered, false when given up. */
  private async deliver(payload: WebhookPayload): Promise<boolean> {
    const body = JSON.stringify(payload);
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.post(body);
      if (outcome.ok) return true;
      this.counters.failedAttempts++;
      const what = `webhook '${this.config.id}': alert ${payload.alert.id} (${payload.change})`;
      if (outcome.permanent) {
        this.deps.logger.error(`${what} refused: ${outcome.reason}; not retried`);
        return false;
      }
      if (attempt >= this.config.retries || this.stopped) {
        if (!this.stopped)
          this.deps.logger.error(`${what} given up after ${attempt + 1} attempts: ${outcome.reason}`);
        return false;
      }
      const delay = Math.max(outcome.retryAfterMs ?? 0, backoffDelay(attempt, this.backoff));
      this.deps.logger.warn(`${what} failed (${outcome.reason}); retry in ${delay} ms`);
      await this.sleep(delay);
      if (this.stopped) return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = () => {
        this.wakeRetry = undefined;
        resolve();
      };
      this.retryTimer = this.deps.clock.setTimeout(() => {
        this.retryTimer = undefined;
        this.wakeRetry?.();
      }, ms);
    });
  }

  private post(
    body: string,
  ): Promise<{ ok: true } | { ok: false; permanent: boolean; reason: string; retryAfterMs?: number }> {
    const url = this.url!;
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (
        outcome: { ok: true } | { ok: false; permanent: boolean; reason: string; retryAfterMs?: number },
      ): void => {
        if (settled) return;
        settled = true;
        this.deps.clock.clearTimeout(timer);
        this.inFlight = undefined;
        resolve(outcome);
      };
      const request = transport.request(
        url,
        {
          method: 'POST',
          // One connection per request: nothing lingers between alerts, or after stop.
          agent: false,
          headers: {
            ...this.headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'nocturne-alerts',
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) settle({ ok: true });
            else
              settle({
                ok: false,
                permanent: isPermanent(status),
                reason: `HTTP ${status}`,
                retryAfterMs: retryAfter(response.headers['retry-after']),
              });
          });
          response.on('error', (error) => settle({ ok: false, permanent: false, reason: error.message }));
        },
      );
      const timer = this.deps.clock.setTimeout(() => {
        request.destroy(new Error(`no answer within ${this.config.timeout_ms} ms`));
      }, this.config.timeout_ms);
      this.inFlight = request;
      request.on('error', (error) => settle({ ok: false, permanent: false, reason: error.message }));
      request.end(body);
    });
  }
}

/** Retry-After in seconds (the date form is rare for webhooks: ignored). */
function retryAfter(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 600) * 1000 : undefined;
}
