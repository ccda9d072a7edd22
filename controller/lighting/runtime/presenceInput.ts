import type { Clock } from '../../clock';
import type { Logger } from '../../logger';

/**
 * Presence detections as they arrive over MQTT: one topic per sensor, a JSON payload with the class at
 * the sensor's `class_path` (a dot path, e.g. `uplink_message.decoded_payload.class`). Parsing is
 * pure and allocation-light; what is wrong with a message is counted and logged at most once per
 * `logEveryMs` per kind of problem, naming the topic — a sensor sending garbage must never cost more
 * than a counter increment, let alone crash anything.
 */

export type Malformed = 'not-json' | 'not-object' | 'no-class' | 'unknown-topic';

export type Detection = { ok: true; class: string } | { ok: false; problem: Malformed; detail: string };

/** Splits a dot path once, at start. */
export function compileClassPath(path: string): readonly string[] {
  return path.split('.').filter((part) => part.length > 0);
}

/** Reads one message: the class at `path`, or what is wrong. */
export function readDetection(payload: Buffer | string, path: readonly string[]): Detection {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (error) {
    return { ok: false, problem: 'not-json', detail: `not JSON (${(error as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, problem: 'not-object', detail: 'not a JSON object' };
  let node: unknown = value;
  for (const part of path) {
    if (typeof node !== 'object' || node === null) {
      node = undefined;
      break;
    }
    node = (node as Record<string, unknown>)[part];
  }
  if (typeof node === 'string' && node.length > 0 && node.length <= 64) return { ok: true, class: node };
  return {
    ok: false,
    problem: 'no-class',
    detail:
      node === undefined
        ? `no class at '${path.join('.')}'`
        : `class at '${path.join('.')}' is not a short string (is ${describe(node)})`,
  };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

export interface MalformedCounts {
  total: number;
  byKind: Record<Malformed, number>;
}

/** Counts malformed messages and logs them at most once per interval and kind, with the count skipped. */
export class MalformedLog {
  readonly counts: MalformedCounts = {
    total: 0,
    byKind: { 'not-json': 0, 'not-object': 0, 'no-class': 0, 'unknown-topic': 0 },
  };
  private readonly lastLogAt: Record<Malformed, number> = {
    'not-json': Number.NEGATIVE_INFINITY,
    'not-object': Number.NEGATIVE_INFINITY,
    'no-class': Number.NEGATIVE_INFINITY,
    'unknown-topic': Number.NEGATIVE_INFINITY,
  };
  private readonly skipped: Record<Malformed, number> = {
    'not-json': 0,
    'not-object': 0,
    'no-class': 0,
    'unknown-topic': 0,
  };

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly logEveryMs = 10_000,
  ) {}

  record(problem: Malformed, topic: string, detail: string): void {
    this.counts.total++;
    this.counts.byKind[problem]++;
    const now = this.clock.now();
    if (now - this.lastLogAt[problem] < this.logEveryMs) {
      this.skipped[problem]++;
      return;
    }
    const skipped = this.skipped[problem];
    this.skipped[problem] = 0;
    this.lastLogAt[problem] = now;
    this.logger.warn(
      `presence message on '${topic}' dropped: ${detail}${skipped > 0 ? ` (${skipped} more ${problem} message(s) dropped since the last report)` : ''}`,
      { topic, problem },
    );
  }
}
