import type { Bus } from '../../bus';
import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { Actor } from '../../scope';
import type { LightingChange, LuminaireLevel } from './lightingService';
import type { LightingParts } from './parts';
import { levelOf } from './views';
import type { ZoneStatePublisher } from './zoneState';

export interface ChangeFeedDeps {
  bus: Bus;
  clock: Clock;
  logger: Logger;
  /** Level changes are batched over this interval. */
  batchMs: number;
}

interface Subscriber {
  all: boolean;
  communes: ReadonlySet<string>;
  listener: (change: LightingChange) => void;
}

/**
 * Luminaires told per turn of the event loop. A relight of 100,000 changes them all in one batch, whose
 * reports and telemetry lines cost ~5 µs each: told at once, they would hold the loop for a second or
 * more while the devices' answers to that very relight wait unread. In slices of ~10 ms, the answers are
 * read between slices and the relight is confirmed before its telemetry is all written.
 */
export const FLUSH_SLICE = 2000;

/**
 * While an emergency relight waits for its read-backs, the levels' telemetry waits too, up to this
 * long per batch: on a machine whose cores are all busy (five shards of 100,000 luminaires on two) it
 * would take a third of the CPU the confirmation needs. The relight's own progress is told at once
 * (publish), not through these batches.
 */
export const RELIGHT_FIRST_MS = 3000;
/**
 * And this long after the last relight is done (within RELIGHT_FIRST_MS): the instances sharing the
 * machine are still confirming theirs. Measured with five shards on two cores, a shard done first and
 * writing its 100,000 levels' telemetry took the CPU the others needed: all confirmed in 1.6-3.2 s
 * instead of 1.2-1.5 s.
 */
export const RELIGHT_SETTLE_MS = 1000;
/** How often a batch held back for a relight looks again. */
const RELIGHT_RECHECK_MS = 50;

/**
 * What changes, told to whoever follows it: commands, progress and definitions at once to the
 * subscribers of their communes; luminaire levels batched (one event per batch, not per luminaire) to the
 * subscribers (console), the telemetry recorder (bus) and the zone state topics.
 */
export class ChangeFeed {
  private readonly subscribers = new Set<Subscriber>();
  private running?: { parts: LightingParts; zoneStates: ZoneStatePublisher; pending: Uint8Array };
  private pendingList: number[] = [];
  /** Where the next slice of pendingList starts: the list is cut by a cursor, not copied at each slice. */
  private pendingFrom = 0;
  /** When the batch being told was first held back for a relight (undefined: not held back). */
  private heldSince: number | undefined;
  private batchTimer?: Timer;
  private stopped = false;

  constructor(private readonly deps: ChangeFeedDeps) {}

  /** Levels are followed from the start of the runtime; subscribers may come before. */
  start(parts: LightingParts, zoneStates: ZoneStatePublisher): void {
    this.running = { parts, zoneStates, pending: new Uint8Array(parts.topology.count) };
  }

  stop(): void {
    this.stopped = true;
    if (this.batchTimer) this.deps.clock.clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
  }

  subscribe(actor: Actor, listener: (change: LightingChange) => void): () => void {
    const subscriber: Subscriber = {
      all: actor.communes.includes('*'),
      communes: new Set(actor.communes),
      listener,
    };
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  /** A command, its progress or a definition changed: told now to the subscribers of these communes. */
  publish(change: LightingChange, communes: readonly string[]): void {
    for (const subscriber of this.subscribers) {
      if (!subscriber.all && !communes.some((c) => subscriber.communes.has(c))) continue;
      try {
        subscriber.listener(change);
      } catch (error) {
        this.deps.logger.error(`lighting: change listener failed: ${(error as Error).message}`);
      }
    }
  }

  levelsChanged(luminaires: Int32Array): void {
    for (let j = 0; j < luminaires.length; j++) this.levelChanged(luminaires[j]);
  }

  allLevelsChanged(): void {
    const count = this.running?.parts.topology.count ?? 0;
    for (let i = 0; i < count; i++) this.levelChanged(i);
  }

  levelChanged(i: number): void {
    const pending = this.running!.pending;
    if (pending[i] === 1) return;
    pending[i] = 1;
    this.pendingList.push(i);
    if (!this.batchTimer && !this.stopped)
      this.batchTimer = this.deps.clock.setTimeout(this.flush, this.deps.batchMs);
  }

  private readonly flush = (): void => {
    this.batchTimer = undefined;
    if (!this.running) return;
    const { parts: t, zoneStates, pending } = this.running;
    const { bus, clock, logger } = this.deps;
    const now = clock.now();
    if (t.board.relightPending || now - t.board.relightDoneAt < RELIGHT_SETTLE_MS) {
      this.heldSince ??= now;
      if (now - this.heldSince < RELIGHT_FIRST_MS) {
        if (!this.stopped) this.batchTimer = clock.setTimeout(this.flush, RELIGHT_RECHECK_MS);
        return;
      }
    }
    const end = this.pendingFrom + FLUSH_SLICE;
    const list = this.pendingList.slice(this.pendingFrom, end);
    if (end < this.pendingList.length) {
      // The rest stays pending (a luminaire changed again meanwhile is still told once) for the next turn.
      // Changes that keep coming would keep the list from ever emptying: once half of it is told, the
      // rest is moved down, which copies no more than was told since (linear overall).
      this.pendingFrom = end;
      if (end * 2 >= this.pendingList.length) {
        this.pendingList = this.pendingList.slice(end);
        this.pendingFrom = 0;
      }
      if (!this.stopped) this.batchTimer = clock.setTimeout(this.flush, 0);
    } else {
      this.pendingList = [];
      this.pendingFrom = 0;
      // The whole batch is told: the next one may be held back again.
      this.heldSince = undefined;
    }
    for (let k = 0; k < list.length; k++) pending[list[k]] = 0;
    if (bus.listenerCount('lightingReported') > 0) {
      t.accounting.advance(now);
      bus.emit('lightingReported', {
        at: now,
        kind: 'change',
        luminaires: list.map((i) => t.accounting.report(i, now)),
      });
    }
    if (this.subscribers.size > 0) {
      const byCommune = new Map<string, LuminaireLevel[]>();
      for (const i of list) {
        const level = levelOf(t, i);
        let group = byCommune.get(level.commune);
        if (!group) byCommune.set(level.commune, (group = []));
        group.push(level);
      }
      for (const subscriber of this.subscribers) {
        const luminaires: LuminaireLevel[] = [];
        for (const [commune, levels] of byCommune)
          if (subscriber.all || subscriber.communes.has(commune)) luminaires.push(...levels);
        if (luminaires.length === 0) continue;
        try {
          subscriber.listener({ type: 'levels', at: now, luminaires });
        } catch (error) {
          logger.error(`lighting: change listener failed: ${(error as Error).message}`);
        }
      }
    }
    for (let k = 0; k < list.length; k++) zoneStates.changed(list[k]);
  };
}
