import { SyncStateMachine, t, type ITransition, type SyncCallback } from 'typescript-fsm';
import type { PresenceSensorConfig } from '../../config/schema';
import type { Clock, Timer } from '../../core/clock';
import type { Logger } from '../../core/logger';

/**
 * Presence dimming for one sensor's group of luminaires, as a typescript-fsm machine:
 *
 *   idle --detect--> holding --holdExpired--> fading --fadeDone--> idle
 *   holding --detect--> holding (extends the hold), fading --detect--> holding (back up)
 *   idle|holding|fading --fault--> fault (sensor silent too long) --recover--> idle
 *
 * The machine does no I/O: it tells the controller what the group should get through `emit`, and
 * runs its hold, fade and silence timers on the injected Clock. Presence only ever raises: the
 * arbiter combines its level with the schedule's as max(schedule, presence).
 *
 * SyncStateMachine is used so a detection reaches the arbiter in the same tick (the latency target is
 * a 2.5 ms p99 from MQTT to the segment controller); the async StateMachine defers every event with
 * setTimeout(0).
 */

export type PresenceState = 'idle' | 'holding' | 'fading' | 'fault';
export type PresenceEvent = 'detect' | 'holdExpired' | 'fadeDone' | 'fault' | 'recover';

export type PresenceCause =
  /** A detection raised an idle group. */
  | 'detected'
  /** A detection during the fade-out took the group back up. */
  | 'detected-during-fade'
  /** A detection of a class with a higher level while holding. */
  | 'raised'
  /** The hold ended: presence lets go and the group fades back to the schedule over fadeS. */
  | 'hold-expired'
  /** The sensor has been silent longer than allowed. */
  | 'fault'
  /** A silent sensor spoke again. */
  | 'recovered';

/** What presence wants for the group. */
export interface PresenceOutput {
  /** Index of the group in LightingTopology.groups. */
  group: number;
  sensor: string;
  /** Presence level; undefined when presence lets go and the schedule applies again. */
  level: number | undefined;
  /** Ramp time for the change, seconds (the fade-out; 0 for raises). */
  fadeS: number;
  cause: PresenceCause;
  /** The state entered. */
  state: PresenceState;
  at: number;
}

export interface PresenceGroupOptions {
  group: number;
  sensor: string;
  /** Level per detection class; 'default' for classes not listed. */
  levels: Readonly<Record<string, number>>;
  holdMs: number;
  fadeMs: number;
  debounceMs: number;
  silentFaultMs: number;
  /** Level held while in fault; undefined: no raise. */
  faultLevel?: number;
}

export function presenceOptions(sensor: PresenceSensorConfig, group: number): PresenceGroupOptions {
  const options: PresenceGroupOptions = {
    group,
    sensor: sensor.id,
    levels: sensor.levels,
    holdMs: sensor.hold_s * 1000,
    fadeMs: sensor.fade_s * 1000,
    debounceMs: sensor.debounce_ms,
    silentFaultMs: sensor.silent_fault_h * 3_600_000,
  };
  if (sensor.fault_level !== undefined) options.faultLevel = sensor.fault_level;
  return options;
}

/** The level a detection class asks for: its own, else 'default', else the highest configured (safe side). */
export function levelForClass(levels: Readonly<Record<string, number>>, cls: string | undefined): number {
  if (cls !== undefined && Object.hasOwn(levels, cls)) return levels[cls];
  if (Object.hasOwn(levels, 'default')) return levels.default;
  const all = Object.values(levels);
  return all.length > 0 ? Math.max(...all) : 100;
}

export type DetectResult = 'accepted' | 'debounced' | 'stopped';

type Handlers = Record<PresenceEvent, SyncCallback>;

/** The transition table, shared by the live machines and the diagram in docs/lighting.md. */
function transitions(on: {
  raise: SyncCallback;
  extend: SyncCallback;
  raiseAgain: SyncCallback;
  fadeOut: SyncCallback;
  settle: SyncCallback;
  fail: SyncCallback;
  recover: SyncCallback;
}): ITransition<PresenceState, PresenceEvent, Handlers[PresenceEvent]>[] {
  // Every transition has a callback: typescript-fsm 1.6's syncDispatch reports "No transition" (and
  // returns false) for a transition without one, although it has changed the state.
  return [
    t('idle', 'detect', 'holding', on.raise),
    t('holding', 'detect', 'holding', on.extend),
    t('fading', 'detect', 'holding', on.raiseAgain),
    t('holding', 'holdExpired', 'fading', on.fadeOut),
    t('fading', 'fadeDone', 'idle', on.settle),
    t('idle', 'fault', 'fault', on.fail),
    t('holding', 'fault', 'fault', on.fail),
    t('fading', 'fault', 'fault', on.fail),
    t('fault', 'recover', 'idle', on.recover),
  ];
}

export class PresenceGroup {
  private readonly machine: SyncStateMachine<PresenceState, PresenceEvent, Handlers>;
  private level = 0;
  private holdUntil = 0;
  private lastAccepted = Number.NEGATIVE_INFINITY;
  private lastHeard = 0;
  private holdTimer: Timer | undefined;
  private fadeTimer: Timer | undefined;
  private silenceTimer: Timer | undefined;
  private running = false;

  constructor(
    readonly options: PresenceGroupOptions,
    private readonly clock: Clock,
    private readonly emit: (output: PresenceOutput) => void,
    private readonly logger: Logger,
  ) {
    this.machine = new SyncStateMachine<PresenceState, PresenceEvent, Handlers>(
      'idle',
      transitions({
        raise: (level) => this.onRaise(level as number, 'detected'),
        extend: (level) => this.onExtend(level as number),
        raiseAgain: (level) => this.onRaise(level as number, 'detected-during-fade'),
        fadeOut: () => this.onFadeOut(),
        settle: () => undefined,
        fail: () => this.onFault(),
        recover: () => this.onRecover(),
      }),
      {
        error: (...data: unknown[]) =>
          logger.error(`presence '${options.sensor}': ${data.map(String).join(' ')}`),
      },
    );
  }

  /** The state diagram, as committed to docs/lighting.md. */
  static mermaid(): string {
    const noop = (): void => undefined;
    const machine = new SyncStateMachine<PresenceState, PresenceEvent, Handlers>(
      'idle',
      transitions({
        raise: noop,
        extend: noop,
        raiseAgain: noop,
        fadeOut: noop,
        settle: noop,
        fail: noop,
        recover: noop,
      }),
    );
    return machine.toMermaid('Presence group');
  }

  state(): PresenceState {
    return this.machine.getState();
  }

  /** The presence level the group holds now (0 when presence is not raising it). */
  currentLevel(): number {
    return this.level;
  }

  /** Starts the silence watch (the sensor counts as heard now); after a stop(), resumes a hold or fade. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastHeard = this.clock.now();
    this.armSilence(this.options.silentFaultMs);
    const state = this.machine.getState();
    if (state === 'holding') this.armHold(Math.max(0, this.holdUntil - this.clock.now()));
    else if (state === 'fading') this.armFade();
  }

  /** Clears every timer; the controller decides what becomes of the group's level. Idempotent. */
  stop(): void {
    this.running = false;
    for (const timer of [this.holdTimer, this.fadeTimer, this.silenceTimer]) {
      if (timer) this.clock.clearTimeout(timer);
    }
    this.holdTimer = this.fadeTimer = this.silenceTimer = undefined;
  }

  /**
   * A detection of class `cls` (undefined when the payload names none). Detections closer than
   * debounce_ms to the last accepted one collapse into it; they still prove the sensor alive.
   */
  detect(cls: string | undefined): DetectResult {
    if (!this.running) return 'stopped';
    const now = this.clock.now();
    this.heard();
    if (now - this.lastAccepted < this.options.debounceMs) return 'debounced';
    this.lastAccepted = now;
    this.fire('detect', levelForClass(this.options.levels, cls));
    return 'accepted';
  }

  /** Any other sign of life from the sensor (a heartbeat, a status uplink). */
  heard(): void {
    if (!this.running) return;
    this.lastHeard = this.clock.now();
    if (this.machine.getState() === 'fault') {
      this.fire('recover');
      this.armSilence(this.options.silentFaultMs);
    }
  }

  private fire(event: PresenceEvent, ...args: unknown[]): void {
    if (this.machine.can(event)) this.machine.syncDispatch(event, ...args);
  }

  private onRaise(level: number, cause: PresenceCause): void {
    if (this.fadeTimer) this.clock.clearTimeout(this.fadeTimer);
    this.fadeTimer = undefined;
    this.level = level;
    this.holdUntil = this.clock.now() + this.options.holdMs;
    this.armHold(this.options.holdMs);
    this.send(level, 0, cause);
  }

  private onExtend(level: number): void {
    // The running timer is not moved: when it fires early it re-arms for what is left of the hold,
    // so a busy street costs one timer per hold period rather than one per detection.
    this.holdUntil = this.clock.now() + this.options.holdMs;
    if (level > this.level) {
      this.level = level;
      this.send(level, 0, 'raised');
    }
  }

  private onFadeOut(): void {
    this.level = 0;
    this.send(undefined, this.options.fadeMs / 1000, 'hold-expired');
  }

  private onFault(): void {
    for (const timer of [this.holdTimer, this.fadeTimer]) if (timer) this.clock.clearTimeout(timer);
    this.holdTimer = this.fadeTimer = undefined;
    this.level = this.options.faultLevel ?? 0;
    this.send(
      this.options.faultLevel,
      this.options.faultLevel === undefined ? this.options.fadeMs / 1000 : 0,
      'fault',
    );
  }

  private onRecover(): void {
    this.level = 0;
    this.send(undefined, 0, 'recovered');
  }

  private armHold(ms: number): void {
    if (this.holdTimer) this.clock.clearTimeout(this.holdTimer);
    this.holdTimer = this.clock.setTimeout(() => {
      this.holdTimer = undefined;
      const left = this.holdUntil - this.clock.now();
      if (left > 0) {
        this.armHold(left);
        return;
      }
      this.fire('holdExpired');
      if (this.options.fadeMs === 0) this.fire('fadeDone');
      else this.armFade();
    }, ms);
  }

  private armFade(): void {
    if (this.fadeTimer) this.clock.clearTimeout(this.fadeTimer);
    this.fadeTimer = this.clock.setTimeout(() => {
      this.fadeTimer = undefined;
      this.fire('fadeDone');
    }, this.options.fadeMs);
  }

  private armSilence(ms: number): void {
    if (this.silenceTimer) this.clock.clearTimeout(this.silenceTimer);
    this.silenceTimer = this.clock.setTimeout(() => {
      this.silenceTimer = undefined;
      const left = this.lastHeard + this.options.silentFaultMs - this.clock.now();
      if (left > 0) this.armSilence(left);
      else this.fire('fault');
    }, ms);
  }

  private send(level: number | undefined, fadeS: number, cause: PresenceCause): void {
    const output: PresenceOutput = {
      group: this.options.group,
      sensor: this.options.sensor,
      level,
      fadeS,
      cause,
      state: this.machine.getState(),
      at: this.clock.now(),
    };
    try {
      this.emit(output);
    } catch (error) {
      // The receiver's failure must not undo the transition or break the timers.
      this.logger.error(
        `presence '${this.options.sensor}': output handler failed: ${(error as Error).message}`,
      );
    }
  }
}
