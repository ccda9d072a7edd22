import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import { type Arbiter } from '../arbiter';
import { PRIORITY, type SlotName } from '../slots';
import type { LightingTopology } from '../topology';
import type { Messaging } from '../../../drivers/messaging';
import type { LightingTopics, ZoneStatePayload } from './topics';

/**
 * The retained `<base>/<commune>/<zone>/state` topics: a zone's levels, republished when they change,
 * at most once per `intervalMs` per zone. Payloads are built as strings from the typed arrays (no
 * object per luminaire), and a burst of due zones is published a few at a time, so that a busy
 * territory's state never holds up a presence detection behind it.
 */

const SLOT_OF: Record<number, SlotName> = {
  [PRIORITY.emergency]: 'emergency',
  [PRIORITY.override]: 'override',
  [PRIORITY.presence]: 'presence',
  [PRIORITY.schedule]: 'schedule',
};
/** The slot names as JSON strings, quoted once rather than per luminaire and payload. */
const SLOT_JSON: Record<number, string> = Object.fromEntries(
  Object.entries(SLOT_OF).map(([priority, slot]) => [priority, JSON.stringify(slot)]),
);
/** Zones published per turn of the event loop. */
const ZONES_PER_TURN = 16;

export interface ZoneStateDeps {
  topology: LightingTopology;
  arbiter: Arbiter;
  topics: LightingTopics;
  mqtt: Messaging;
  clock: Clock;
  logger: Logger;
  /** The emergency relight in force on part of the zone, if any. */
  emergencyIn(zone: number): string | undefined;
}

export class ZoneStatePublisher {
  private readonly due = new Set<number>();
  private readonly publishedAt: Float64Array;
  /** Per zone, computed once: its topic and the JSON list of its luminaire ids. */
  private readonly topicOf: string[];
  private readonly idsJson: string[];
  /** Per-luminaire parts of a payload, reused from one payload to the next (joined, then cleared). */
  private readonly levelParts: string[] = [];
  private readonly inEffectParts: string[] = [];
  private readonly slotParts: string[] = [];
  private timer: Timer | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private connected = false;
  private stopped = false;

  constructor(
    private readonly deps: ZoneStateDeps,
    private readonly intervalMs: number,
  ) {
    const { topology, topics } = deps;
    this.publishedAt = new Float64Array(topology.zones.length).fill(Number.NEGATIVE_INFINITY);
    this.topicOf = topology.zones.map((z) => topics.zoneState(topology.communes[z.commune], z.id));
    this.idsJson = topology.zones.map((z) => JSON.stringify(topology.ids.slice(z.start, z.end)));
  }

  /** The broker is (again) reachable: every zone's state is published anew. */
  connectedToBroker(): void {
    this.connected = true;
    this.publishedAt.fill(Number.NEGATIVE_INFINITY);
    for (let z = 0; z < this.topicOf.length; z++) this.due.add(z);
    this.schedule(0);
  }

  /** Luminaire i changed (decision or read-back). */
  changed(i: number): void {
    if (!this.connected) return;
    const z = this.deps.topology.zoneOf[i];
    if (this.due.has(z)) return;
    this.due.add(z);
    this.schedule(Math.max(0, this.publishedAt[z] + this.intervalMs - this.deps.clock.now()));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The payload of zone z now (also for tests). */
  payload(z: number, now: number): string {
    const { topology, arbiter } = this.deps;
    const zone = topology.zones[z];
    const slots: Partial<Record<SlotName | 'undecided', number>> = {};
    const { levelParts, inEffectParts, slotParts } = this;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = zone.start; i < zone.end; i++) {
      const level = arbiter.levelOf(i);
      const priority = arbiter.priorityOf(i);
      const slot = priority === undefined ? undefined : SLOT_OF[priority];
      const key = slot ?? 'undecided';
      slots[key] = (slots[key] ?? 0) + 1;
      if (!Number.isNaN(level)) {
        if (level < min) min = level;
        if (level > max) max = level;
      }
      const actual = arbiter.inEffectOf(i);
      const part = i - zone.start;
      levelParts[part] = Number.isNaN(level) ? 'null' : String(level);
      inEffectParts[part] = Number.isFinite(actual) ? String(actual) : 'null';
      slotParts[part] = (priority === undefined ? undefined : SLOT_JSON[priority]) ?? 'null';
    }
    const count = zone.end - zone.start;
    levelParts.length = inEffectParts.length = slotParts.length = count;
    const emergency = this.deps.emergencyIn(z);
    const head: Omit<ZoneStatePayload, 'luminaires' | 'levels' | 'in_effect' | 'slot'> = {
      zone: zone.id,
      commune: topology.communes[zone.commune],
      at: new Date(now).toISOString(),
      level: max >= min ? { min, max } : null,
      slots,
      emergency: emergency ?? null,
    };
    const text = JSON.stringify(head);
    return `${text.slice(0, -1)},"luminaires":${this.idsJson[z]},"levels":[${levelParts.join(',')}],"in_effect":[${inEffectParts.join(',')}],"slot":[${slotParts.join(',')}]}`;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const at = this.deps.clock.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.deps.clock.setTimeout(this.publishDue, delayMs);
  }

  private readonly publishDue = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.stopped || !this.connected) return;
    const now = this.deps.clock.now();
    let published = 0;
    let nextDue = Number.POSITIVE_INFINITY;
    for (const z of this.due) {
      const dueAt = this.publishedAt[z] + this.intervalMs;
      if (dueAt > now) {
        nextDue = Math.min(nextDue, dueAt);
        continue;
      }
      if (published === ZONES_PER_TURN) {
        nextDue = now;
        break;
      }
      this.due.delete(z);
      this.publishedAt[z] = now;
      published++;
      this.deps.mqtt
        .publish(this.topicOf[z], this.payload(z, now), { qos: 0, retain: true })
        .catch((error: unknown) =>
          this.deps.logger.debug(
            () => `zone state ${this.topicOf[z]} not published: ${(error as Error).message}`,
          ),
        );
    }
    if (nextDue < Number.POSITIVE_INFINITY) this.schedule(Math.max(0, nextDue - now));
  };
}
