import type { Actor } from '../scope';
import type { AlertCode, AlertParams } from './alerts/texts';

/**
 * The energy side as the HTTP API and the web console see it: buildings with their latest values,
 * and alerts. Implemented by the telemetry and alert subsystems (controller/telemetry/); reached as
 * `service.energy` and `service.alerts`. Reads only show what lies in the actor's communes.
 */

export type Quality = 'good' | 'uncertain' | 'bad';

export interface PointView {
  id: string;
  name?: string;
  measurement: 'sensor' | 'meter';
  quantity: string;
  unit: string;
  room?: string;
  device: string;
  /** Latest value (meters: the index), undefined before the first reading. */
  value: number | boolean | undefined;
  quality: Quality | undefined;
  /** When the value was taken (device time where it gives one), epoch ms. */
  at: number | undefined;
  /** Meters: consumption over the last 24 h, in the point's unit. */
  last24h?: number;
  /** True when no value arrived for longer than its stale threshold. */
  stale: boolean;
}

export interface BuildingView {
  id: string;
  commune: string;
  name?: string;
  kind: string;
  /** Open now according to its opening hours and closed dates. */
  openNow: boolean;
  points: PointView[];
}

/** Five minutes of a point: PointHistory's bucket. */
export interface HistoryBucket {
  /** Start of the bucket, epoch ms. */
  at: number;
  min: number;
  mean: number;
  max: number;
  samples: number;
}

/** The last 24 hours of a sensor point, in 5-minute buckets (min, mean, max), kept in memory. */
export interface PointHistoryView {
  building: string;
  commune: string;
  point: Pick<PointView, 'id' | 'name' | 'quantity' | 'unit' | 'room' | 'value' | 'at' | 'stale'>;
  bucketMs: number;
  /** Oldest first; buckets without a sample are left out. */
  buckets: HistoryBucket[];
}

export interface EnergyService {
  buildings(actor: Actor): BuildingView[];
  /** Throws an error with code 'not-found' or 'forbidden' (see AlertError). */
  building(id: string, actor: Actor): BuildingView;
  /** A sensor point's last 24 hours; 'not-found' (also for meters) or 'forbidden'. */
  history(building: string, point: string, actor: Actor): PointHistoryView;
}

export type AlertState = 'raised' | 'acknowledged' | 'cleared';
export type Severity = 'info' | 'warning' | 'critical';

export interface AlertView {
  /** Stable for one occurrence, from raised to cleared. */
  id: string;
  /** Configuration id of the rule that raised it. */
  rule: string;
  /** threshold, outside-opening-hours, lamp-by-day, stale, night-flow, lamp-failure, lamp-cycling, level-mismatch, device-unreachable… */
  kind: string;
  severity: Severity;
  state: AlertState;
  commune: string;
  /** What it is about: 'building/point', a luminaire, a device. */
  source: string;
  /** What happened, as a code of the alert texts (controller/telemetry/alerts/texts.ts)… */
  code: AlertCode;
  /** …and the values its text needs: the console shows it in the reader's language. */
  params: AlertParams;
  /** The text in French, rendered from `code` and `params`. */
  message: string;
  /** The value that raised it, when there is one. */
  value?: number;
  /** Unit of `value`. */
  unit?: string;
  /** The rule's `name` in the configuration, when it has one. */
  ruleName?: string;
  raisedAt: number;
  acknowledgedAt?: number;
  acknowledgedBy?: string;
  clearedAt?: number;
}

export type AlertErrorCode = 'not-found' | 'forbidden' | 'conflict' | 'unavailable';

export class AlertError extends Error {
  constructor(
    readonly code: AlertErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AlertError';
  }
}

export interface AlertService {
  /** Open (raised or acknowledged) alerts by default; `includeCleared` adds recently cleared ones. */
  list(actor: Actor, options?: { includeCleared?: boolean }): AlertView[];
  /** Raised → acknowledged, recorded with the actor; `conflict` when already cleared. */
  acknowledge(id: string, actor: Actor): Promise<AlertView>;
  /** Alert changes within the actor's communes; returns the unsubscribe function. */
  subscribe(actor: Actor, listener: (alert: AlertView) => void): () => void;
}
