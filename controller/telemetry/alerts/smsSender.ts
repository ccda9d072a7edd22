import type { SmsChannelConfig } from '../../../config/schema';
import { readSecret } from '../../../config/secrets';
import type { Clock } from '../../../core/clock';
import type { AttemptOutcome } from './deliveryQueue';
import { httpAttempt } from './httpAttempt';
import { renderSmsRequest, type SmsTemplate } from './smsTemplate';
import { readSecretMap } from './webhook';

/**
 * SMS through an HTTP gateway described in configuration (URL, method, headers, body template): the
 * message is delivered when the gateway answers one of `success_status`. Secrets (URL, headers,
 * template parameters) are read at start.
 */
export class SmsSender {
  private template: SmsTemplate | undefined;

  constructor(
    readonly config: SmsChannelConfig,
    private readonly deps: { configDir: string; env?: NodeJS.ProcessEnv; clock: Clock },
  ) {}

  /** Reads the secrets and checks that the URL, filled in, is http(s); else fails naming the field. */
  start(): void {
    const { config, deps } = this;
    const where = 'notifications.sms';
    let url: string;
    try {
      url = typeof config.url === 'string' ? config.url : readSecret(config.url, deps.configDir, deps.env);
    } catch (error) {
      throw new Error(`${where}.url: ${(error as Error).message}`, { cause: error });
    }
    const template: SmsTemplate = {
      url,
      method: config.method,
      headers: readSecretMap(config.headers, `${where}.headers`, deps.configDir, deps.env),
      params: readSecretMap(config.params, `${where}.params`, deps.configDir, deps.env),
      contentType: config.content_type,
      body: config.body,
    };
    renderSmsRequest(template, '+33600000000', 'essai'); // throws on a URL that is not http(s)
    this.template = template;
  }

  send(to: string, text: string, signal: AbortSignal): Promise<AttemptOutcome> {
    if (!this.template)
      return Promise.resolve({ ok: false, permanent: true, reason: 'SMS channel not started' });
    const request = renderSmsRequest(this.template, to, text);
    return httpAttempt(
      {
        ...request,
        timeoutMs: this.config.timeout_ms,
        succeeded: (status) => this.config.success_status.includes(status),
      },
      this.deps.clock,
      signal,
    );
  }
}
