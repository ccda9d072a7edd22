import type { Health } from '../driver';

/**
 * The writer's decisions, apart from its I/O: what a failed write means, how healthy the writer is,
 * and how to find the lines InfluxDB refuses inside a batch.
 */

/** HTTP statuses that reject the data itself: sending it again would fail again. */
const DATA_REJECTED = new Set([400, 413, 422]);

export type WriteFailure =
  | { action: 'retry'; status?: number; message: string; retryAfterMs: number }
  | { action: 'quarantine'; status: number; message: string };

/**
 * 400 (bad line, field type conflict, partial write), 413 (too large) and 422 (outside retention) are the
 * data's fault: quarantine. Everything else is InfluxDB's or the network's (down, timeout, 5xx, 429) or the
 * configuration's (401/403 token, 404 bucket): retry the same batch later, never discard it.
 */
export function classifyWriteFailure(error: unknown): WriteFailure {
  const status = httpStatus(error);
  const message = describeError(error);
  if (status !== undefined && DATA_REJECTED.has(status)) return { action: 'quarantine', status, message };
  return { action: 'retry', status, message, retryAfterMs: retryAfterMs(error) };
}

function httpStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

const MAX_RETRY_AFTER_MS = 300_000;

/** The Retry-After header (429, 503), which the client's HttpError.retryAfter() gives in seconds. */
function retryAfterMs(error: unknown): number {
  if (httpStatus(error) === undefined) return 0;
  const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
  if (typeof retryAfter !== 'function') return 0;
  const seconds: unknown = (retryAfter as () => unknown).call(error);
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0
    ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS)
    : 0;
}

/** One line: the HTTP status and InfluxDB's own message where there is one. */
export function describeError(error: unknown): string {
  const status = httpStatus(error);
  const body = (error as { body?: unknown } | null)?.body;
  let detail = error instanceof Error ? error.message : String(error);
  if (typeof body === 'string' && body.length > 0) {
    try {
      const parsed = JSON.parse(body) as { error?: unknown; message?: unknown };
      const text = parsed.error ?? parsed.message;
      if (typeof text === 'string') detail = text;
    } catch {
      detail = body;
    }
  }
  detail = detail.replace(/\s+/g, ' ').slice(0, 500);
  return status === undefined ? detail : `HTTP ${status}: ${detail}`;
}

export interface HealthInputs {
  configured: boolean;
  /** Failed attempts since the last success. */
  consecutiveFailures: number;
  /** A backlog left by failures or a restart is still being sent. */
  catchingUp: boolean;
  downAfterFailures: number;
}

/** up: writing; degraded: retrying or sending a backlog; down: not configured or failing repeatedly. */
export function writerHealth(inputs: HealthInputs): Health {
  if (!inputs.configured || inputs.consecutiveFailures >= inputs.downAfterFailures) return 'down';
  if (inputs.consecutiveFailures > 0 || inputs.catchingUp) return 'degraded';
  return 'up';
}

export type PostOutcome = 'ok' | { rejected: string };

export interface RejectedPart {
  lines: string[];
  reason: string;
}

/**
 * After InfluxDB refused a batch as a whole, finds the lines it refuses by halving: halves it accepts
 * are written (rewriting a point InfluxDB already took from a partial write changes nothing), halves it
 * refuses are halved again, down to single lines. Beyond `maxRequests` requests, what is still refused
 * is returned whole, so a batch of only bad lines costs a bounded number of requests.
 */
export async function isolateRejected(
  lines: string[],
  reason: string,
  post: (text: string) => Promise<PostOutcome>,
  maxRequests: number,
): Promise<RejectedPart[]> {
  const rejected: RejectedPart[] = [];
  let requests = 0;
  const visit = async (part: string[], partReason: string): Promise<void> => {
    if (part.length === 1 || requests >= maxRequests) {
      rejected.push({ lines: part, reason: partReason });
      return;
    }
    const middle = part.length >>> 1;
    for (const half of [part.slice(0, middle), part.slice(middle)]) {
      if (requests >= maxRequests) {
        rejected.push({ lines: half, reason: partReason });
        continue;
      }
      requests++;
      const outcome = await post(half.join('\n'));
      if (outcome !== 'ok') await visit(half, outcome.rejected);
    }
  };
  await visit(lines, reason);
  return rejected;
}
