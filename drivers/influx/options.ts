import path from 'node:path';
import { readSecret } from '../../config/secrets';
import type { InfluxConfig } from '../../config/schema';
import { type BackoffOptions, type ResolvedBackoff, coerceBackoff } from '../backoff';

export interface InfluxWriterOptions {
  /** InfluxDB base URL. Absent: not configured; points stay in the spool (bounded) for a later start. */
  url?: string;
  org?: string;
  /** Bucket (InfluxDB 2/3) or `database[/retention policy]` (InfluxDB 1.8+ and the compatibility route). */
  bucket?: string;
  token?: string;
  /** Points per request. */
  batchSize?: number;
  /** Longest wait for a batch to fill before it is sent anyway. */
  flushMs?: number;
  gzip?: boolean;
  /** Where the spool lives: `<state_dir>/spool`. */
  spoolDir: string;
  spoolMaxBytes?: number;
  segmentBytes?: number;
  /**
   * Least time between two saves of the spool cursor. After a crash, up to this much acknowledged data is
   * sent again, which InfluxDB stores once (same series and timestamp).
   */
  cursorSaveIntervalMs?: number;
  /**
   * Least time between two fdatasyncs of the spool (Spool's fsyncIntervalMs): a power cut loses at most
   * the points acknowledged within it and the sync in progress; a crash of the process loses none.
   */
  syncIntervalMs?: number;
  /**
   * Recently appended points also kept in memory, so that a sender keeping up never reads them back from
   * disk. Beyond it the oldest are read from the spool files.
   */
  tailMaxBytes?: number;
  /** Bound on the quarantine file; refused points beyond it are counted as dropped. */
  quarantineMaxBytes?: number;
  /**
   * Batches on the wire at once while InfluxDB keeps up. A backlog (after a failure or a restart) is
   * always sent one batch at a time, in order.
   */
  maxInFlight?: number;
  /** Bytes per request, on top of batchSize. */
  maxBatchBytes?: number;
  requestTimeoutMs?: number;
  /** How long stop() keeps sending what is spooled before leaving the rest for the next start. */
  stopTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Consecutive failed attempts after which health is 'down' rather than 'degraded'. */
  downAfterFailures?: number;
  /** Requests spent finding the refused lines of a batch InfluxDB rejected. */
  maxIsolationRequests?: number;
}

export type ResolvedInfluxWriterOptions = Required<
  Omit<InfluxWriterOptions, 'url' | 'org' | 'bucket' | 'token' | 'backoff'>
> & {
  /** Undefined when InfluxDB is not configured. */
  target: { url: string; org: string; bucket: string; token: string | undefined } | undefined;
  backoff: ResolvedBackoff;
};

const MIB = 1024 * 1024;

export function coerceInfluxWriterOptions(options: InfluxWriterOptions): ResolvedInfluxWriterOptions {
  const spoolMaxBytes = options.spoolMaxBytes ?? 512 * MIB;
  const resolved: ResolvedInfluxWriterOptions = {
    target: undefined,
    batchSize: options.batchSize ?? 5000,
    flushMs: options.flushMs ?? 1000,
    gzip: options.gzip ?? true,
    spoolDir: options.spoolDir,
    spoolMaxBytes,
    // Several segments within the bound, so dropping the oldest one frees a fraction of it.
    segmentBytes: options.segmentBytes ?? Math.min(64 * MIB, Math.max(4096, Math.floor(spoolMaxBytes / 16))),
    cursorSaveIntervalMs: options.cursorSaveIntervalMs ?? 1000,
    syncIntervalMs: options.syncIntervalMs ?? 100,
    tailMaxBytes: options.tailMaxBytes ?? 16 * MIB,
    quarantineMaxBytes: options.quarantineMaxBytes ?? 64 * MIB,
    maxInFlight: options.maxInFlight ?? 2,
    maxBatchBytes: options.maxBatchBytes ?? 16 * MIB,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 5000,
    backoff: coerceBackoff({ initialMs: 200, maxMs: 10_000, ...options.backoff }),
    downAfterFailures: options.downAfterFailures ?? 3,
    maxIsolationRequests: options.maxIsolationRequests ?? 64,
  };
  if (!resolved.spoolDir) throw new Error('influx writer: spoolDir is required');
  const positive = [
    'batchSize',
    'flushMs',
    'spoolMaxBytes',
    'segmentBytes',
    'cursorSaveIntervalMs',
    'tailMaxBytes',
    'quarantineMaxBytes',
    'maxInFlight',
    'maxBatchBytes',
    'requestTimeoutMs',
    'downAfterFailures',
    'maxIsolationRequests',
  ] as const;
  for (const key of positive) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new Error(`influx writer: ${key} is ${value}, must be a number > 0`);
    }
  }
  for (const key of ['stopTimeoutMs', 'syncIntervalMs'] as const) {
    if (!Number.isFinite(resolved[key]) || resolved[key] < 0) {
      throw new Error(`influx writer: ${key} is ${resolved[key]}, must be a number >= 0`);
    }
  }
  if (resolved.segmentBytes > resolved.spoolMaxBytes) {
    throw new Error(
      `influx writer: segmentBytes (${resolved.segmentBytes}) must not exceed spoolMaxBytes (${resolved.spoolMaxBytes})`,
    );
  }
  if (options.url !== undefined) {
    if (!/^https?:\/\/[^/]/.test(options.url)) {
      throw new Error(`influx writer: url '${options.url}' must start with http:// or https://`);
    }
    if (!options.bucket) throw new Error(`influx writer: a bucket is required with url '${options.url}'`);
    resolved.target = {
      url: options.url,
      org: options.org ?? '',
      bucket: options.bucket,
      token: options.token,
    };
  }
  return resolved;
}

/**
 * Options from the `influx` section: the token is read now, where the writer is built, so that it never
 * sits in the configuration object. Absent section: the writer only spools.
 */
export function influxWriterOptionsFromConfig(
  influx: InfluxConfig | undefined,
  context: { stateDir: string; configDir: string; env?: NodeJS.ProcessEnv },
): InfluxWriterOptions {
  const spoolDir = path.resolve(context.configDir, context.stateDir, 'spool');
  if (!influx) return { spoolDir };
  return {
    url: influx.url,
    org: influx.org,
    bucket: influx.bucket,
    token: readInfluxToken(influx, context.configDir, context.env),
    batchSize: influx.batch_size,
    flushMs: influx.flush_ms,
    gzip: influx.gzip,
    spoolDir,
    spoolMaxBytes: Math.round(influx.spool_max_mb * MIB),
    syncIntervalMs: influx.spool_sync_ms,
  };
}

/** The `influx.token` secret, read where a client is built; an error names the field. */
export function readInfluxToken(
  influx: InfluxConfig,
  configDir: string,
  env?: NodeJS.ProcessEnv,
): string | undefined {
  if (!influx.token) return undefined;
  try {
    return readSecret(influx.token, configDir, env);
  } catch (error) {
    throw new Error(`influx.token: ${(error as Error).message}`, { cause: error });
  }
}
