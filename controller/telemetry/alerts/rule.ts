import type { IANAZone } from 'luxon';
import type { AlertRuleConfig, Config } from '../../../config/schema';
import type { Health } from '../../../drivers/driver';
import type {
  LightingCommandEvent,
  LightingDispatchFailed,
  LightingReported,
  LuminaireFaultChanged,
} from '../../lighting/runtime/events';
import type { GeoPoint } from '../../../core/sun';
import type { AlertState, AlertView } from '../services';
import type { CatalogPoint, PointCatalog } from '../points';
import { type MessageFields } from './messages';
import { RuleWindow } from './scope';
import type { AlertText } from './texts';

/** A rule's runner and what it shares with the engine: one runner per configured rule, the kind's logic. */

export interface AlertEngineDeps {
  config: Pick<Config, 'alerts' | 'buildings' | 'zones' | 'devices' | 'site'>;
  catalog: PointCatalog;
  /** Commune each device serves ('*' when several or none). */
  deviceCommune: (deviceId: string) => string;
  /** When the device went down; undefined while it answers. For staleness of OPC UA points. */
  deviceDownSince: (deviceId: string) => number | undefined;
  /** No InfluxDB configured: its absence is a choice, not an alert. */
  influxConfigured: boolean;
  onChange: (alert: AlertView, change: AlertState) => void;
}

export type TelemetrySignal =
  { type: 'health'; health: Health } | { type: 'dropped' | 'quarantined'; points: number };

export type RuleOf<K extends AlertRuleConfig['kind']> = Extract<AlertRuleConfig, { kind: K }>;

/** One (rule, source): its condition, its timers and its open alert. */
export interface Tracker {
  readonly runner: Runner;
  readonly source: string;
  readonly key: string;
  commune: string;
  forMs: number;
  clearForMs: number;
  raise: boolean;
  clear: boolean;
  pendingSince: number | undefined;
  clearingSince: number | undefined;
  value: number | undefined;
  alert: AlertView | undefined;
}

/** What a rule's runner asks of the engine: its trackers and the evaluation of a condition. */
export interface RuleHost {
  readonly deps: AlertEngineDeps;
  readonly zone: IANAZone;
  tracker(runner: Runner, source: string, commune: string, forMs?: number): Tracker;
  existing(runner: Runner, source: string): Tracker | undefined;
  trackersOf(runner: Runner): Tracker[];
  evaluate(tracker: Tracker, raise: boolean, clear: boolean, value: number | undefined, now: number): void;
}

export abstract class Runner {
  readonly forMs: number;
  readonly clearForMs: number;
  /** The rule's `when`: outside it, nothing is raised (and nothing pending carries over). */
  readonly window: RuleWindow | undefined;

  constructor(
    readonly rule: AlertRuleConfig,
    protected readonly engine: RuleHost,
  ) {
    this.forMs = 'for_s' in rule ? rule.for_s * 1000 : 0;
    this.clearForMs = 'clear_for_s' in rule ? rule.clear_for_s * 1000 : 0;
    this.window = rule.when ? new RuleWindow(rule.when, engine.zone) : undefined;
  }

  /** May the rule raise for this source now? Always, without a `when`. */
  mayRaise(source: string, now: number): boolean {
    return this.window === undefined || this.window.contains(now, this.locationOf(source));
  }

  /** Where the sun of a `when` is computed for a source: the site, unless the kind knows better. */
  protected locationOf(_source: string): GeoPoint {
    return this.engine.deps.config.site.location;
  }

  /**
   * The condition of one source: a tracker is made only when the condition holds (or an alert is
   * open), so that thousands of quiet sources cost nothing.
   */
  protected report(
    source: string,
    commune: string,
    raise: boolean,
    clear: boolean,
    value: number | undefined,
    now: number,
    forMs?: number,
  ): void {
    let tracker = this.engine.existing(this, source);
    if (!tracker) {
      if (!raise || !this.mayRaise(source, now)) return;
      tracker = this.engine.tracker(this, source, commune, forMs);
    }
    this.engine.evaluate(tracker, raise, clear, value, now);
  }

  onPoint(_point: CatalogPoint, _now: number): void {}
  onLighting(_report: LightingReported): void {}
  onFault(_event: LuminaireFaultChanged): void {}
  onDevice(_deviceId: string, _health: Health, _at: number): void {}
  onTelemetry(_signal: TelemetrySignal, _at: number): void {}
  onCommand(_event: LightingCommandEvent): void {}
  onDispatchFailed(_event: LightingDispatchFailed): void {}
  tick(_now: number): void {}

  /**
   * Rules with a `when`, at every tick: the conditions of event-driven kinds reported again, so that a
   * condition already true when a window opens (a door left open before dusk) is seen without a new event.
   * Kinds that evaluate on every tick anyway need nothing here.
   */
  revisit(_now: number): void {}

  /** What a rule's `message` template says about a source. */
  abstract fields(tracker: Tracker): MessageFields;
  /** The alert's text, as a code of texts.ts and its parameters. */
  abstract text(tracker: Tracker, fields: MessageFields, now: number): AlertText;
}
