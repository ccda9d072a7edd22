/** Retry delays: exponential with full jitter, capped. The one retry helper of the drivers. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** 0 = no jitter, 1 = full jitter (delay drawn from [0, d]). */
  jitter?: number;
}

export type ResolvedBackoff = Required<BackoffOptions>;

export function coerceBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  return {
    initialMs: options.initialMs ?? 200,
    maxMs: options.maxMs ?? 30_000,
    factor: options.factor ?? 2,
    jitter: options.jitter ?? 0.5,
  };
}

/** Delay before retry number `attempt` (0-based). */
export function backoffDelay(
  attempt: number,
  options: ResolvedBackoff,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** attempt);
  return Math.round(base * (1 - options.jitter * random()));
}
