import { isUtf8 } from 'node:buffer';
import type { Clock } from '../../../core/clock';
import { excerpt, excerptText } from '../../../core/excerpt';
import type { Logger } from '../../../core/logger';
import { ThrottledLog } from '../../../core/throttledLog';

/**
 * Presence detections as they arrive over MQTT: one topic per sensor, a JSON payload with the class at
 * the sensor's `class_path` (a dot path, e.g. `uplink_message.decoded_payload.class`). Parsing is
 * pure and allocation-light; what is wrong with a message is counted and logged at most once per
 * `logEveryMs` per kind of problem, naming the topic — a sensor sending garbage must never cost more
 * than a counter increment, let alone crash anything.
 */

export type Malformed = 'not-json' | 'not-object' | 'no-class' | 'unknown-topic';

export type Detection = { ok: true; class: string } | { ok: false; problem: Malformed; detail: string };

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/** Splits a dot path once, at start. */
export function compileClassPath(path: string): readonly string[] {
  return path.split('.').filter((part) => part.length > 0);
}

/** Reads one message: the class at `path`, or what is wrong. */
export function readDetection(payload: Buffer | string, path: readonly string[]): Detection {
  // JSON text is UTF-8 (RFC 8259 §8.1): decoding other bytes would turn them into U+FFFD and let a garbled
  // class through as a detection.
  if (typeof payload !== 'string' && !isUtf8(payload))
    return { ok: false, problem: 'not-json', detail: 'not JSON (bytes that are not UTF-8)' };
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (error) {
    return { ok: false, problem: 'not-json', detail: `not JSON (${excerptText((error as Error).message)})` };
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
  if (typeof node === 'string' && node.length > 0 && node.length <= 64 && !CONTROL_CHARACTER.test(node))
    return { ok: true, class: node };
  return {
    ok: false,
    problem: 'no-class',
    detail:
      node === undefined
        ? `no class at '${path.join('.')}'`
        : `class at '${path.join('.')}' is not a short string (is ${excerpt(node, 40)})`,
  };
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
  private readonly throttle: ThrottledLog<Malformed>;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    logEveryMs = 10_000,
  ) {
    this.throttle = new ThrottledLog(logEveryMs);
  }

  record(problem: Malformed, topic: string, detail: string): void {
    this.counts.total++;
    this.counts.byKind[problem]++;
    this.throttle.report(problem, this.clock.now(), (skipped) =>
      this.logger.warn(
        `presence message on '${topic}' dropped: ${detail}${skipped > 0 ? ` (${skipped} more ${problem} message(s) dropped since the last report)` : ''}`,
        { topic, problem },
      ),
    );
  }
}
