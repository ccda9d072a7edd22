import type { IANAZone } from 'luxon';
import type { Health } from '../../../drivers/driver';
import { coversAny, type Actor } from '../../scope';
import type {
  LightingCommandEvent,
  LightingDispatchFailed,
  LightingReported,
  LuminaireFaultChanged,
} from '../../lighting/runtime/events';
import { timeZone } from '../../../core/localTime';
import { AlertError, type AlertState, type AlertView } from '../services';
import type { CatalogPoint } from '../points';
import { fillTemplate } from './messages';
import { renderAlertText, type AlertText } from './texts';
import { createRunner } from './rules';
import { PointRunner } from './pointRules';
import { Runner, type AlertEngineDeps, type RuleHost, type TelemetrySignal, type Tracker } from './rule';

/**
 * The alert engine: rules from configuration, evaluated over readings, lighting reports, device health
 * and time. Pure: no I/O, no clock of its own; every input carries its time and `tick(now)` moves the
 * durations, windows and the sun along. Changes go to `onChange`; persistence and outputs are the
 * caller's (AlertManager).
 *
 * Each rule watches sources (a point, a zone, a luminaire, a device, InfluxDB). Per (rule, source) there
 * is at most one open alert (deduplication). A condition must hold `for_s` before the alert is raised,
 * and its clearing condition `clear_for_s` before it clears; between the two (hysteresis) nothing moves.
 * Lifecycle: raised → acknowledged (by a person) → cleared (by the condition going away), or raised →
 * cleared. A condition that comes back after a clear raises a new alert, with a new id.
 *
 * A rule's `when` gates the raising only: outside its window a condition neither raises nor stays
 * pending; an alert raised inside clears by its own condition, whenever that comes.
 */

export type AlertChange = AlertState;

export class AlertEngine implements RuleHost {
  private readonly trackers = new Map<string, Tracker>();
  private readonly runners: Runner[] = [];
  private readonly runnersById = new Map<string, Runner>();
  /** Point rules by catalog index. */
  private readonly pointRunners: (PointRunner[] | undefined)[];
  private readonly cleared: AlertView[] = [];
  readonly zone: IANAZone;

  constructor(readonly deps: AlertEngineDeps) {
    this.zone = timeZone(deps.config.site.timezone);
    this.pointRunners = new Array<PointRunner[] | undefined>(deps.catalog.points.length);
    for (const rule of deps.config.alerts.rules) {
      if (!rule.enabled) continue;
      const runner = createRunner(rule, this);
      this.runners.push(runner);
      this.runnersById.set(rule.id, runner);
      if (runner instanceof PointRunner) {
        for (const point of runner.points) {
          (this.pointRunners[point.index] ??= []).push(runner);
          point.watched = true;
        }
      }
    }
  }

  // ---------------------------------------------------------------- inputs

  /** Open alerts found on disk at start, and recently cleared ones: no re-raise, nothing forgotten. */
  restore(alerts: readonly AlertView[], now: number): void {
    for (const alert of alerts) {
      if (alert.state === 'cleared') {
        this.cleared.push({ ...alert });
        continue;
      }
      const runner = this.runnersById.get(alert.rule);
      if (!runner || runner.rule.kind !== alert.kind) {
        // The rule was removed, disabled or changed kind: nothing will ever clear it.
        const closed: AlertView = { ...alert, state: 'cleared', clearedAt: now };
        this.cleared.push(closed);
        this.deps.onChange({ ...closed }, 'cleared');
        continue;
      }
      const tracker = this.tracker(runner, alert.source, alert.commune);
      tracker.alert = { ...alert };
      tracker.value = alert.value;
    }
  }

  observePoint(point: CatalogPoint, now: number): void {
    const runners = this.pointRunners[point.index];
    if (runners === undefined) return;
    for (const runner of runners) runner.onPoint(point, now);
  }

  observeLighting(report: LightingReported): void {
    for (const runner of this.runners) runner.onLighting(report);
  }

  observeFault(event: LuminaireFaultChanged): void {
    for (const runner of this.runners) runner.onFault(event);
  }

  observeDevice(deviceId: string, health: Health, at: number): void {
    for (const runner of this.runners) runner.onDevice(deviceId, health, at);
  }

  observeTelemetry(signal: TelemetrySignal, at: number): void {
    for (const runner of this.runners) runner.onTelemetry(signal, at);
  }

  /** A relight or override accepted, settled (confirmed or failed) or ended. */
  observeCommand(event: LightingCommandEvent): void {
    for (const runner of this.runners) runner.onCommand(event);
  }

  /** A device did not confirm levels after its retries. */
  observeDispatchFailed(event: LightingDispatchFailed): void {
    for (const runner of this.runners) runner.onDispatchFailed(event);
  }

  /** Time moves: windows open and close, the sun rises, durations elapse, points go stale. */
  tick(now: number): void {
    for (const runner of this.runners) {
      runner.tick(now);
      if (runner.window) runner.revisit(now);
    }
    for (const tracker of this.trackers.values())
      if (tracker.pendingSince !== undefined || tracker.clearingSince !== undefined) this.apply(tracker, now);
  }

  acknowledge(id: string, actor: Pick<Actor, 'user' | 'communes'>, now: number): AlertView {
    for (const tracker of this.trackers.values()) {
      const alert = tracker.alert;
      if (alert?.id !== id) continue;
      if (!coversAny(actor.communes, [alert.commune]))
        throw new AlertError('forbidden', `alert '${id}' is in commune '${alert.commune}', outside yours`);
      if (alert.state === 'raised') {
        alert.state = 'acknowledged';
        alert.acknowledgedAt = now;
        alert.acknowledgedBy = actor.user;
        this.deps.onChange({ ...alert }, 'acknowledged');
      }
      return { ...alert };
    }
    const cleared = this.cleared.find((a) => a.id === id);
    if (cleared) {
      if (!coversAny(actor.communes, [cleared.commune]))
        throw new AlertError('forbidden', `alert '${id}' is in commune '${cleared.commune}', outside yours`);
      throw new AlertError(
        'conflict',
        `alert '${id}' was cleared at ${new Date(cleared.clearedAt!).toISOString()}`,
      );
    }
    throw new AlertError('not-found', `no alert '${id}'`);
  }

  // ---------------------------------------------------------------- outputs

  /** Open alerts, then recently cleared ones (within `keepClearedMs` of now) when asked. */
  list(now: number, includeCleared: boolean): AlertView[] {
    const open: AlertView[] = [];
    for (const tracker of this.trackers.values()) if (tracker.alert) open.push({ ...tracker.alert });
    open.sort((a, b) => b.raisedAt - a.raisedAt);
    if (!includeCleared) return open;
    this.pruneCleared(now);
    return [...open, ...this.cleared.map((a) => ({ ...a })).sort((a, b) => b.clearedAt! - a.clearedAt!)];
  }

  /** What to persist: open alerts and the recently cleared. */
  snapshot(now: number): AlertView[] {
    return this.list(now, true);
  }

  openCount(): number {
    let count = 0;
    for (const tracker of this.trackers.values()) if (tracker.alert) count++;
    return count;
  }

  // ---------------------------------------------------------------- for runners

  tracker(runner: Runner, source: string, commune: string, forMs = runner.forMs): Tracker {
    const key = `${runner.rule.id}\u0000${source}`;
    let tracker = this.trackers.get(key);
    if (!tracker) {
      tracker = {
        runner,
        source,
        key,
        commune,
        forMs,
        clearForMs: runner.clearForMs,
        raise: false,
        clear: false,
        pendingSince: undefined,
        clearingSince: undefined,
        value: undefined,
        alert: undefined,
      };
      this.trackers.set(key, tracker);
    }
    return tracker;
  }

  existing(runner: Runner, source: string): Tracker | undefined {
    return this.trackers.get(`${runner.rule.id}\u0000${source}`);
  }

  trackersOf(runner: Runner): Tracker[] {
    return [...this.trackers.values()].filter((t) => t.runner === runner);
  }

  /**
   * The condition of one source now: `raise` (it holds), `clear` (it is over), or neither (inside the
   * hysteresis band, or not known). `value` goes with the alert.
   */
  evaluate(tracker: Tracker, raise: boolean, clear: boolean, value: number | undefined, now: number): void {
    tracker.clear = clear && !raise;
    // Outside the rule's window the condition may clear an alert, never raise one.
    tracker.raise = raise && tracker.runner.mayRaise(tracker.source, now);
    if (value !== undefined) tracker.value = value;
    if (tracker.alert) {
      tracker.pendingSince = undefined;
      if (!tracker.clear) tracker.clearingSince = undefined;
      else tracker.clearingSince ??= now;
    } else {
      tracker.clearingSince = undefined;
      if (!tracker.raise) tracker.pendingSince = undefined;
      else tracker.pendingSince ??= now;
    }
    this.apply(tracker, now);
    // Nothing open and nothing pending: nothing worth keeping.
    if (tracker.alert === undefined && tracker.pendingSince === undefined) this.trackers.delete(tracker.key);
  }

  private apply(tracker: Tracker, now: number): void {
    if (tracker.alert === undefined) {
      if (tracker.pendingSince !== undefined && now - tracker.pendingSince >= tracker.forMs)
        this.raise(tracker, now);
    } else if (tracker.clearingSince !== undefined && now - tracker.clearingSince >= tracker.clearForMs) {
      this.clearAlert(tracker, now);
    }
  }

  private raise(tracker: Tracker, now: number): void {
    const rule = tracker.runner.rule;
    const fields = tracker.runner.fields(tracker);
    const text: AlertText = rule.message
      ? { code: 'rule-message', params: { text: fillTemplate(rule.message, fields) } }
      : tracker.runner.text(tracker, fields, now);
    const alert: AlertView = {
      id: alertId(rule.id, tracker.source, now),
      rule: rule.id,
      kind: rule.kind,
      severity: rule.severity,
      state: 'raised',
      commune: tracker.commune,
      source: tracker.source,
      code: text.code,
      params: text.params,
      message: renderAlertText(text),
      raisedAt: now,
    };
    if (tracker.value !== undefined && Number.isFinite(tracker.value)) alert.value = tracker.value;
    if (fields.unit) alert.unit = fields.unit;
    if (rule.name) alert.ruleName = rule.name;
    tracker.alert = alert;
    tracker.pendingSince = undefined;
    this.deps.onChange({ ...alert }, 'raised');
  }

  private clearAlert(tracker: Tracker, now: number): void {
    const alert = tracker.alert!;
    alert.state = 'cleared';
    alert.clearedAt = now;
    tracker.alert = undefined;
    tracker.clearingSince = undefined;
    // A cleared source starts again from nothing (its condition is over: `clear` excludes `raise`).
    this.trackers.delete(tracker.key);
    this.cleared.push({ ...alert });
    this.deps.onChange({ ...alert }, 'cleared');
  }

  private pruneCleared(now: number): void {
    const keepMs = this.deps.config.alerts.keep_cleared_h * 3_600_000;
    let drop = 0;
    this.cleared.sort((a, b) => a.clearedAt! - b.clearedAt!);
    while (drop < this.cleared.length && now - this.cleared[drop].clearedAt! > keepMs) drop++;
    this.cleared.splice(0, drop);
  }
}

/** Stable for one occurrence, usable in an MQTT topic level and a URL path segment. */
export function alertId(rule: string, source: string, raisedAt: number): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    hash ^= source.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `${rule}-${(hash >>> 0).toString(16).padStart(8, '0')}-${raisedAt.toString(36)}`;
}
