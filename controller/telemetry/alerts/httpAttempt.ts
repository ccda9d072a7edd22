import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../../../core/clock';
import type { AttemptOutcome } from './deliveryQueue';

export interface HttpAttempt {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Statuses that mean delivered. */
  succeeded: (status: number) => boolean;
}

/** A refusal a retry cannot fix; 408 and 429 are worth retrying. */
const isPermanent = (status: number): boolean =>
  status >= 400 && status < 500 && status !== 408 && status !== 429;

/**
 * One HTTP request of an alert output (webhook, SMS gateway): its outcome, never a rejection. A network
 * error, a timeout, a 5xx, 408 or 429 is worth retrying; another 4xx is a refusal; `Retry-After` in
 * seconds is passed on. One connection per request: nothing lingers between alerts, or after stop.
 */
export function httpAttempt(
  request: HttpAttempt,
  clock: Clock,
  signal: AbortSignal,
): Promise<AttemptOutcome> {
  const transport = request.url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: AttemptOutcome): void => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const headers: Record<string, string | number> = { 'user-agent': 'nocturne-alerts', ...request.headers };
    if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
    const outgoing = transport.request(
      request.url,
      { method: request.method, agent: false, headers },
      (response) => {
        response.resume();
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (request.succeeded(status)) settle({ ok: true });
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
    const timer = clock.setTimeout(() => {
      outgoing.destroy(new Error(`no answer within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    const onAbort = (): void => {
      outgoing.destroy(new Error('service stopping'));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
    outgoing.on('error', (error) => settle({ ok: false, permanent: false, reason: error.message }));
    outgoing.end(request.body);
  });
}

/** Retry-After in seconds (the date form is rare for webhooks and gateways: ignored). */
function retryAfter(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 600) * 1000 : undefined;
}
