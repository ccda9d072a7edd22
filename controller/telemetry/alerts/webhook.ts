import type { AlertWebhookConfig } from '../../../config/schema';
import { readSecret, type SecretRef } from '../../../config/secrets';
import type { Clock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { AlertView, Severity } from '../services';
import { DeliveryQueue, type DeliveryStats } from './deliveryQueue';
import { httpAttempt } from './httpAttempt';

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

export type WebhookStats = DeliveryStats;

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

/**
 * One webhook: alert changes POSTed as JSON, in order, one request at a time, each retried with
 * backoff on a network error, a timeout, a 5xx, 408 or 429, up to `retries` times (DeliveryQueue,
 * httpAttempt). A 4xx otherwise is a refusal and is not retried. Secrets (a URL holding a token, header
 * values) are read at start. The queue is in memory and bounded: changes still queued at stop are
 * counted and lost.
 */
export class WebhookSender {
  private url: URL | undefined;
  private headers: Record<string, string> = {};
  private readonly queue: DeliveryQueue<WebhookPayload>;

  constructor(
    readonly config: AlertWebhookConfig,
    private readonly deps: { configDir: string; env?: NodeJS.ProcessEnv; clock: Clock; logger: Logger },
  ) {
    this.queue = new DeliveryQueue<WebhookPayload>({
      name: `webhook '${config.id}'`,
      retries: config.retries,
      backoffMs: config.backoff_ms,
      maxQueue: config.max_queue,
      clock: deps.clock,
      logger: deps.logger,
      describe: (payload) => `alert ${payload.alert.id} (${payload.change})`,
      attempt: (payload, signal) =>
        httpAttempt(
          {
            url: this.url!,
            method: 'POST',
            headers: { ...this.headers, 'content-type': 'application/json' },
            body: JSON.stringify(payload),
            timeoutMs: config.timeout_ms,
            succeeded: (status) => status >= 200 && status < 300,
          },
          deps.clock,
          signal,
        ),
    });
  }

  /** Reads the secrets; a missing one fails the start with the webhook named. */
  start(): void {
    const where = `alerts.webhooks '${this.config.id}'`;
    this.url = readUrlSecret(this.config.url, where, this.deps.configDir, this.deps.env);
    this.headers = readSecretMap(this.config.headers, `${where} headers`, this.deps.configDir, this.deps.env);
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
    if (this.url) this.queue.enqueue(payload);
  }

  stats(): WebhookStats {
    return this.queue.stats();
  }

  /** Ends the request in flight and any wait; what is queued is counted as abandoned. */
  stop(): Promise<void> {
    return this.queue.stop();
  }
}

/** An output's URL, given or from a secret; a missing secret or a URL not http(s) names `where`. */
export function readUrlSecret(
  value: string | SecretRef,
  where: string,
  configDir: string,
  env: NodeJS.ProcessEnv | undefined,
): URL {
  try {
    const url = new URL(typeof value === 'string' ? value : readSecret(value, configDir, env));
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`the URL must be http:// or https:// (is '${url.protocol}')`);
    return url;
  } catch (error) {
    throw new Error(`${where} url: ${(error as Error).message}`, { cause: error });
  }
}

/** Values given or from secrets (headers, template parameters); a missing secret names its key. */
export function readSecretMap(
  values: Record<string, string | SecretRef>,
  where: string,
  configDir: string,
  env: NodeJS.ProcessEnv | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    try {
      out[name] = typeof value === 'string' ? value : readSecret(value, configDir, env);
    } catch (error) {
      throw new Error(`${where}.${name}: ${(error as Error).message}`, { cause: error });
    }
  }
  return out;
}
