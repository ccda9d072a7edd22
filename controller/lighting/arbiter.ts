import type { PresenceOutput } from './presence';
import type { ScheduleState } from './zoneSchedule';
import type { LightingTopology, Target } from './topology';
import { MinHeap } from './minHeap';
import {
  PRIORITY,
  type SlotName,
  type Priority,
  type SlotRecord,
  type TargetedCommand,
  type TargetedRecord,
  type CommandResult,
  type LuminaireState,
} from './slots';

/**
 * Who decides a luminaire's level: a priority array per luminaire, after BACnet's (DESIGN.md).
 *
 * | priority | slot      | records                               | combines                          |
 * |----------|-----------|---------------------------------------|-----------------------------------|
 * | 1        | emergency | targeted (luminaires/zone/commune/all) | wins outright                     |
 * | 8        | override  | targeted                              | wins outright                     |
 * | 12       | presence  | one per presence group                | max(schedule, presence), at night |
 * | 16       | schedule  | one per zone                          |                                   |
 *
 * Within a targeted slot the most recent command (latest start) covering a luminaire wins. Presence
 * never lowers the schedule: the luminaire gets max(schedule, highest presence among its groups), and
 * presence counts only while the zone's schedule allows it (lit, or night) and has a level at all.
 * A luminaire with no record in any slot is undecided (level undefined): nothing is sent and the
 * segment controller's fail-safe applies.
 *
 * Commands are records, not per-luminaire copies: relighting a commune of 10,000 luminaires is one
 * record. Decisions are cached in typed arrays and recomputed only for the luminaires a change touches;
 * they collect in a change list the dispatcher drains with takeChanges(). Time comes in as `now`:
 * decide(now) applies due starts and expiries, nextExpiry() tells when to call it next.
 */

interface Targeted extends SlotRecord {
  id: string;
  slot: 'emergency' | 'override';
  target: Target;
  /** Unique per command, also across replacements, so stale deadlines are recognised. */
  seq: number;
}

type Deadline =
  | { at: number; kind: 'start' | 'expire'; slot: 'emergency' | 'override'; id: string; seq: number }
  | { at: number; kind: 'expire'; slot: 'presence'; index: number; version: number }
  | { at: number; kind: 'expire'; slot: 'schedule'; index: number; version: number };

const SLOT_OF_PRIORITY: Record<number, SlotName> = {
  1: 'emergency',
  8: 'override',
  12: 'presence',
  16: 'schedule',
};

export class Arbiter {
  // Decisions, one entry per luminaire.
  private readonly level: Float64Array;
  private readonly priority: Uint8Array;
  /** Record handle of the decision: Targeted.seq, group index or zone index, by priority. */
  private readonly decidedKey: Int32Array;
  private readonly transitionMs: Float64Array;
  // TALQ values reported by the dispatcher and the pollers.
  private readonly commanded: Float64Array;
  private readonly commandedAt: Float64Array;
  /** The last level the device refused (a protocol exception), until the next one is sent. */
  private readonly refused: Float64Array;
  private readonly refusedAt: Float64Array;
  private readonly inEffect: Float64Array;
  private readonly inEffectAt: Float64Array;
  private readonly powerW: Float64Array;
  private readonly powerAt: Float64Array;
  // Change list.
  private readonly dirty: Uint8Array;
  private changes: Int32Array;
  private changeCount = 0;
  private changedSinceCall = 0;
  // Slots.
  private readonly targeted = {
    emergency: new Map<string, Targeted>(),
    override: new Map<string, Targeted>(),
  };
  /** Active targeted records per slot, most recent first: the first that covers a luminaire wins. */
  private readonly active: { emergency: Targeted[]; override: Targeted[] } = { emergency: [], override: [] };
  private readonly bySeq = new Map<number, Targeted>();
  private readonly presenceLevel: Float64Array;
  private readonly presenceMeta: (SlotRecord | undefined)[];
  private readonly presenceVersion: Uint32Array;
  private readonly scheduleLevel: Float64Array;
  private readonly scheduleAllowsPresence: Uint8Array;
  private readonly scheduleMeta: (SlotRecord | undefined)[];
  private readonly scheduleVersion: Uint32Array;
  private readonly deadlines = new MinHeap<Deadline>();
  private seq = 0;
  private now = Number.NEGATIVE_INFINITY;

  constructor(private readonly topology: LightingTopology) {
    const n = topology.count;
    this.level = new Float64Array(n).fill(Number.NaN);
    this.priority = new Uint8Array(n);
    this.decidedKey = new Int32Array(n).fill(-1);
    this.transitionMs = new Float64Array(n);
    this.commanded = new Float64Array(n).fill(Number.NaN);
    this.commandedAt = new Float64Array(n).fill(Number.NaN);
    this.refused = new Float64Array(n).fill(Number.NaN);
    this.refusedAt = new Float64Array(n).fill(Number.NaN);
    this.inEffect = new Float64Array(n).fill(Number.NaN);
    this.inEffectAt = new Float64Array(n).fill(Number.NaN);
    this.powerW = new Float64Array(n).fill(Number.NaN);
    this.powerAt = new Float64Array(n).fill(Number.NaN);
    this.dirty = new Uint8Array(n);
    this.changes = new Int32Array(Math.min(n, 1024));
    this.presenceLevel = new Float64Array(topology.groups.length).fill(Number.NaN);
    this.presenceMeta = new Array<SlotRecord | undefined>(topology.groups.length).fill(undefined);
    this.presenceVersion = new Uint32Array(topology.groups.length);
    this.scheduleLevel = new Float64Array(topology.zones.length).fill(Number.NaN);
    this.scheduleAllowsPresence = new Uint8Array(topology.zones.length);
    this.scheduleMeta = new Array<SlotRecord | undefined>(topology.zones.length).fill(undefined);
    this.scheduleVersion = new Uint32Array(topology.zones.length);
  }

  // ---- Emergency relight (priority 1) and manual override (priority 8) ----

  relight(command: TargetedCommand, now: number): CommandResult {
    return this.putTargeted('emergency', { ...command, level: command.level ?? 100 }, now);
  }

  clearRelight(id: string, now: number): CommandResult {
    return this.removeTargeted('emergency', id, now);
  }

  override(command: TargetedCommand, now: number): CommandResult {
    if (command.level === undefined)
      return { ok: false, error: `override '${command.id}': a level is required` };
    return this.putTargeted('override', command, now);
  }

  releaseOverride(id: string, now: number): CommandResult {
    return this.removeTargeted('override', id, now);
  }

  /** Emergency relights or overrides in force or pending, for persistence and the API. */
  records(slot: 'emergency' | 'override'): TargetedRecord[] {
    return [...this.targeted[slot].values()].map((r) => {
      const record: TargetedRecord = {
        id: r.id,
        slot,
        target: this.topology.describeTarget(r.target),
        level: r.level,
        source: r.source,
        actor: r.actor,
        reason: r.reason,
        start: r.start,
        pending: r.start > this.now,
      };
      if (r.expiresAt !== undefined) record.expiresAt = r.expiresAt;
      return record;
    });
  }

  // ---- Presence (priority 12) and schedule (priority 16) ----

  /** Presence raises group `group` (LightingTopology.groups) to `level`. */
  setPresence(group: number, record: Partial<SlotRecord> & { level: number }, now: number): CommandResult {
    if (!(group >= 0 && group < this.presenceLevel.length))
      return { ok: false, error: `presence: no group #${group}` };
    const invalid = checkLevel(record.level) ?? checkExpiry(record.expiresAt, now);
    if (invalid) return { ok: false, error: `presence '${this.topology.groups[group].sensor}': ${invalid}` };
    this.decide(now);
    const meta = completeRecord(record, 'presence', this.topology.groups[group].sensor, now);
    this.presenceLevel[group] = meta.level;
    this.presenceMeta[group] = meta;
    this.presenceVersion[group]++;
    if (meta.expiresAt !== undefined) {
      this.deadlines.push({
        at: meta.expiresAt,
        kind: 'expire',
        slot: 'presence',
        index: group,
        version: this.presenceVersion[group],
      });
    }
    return { ok: true, changed: this.recomputeGroup(group, 0) };
  }

  /** Presence lets go of the group, which returns to its schedule over fadeS seconds. */
  releasePresence(group: number, now: number, fadeS = 0): CommandResult {
    if (!(group >= 0 && group < this.presenceLevel.length))
      return { ok: false, error: `presence: no group #${group}` };
    this.decide(now);
    this.clearPresence(group);
    return { ok: true, changed: this.recomputeGroup(group, Math.max(0, fadeS) * 1000) };
  }

  /** What a PresenceGroup emitted, applied. */
  applyPresence(output: PresenceOutput): CommandResult {
    return output.level === undefined
      ? this.releasePresence(output.group, output.at, output.fadeS)
      : this.setPresence(
          output.group,
          { level: output.level, reason: output.cause, start: output.at },
          output.at,
        );
  }

  /** The zone's schedule level, and whether presence may raise it now. */
  setSchedule(
    zone: number,
    record: Partial<SlotRecord> & { level: number; allowPresence: boolean },
    now: number,
  ): CommandResult {
    if (!(zone >= 0 && zone < this.scheduleLevel.length))
      return { ok: false, error: `schedule: no zone #${zone}` };
    const invalid = checkLevel(record.level) ?? checkExpiry(record.expiresAt, now);
    if (invalid)
      return { ok: false, error: `schedule of zone '${this.topology.zones[zone].id}': ${invalid}` };
    this.decide(now);
    const meta = completeRecord(record, 'schedule', `calendar:${this.topology.zones[zone].calendar}`, now);
    const unchanged =
      this.scheduleLevel[zone] === meta.level &&
      this.scheduleAllowsPresence[zone] === Number(record.allowPresence);
    this.scheduleLevel[zone] = meta.level;
    this.scheduleAllowsPresence[zone] = record.allowPresence ? 1 : 0;
    this.scheduleMeta[zone] = meta;
    this.scheduleVersion[zone]++;
    if (meta.expiresAt !== undefined) {
      this.deadlines.push({
        at: meta.expiresAt,
        kind: 'expire',
        slot: 'schedule',
        index: zone,
        version: this.scheduleVersion[zone],
      });
    }
    return { ok: true, changed: unchanged ? 0 : this.recomputeZone(zone) };
  }

  /** What a ZoneSchedule says, applied; the reason names the night, program and step. */
  applySchedule(zone: number, state: ScheduleState, now: number): CommandResult {
    const step = state.step === 'initial' ? 'before the first step' : `step ${state.step}`;
    const lux = state.lux ? `, brought forward by light sensor ${state.lux.point}` : '';
    return this.setSchedule(
      zone,
      {
        level: state.level,
        allowPresence: state.allowPresence,
        reason: `night ${state.night}, program ${state.program}${state.ruleName ? ` (${state.ruleName})` : ''}, ${step}${lux}`,
      },
      now,
    );
  }

  clearSchedule(zone: number, now: number): CommandResult {
    if (!(zone >= 0 && zone < this.scheduleLevel.length))
      return { ok: false, error: `schedule: no zone #${zone}` };
    this.decide(now);
    this.dropSchedule(zone);
    return { ok: true, changed: this.recomputeZone(zone) };
  }

  // ---- Time ----

  /** Applies the starts and expiries due at `now`; returns how many luminaires changed. */
  decide(now: number): number {
    if (now > this.now) this.now = now;
    const before = this.changedSinceCall;
    for (let next = this.deadlines.peek(); next && next.at <= this.now; next = this.deadlines.peek()) {
      this.deadlines.pop();
      if (next.slot === 'presence') {
        if (this.presenceVersion[next.index] !== next.version) continue;
        this.clearPresence(next.index);
        this.recomputeGroup(next.index, 0);
      } else if (next.slot === 'schedule') {
        if (this.scheduleVersion[next.index] !== next.version) continue;
        this.dropSchedule(next.index);
        this.recomputeZone(next.index);
      } else {
        const record = this.targeted[next.slot].get(next.id);
        if (!record || record.seq !== next.seq) continue;
        if (next.kind === 'start') this.activate(record);
        else this.dropTargeted(record);
      }
    }
    return this.changedSinceCall - before;
  }

  /** The next instant at which a start or an expiry is due, for the controller's one timer. */
  nextExpiry(): number | undefined {
    for (let next = this.deadlines.peek(); next; next = this.deadlines.peek()) {
      if (this.isLive(next)) return next.at;
      this.deadlines.pop();
    }
    return undefined;
  }

  // ---- Decisions out ----

  /** Luminaires whose level or deciding slot changed since the last call, ascending; clears the list. */
  takeChanges(): Int32Array {
    const out = this.changes.slice(0, this.changeCount).sort();
    for (const i of out) this.dirty[i] = 0;
    this.changeCount = 0;
    return out;
  }

  /** Decided level of luminaire i, NaN when undecided. For the dispatcher's hot path. */
  levelOf(i: number): number {
    return this.level[i];
  }

  transitionSOf(i: number): number {
    return this.transitionMs[i] / 1000;
  }

  priorityOf(i: number): Priority | undefined {
    return (this.priority[i] || undefined) as Priority | undefined;
  }

  state(i: number): LuminaireState | undefined {
    if (!(i >= 0 && i < this.topology.count)) return undefined;
    const priority = this.priorityOf(i);
    const slot = priority === undefined ? undefined : SLOT_OF_PRIORITY[priority];
    const zone = this.topology.zones[this.topology.zoneOf[i]];
    return {
      id: this.topology.ids[i],
      zone: zone.id,
      commune: this.topology.communes[zone.commune],
      level: Number.isNaN(this.level[i]) ? undefined : this.level[i],
      priority,
      slot,
      decidedBy: this.decidingRecord(slot, this.decidedKey[i]),
      transitionS: this.transitionMs[i] / 1000,
      commanded: reading(this.commanded[i], this.commandedAt[i], (level, at) => ({ level, at })),
      refused: reading(this.refused[i], this.refusedAt[i], (level, at) => ({ level, at })),
      inEffect: reading(this.inEffect[i], this.inEffectAt[i], (level, at) => ({ level, at })),
      measured: reading(this.powerW[i], this.powerAt[i], (powerW, at) => ({ powerW, at })),
    };
  }

  stateOf(id: string): LuminaireState | undefined {
    const i = this.topology.indexOf(id);
    return i === undefined ? undefined : this.state(i);
  }

  // ---- TALQ values reported back ----

  /** The dispatcher sent `level` to luminaire i. */
  recordCommanded(i: number, level: number, at: number): boolean {
    if (i >= 0 && i < this.refused.length) this.refused[i] = Number.NaN;
    return this.record(this.commanded, this.commandedAt, i, level, at, checkLevel(level) === undefined);
  }

  /**
   * The device refused `level` (it answered the write with an exception): shown as refused, and what it
   * was last commanded is no longer known.
   */
  recordRefused(i: number, level: number, at: number): boolean {
    if (!this.record(this.refused, this.refusedAt, i, level, at, checkLevel(level) === undefined))
      return false;
    this.commanded[i] = Number.NaN;
    this.commandedAt[i] = Number.NaN;
    return true;
  }

  /** The device reports `level` in effect (read-back). */
  recordInEffect(i: number, level: number, at: number): boolean {
    return this.record(this.inEffect, this.inEffectAt, i, level, at, checkLevel(level) === undefined);
  }

  /** The device measured `watts`. */
  recordPower(i: number, watts: number, at: number): boolean {
    return this.record(this.powerW, this.powerAt, i, watts, at, Number.isFinite(watts) && watts >= 0);
  }

  inEffectOf(i: number): number {
    return this.inEffect[i];
  }

  measuredPowerOf(i: number): number {
    return this.powerW[i];
  }

  /**
   * Decided luminaires whose device does not (yet) show the decided level within `tolerance` percent:
   * what a reconciler resends. Unknown read-backs count as mismatches.
   */
  mismatches(tolerance = 0.5): Int32Array {
    const out: number[] = [];
    for (let i = 0; i < this.level.length; i++) {
      const level = this.level[i];
      if (Number.isNaN(level)) continue;
      const actual = this.inEffect[i];
      if (Number.isNaN(actual) || Math.abs(actual - level) > tolerance) out.push(i);
    }
    return Int32Array.from(out);
  }

  // ---- Internals ----

  private putTargeted(slot: 'emergency' | 'override', command: TargetedCommand, now: number): CommandResult {
    const what = `${slot === 'emergency' ? 'emergency relight' : 'override'} '${command.id}'`;
    if (typeof command.id !== 'string' || command.id.length === 0)
      return { ok: false, error: `${slot}: the command needs an id` };
    const invalid =
      checkLevel(command.level!) ??
      (Number.isFinite(command.start) ? undefined : `start must be a time (is ${String(command.start)})`) ??
      checkExpiry(command.expiresAt, Math.max(now, command.start));
    if (invalid) return { ok: false, error: `${what}: ${invalid}` };
    const target = this.topology.resolveTarget(command.target);
    if (!target.ok) return { ok: false, error: `${what}: ${target.error}` };
    this.decide(now);
    const before = this.changedSinceCall;
    const previous = this.targeted[slot].get(command.id);
    if (previous) this.dropTargeted(previous);
    const record: Targeted = {
      id: command.id,
      slot,
      target: target.value,
      level: command.level!,
      source: command.source,
      actor: command.actor,
      reason: command.reason,
      start: command.start,
      seq: this.seq++,
    };
    if (command.expiresAt !== undefined) record.expiresAt = command.expiresAt;
    this.targeted[slot].set(record.id, record);
    this.bySeq.set(record.seq, record);
    if (record.start > this.now) {
      this.deadlines.push({ at: record.start, kind: 'start', slot, id: record.id, seq: record.seq });
    } else this.activate(record);
    if (record.expiresAt !== undefined) {
      this.deadlines.push({ at: record.expiresAt, kind: 'expire', slot, id: record.id, seq: record.seq });
    }
    return { ok: true, changed: this.changedSinceCall - before };
  }

  private removeTargeted(slot: 'emergency' | 'override', id: string, now: number): CommandResult {
    this.decide(now);
    const record = this.targeted[slot].get(id);
    if (!record) {
      const known = [...this.targeted[slot].keys()]
        .slice(0, 10)
        .map((k) => `'${k}'`)
        .join(', ');
      return {
        ok: false,
        error: `no ${slot === 'emergency' ? 'emergency relight' : 'override'} '${id}' (active: ${known || 'none'})`,
      };
    }
    const before = this.changedSinceCall;
    this.dropTargeted(record);
    return { ok: true, changed: this.changedSinceCall - before };
  }

  private activate(record: Targeted): void {
    const list = this.active[record.slot];
    // Most recent first: later start, then later command.
    const at = list.findIndex(
      (r) => r.start < record.start || (r.start === record.start && r.seq < record.seq),
    );
    list.splice(at < 0 ? list.length : at, 0, record);
    this.topology.forEachIn(record.target, (i) => this.recompute(i, 0));
  }

  private dropTargeted(record: Targeted): void {
    this.targeted[record.slot].delete(record.id);
    this.bySeq.delete(record.seq);
    const list = this.active[record.slot];
    const at = list.indexOf(record);
    if (at >= 0) {
      list.splice(at, 1);
      this.topology.forEachIn(record.target, (i) => this.recompute(i, 0));
    }
  }

  private clearPresence(group: number): void {
    this.presenceLevel[group] = Number.NaN;
    this.presenceMeta[group] = undefined;
    this.presenceVersion[group]++;
  }

  private dropSchedule(zone: number): void {
    this.scheduleLevel[zone] = Number.NaN;
    this.scheduleAllowsPresence[zone] = 0;
    this.scheduleMeta[zone] = undefined;
    this.scheduleVersion[zone]++;
  }

  private recomputeGroup(group: number, transitionMs: number): number {
    const before = this.changedSinceCall;
    for (const i of this.topology.groups[group].members) this.recompute(i, transitionMs);
    return this.changedSinceCall - before;
  }

  private recomputeZone(zone: number): number {
    const before = this.changedSinceCall;
    const { start, end } = this.topology.zones[zone];
    for (let i = start; i < end; i++) this.recompute(i, 0);
    return this.changedSinceCall - before;
  }

  private recompute(i: number, transitionMs: number): void {
    let level = Number.NaN;
    let priority = 0;
    let key = -1;
    const emergency = this.firstCovering(this.active.emergency, i);
    const override = emergency ? undefined : this.firstCovering(this.active.override, i);
    const winner = emergency ?? override;
    if (winner) {
      level = winner.level;
      priority = PRIORITY[winner.slot];
      key = winner.seq;
    } else {
      const zone = this.topology.zoneOf[i];
      const schedule = this.scheduleLevel[zone];
      if (!Number.isNaN(schedule)) {
        level = schedule;
        priority = PRIORITY.schedule;
        key = zone;
        if (this.scheduleAllowsPresence[zone]) {
          for (const group of this.topology.groupsOf(i)) {
            if (this.presenceLevel[group] > level) {
              level = this.presenceLevel[group];
              priority = PRIORITY.presence;
              key = group;
            }
          }
        }
      }
    }
    this.decidedKey[i] = key;
    const same =
      (level === this.level[i] || (Number.isNaN(level) && Number.isNaN(this.level[i]))) &&
      priority === this.priority[i];
    // Another record of the same slot at the same level is news for state(), not for the dispatcher.
    if (same) return;
    this.level[i] = level;
    this.priority[i] = priority;
    this.transitionMs[i] = transitionMs;
    this.changedSinceCall++;
    if (this.dirty[i]) return;
    this.dirty[i] = 1;
    if (this.changeCount === this.changes.length) {
      const grown = new Int32Array(Math.min(this.level.length, this.changes.length * 2));
      grown.set(this.changes);
      this.changes = grown;
    }
    this.changes[this.changeCount++] = i;
  }

  private firstCovering(list: readonly Targeted[], i: number): Targeted | undefined {
    for (const record of list) if (this.topology.covers(record.target, i)) return record;
    return undefined;
  }

  private decidingRecord(
    slot: SlotName | undefined,
    key: number,
  ): (SlotRecord & { id?: string }) | undefined {
    switch (slot) {
      case undefined:
        return undefined;
      case 'emergency':
      case 'override': {
        const record = this.bySeq.get(key);
        if (!record) return undefined;
        const out: SlotRecord & { id?: string } = {
          id: record.id,
          level: record.level,
          source: record.source,
          actor: record.actor,
          reason: record.reason,
          start: record.start,
        };
        if (record.expiresAt !== undefined) out.expiresAt = record.expiresAt;
        return out;
      }
      case 'presence':
        return this.presenceMeta[key];
      case 'schedule':
        return this.scheduleMeta[key];
    }
  }

  private isLive(deadline: Deadline): boolean {
    switch (deadline.slot) {
      case 'presence':
        return this.presenceVersion[deadline.index] === deadline.version;
      case 'schedule':
        return this.scheduleVersion[deadline.index] === deadline.version;
      case 'emergency':
      case 'override':
        return this.targeted[deadline.slot].get(deadline.id)?.seq === deadline.seq;
    }
  }

  private record(
    values: Float64Array,
    times: Float64Array,
    i: number,
    value: number,
    at: number,
    valid: boolean,
  ): boolean {
    if (!(i >= 0 && i < values.length) || !valid || !Number.isFinite(at)) return false;
    values[i] = value;
    times[i] = at;
    return true;
  }
}

function checkLevel(level: number): string | undefined {
  return typeof level === 'number' && level >= 0 && level <= 100
    ? undefined
    : `level must be a number from 0 to 100 % (is ${String(level)})`;
}

function checkExpiry(expiresAt: number | undefined, after: number): string | undefined {
  if (expiresAt === undefined) return undefined;
  if (!Number.isFinite(expiresAt)) return `expiry must be a time (is ${String(expiresAt)})`;
  return expiresAt > after
    ? undefined
    : `expiry ${new Date(expiresAt).toISOString()} is not after ${new Date(after).toISOString()}`;
}

function completeRecord(
  record: Partial<SlotRecord> & { level: number },
  source: string,
  actor: string,
  now: number,
): SlotRecord {
  const out: SlotRecord = {
    level: record.level,
    source: record.source ?? source,
    actor: record.actor ?? actor,
    reason: record.reason ?? '',
    start: record.start ?? now,
  };
  if (record.expiresAt !== undefined) out.expiresAt = record.expiresAt;
  return out;
}

function reading<T>(value: number, at: number, make: (value: number, at: number) => T): T | undefined {
  return Number.isNaN(value) ? undefined : make(value, at);
}
