import type { CalendarConfig, ProgramConfig } from '../../../config/schema';
import type { LuminaireState, SlotName } from '../slots';
import type { TargetSpec } from '../topology';
import type { Actor } from '../../scope';

/**
 * The lighting service as the HTTP API, the web console and the MQTT bridge see it: emergency
 * relights, manual overrides, live state, programs and calendars, previews and change events.
 * Implemented by LightingRuntime (controller/lighting/runtime/runtime.ts); reached as
 * `service.lighting` (controller/service.ts). docs/lighting-runtime.md describes the behaviour.
 *
 * Conventions:
 * - Times are epoch milliseconds; levels are percent (0-100).
 * - Role checks belong to the caller (the API layer). This service checks the **commune scope**: a
 *   command whose target reaches a commune outside `actor.communes` is refused (`forbidden`), and
 *   reads only show what lies in the actor's communes.
 * - Failures are thrown as LightingError with a code the API maps to a status, and, for validation,
 *   every problem with its path.
 * - Every method may be called once the service has started; before, they throw `unavailable`.
 */

export type LightingErrorCode =
  /** The request is malformed or out of range: `issues` lists every problem (HTTP 400). */
  | 'invalid'
  /** The target reaches a commune outside the actor's communes (HTTP 403). */
  | 'forbidden'
  /** Unknown command, zone, luminaire, program or calendar id (HTTP 404). */
  | 'not-found'
  /** The change contradicts the current state, e.g. deleting a program a calendar uses (HTTP 409). */
  | 'conflict'
  /** Not started, stopping, or the state could not be persisted: nothing was changed (HTTP 503). */
  | 'unavailable';

/** One problem with a request: where (path into the request body) and what, with the allowed values. */
export interface ValidationIssue {
  path: (string | number)[];
  message: string;
}

export class LightingError extends Error {
  constructor(
    readonly code: LightingErrorCode,
    message: string,
    readonly issues: readonly ValidationIssue[] = [],
  ) {
    super(message);
    this.name = 'LightingError';
  }
}

// ---- Emergency relights and manual overrides ----

export interface RelightRequest {
  /** Caller-chosen id (same id again replaces that relight); generated when absent. */
  id?: string;
  target: TargetSpec;
  /** Percent; default 100. */
  level?: number;
  reason: string;
  /** When the relight ends on its own; absent: until cleared. */
  expiresAt?: number;
}

export interface OverrideRequest {
  /** Caller-chosen id (same id again replaces that override); generated when absent. */
  id?: string;
  target: TargetSpec;
  level: number;
  reason: string;
  /** Exactly one of these: an expiry, or an explicit "until released". */
  expiresAt?: number;
  untilReleased?: boolean;
}

/** An emergency relight or an override in force (or pending), as the console lists them. */
export interface CommandRecord {
  id: string;
  slot: 'emergency' | 'override';
  target: TargetSpec;
  /** Communes the target reaches. */
  communes: string[];
  /** Luminaires the target covers. */
  luminaires: number;
  level: number;
  reason: string;
  /** User id of whoever gave the command. */
  actor: string;
  via: Actor['via'];
  from: string;
  acceptedAt: number;
  start: number;
  expiresAt?: number;
  /** An override given with `untilReleased`. */
  untilReleased: boolean;
  /** Not yet in force (start in the future). */
  pending: boolean;
}

export interface CommandFailure {
  device: string;
  error: string;
  /** Luminaire ids on that device not confirmed (at most 50 listed; `count` has them all). */
  luminaires: string[];
  count: number;
}

/**
 * How far the devices have confirmed a command, by read-back of the level in effect. A luminaire is
 * `pending` until its device reads back the command's level, `failed` when dispatch gave up after its
 * retries (the reconciler keeps trying; a later confirmation moves it to `confirmed`), `superseded`
 * when a more recent command took it over before confirmation.
 */
export interface CommandProgress {
  id: string;
  slot: 'emergency' | 'override';
  /** The communes its target covers, as its CommandRecord lists them: who may follow it. */
  communes: string[];
  total: number;
  confirmed: number;
  failed: number;
  pending: number;
  superseded: number;
  /** No luminaire pending. */
  done: boolean;
  failures: CommandFailure[];
  acceptedAt: number;
  /** When the last pending luminaire was settled. */
  doneAt?: number;
}

export interface CommandAccepted {
  record: CommandRecord;
  progress: CommandProgress;
}

// ---- Live state ----

/** A luminaire with the arbiter's decision, its TALQ values, its wiring and its energy. */
export interface LuminaireView extends LuminaireState {
  device: string;
  channel: number;
  ratedW: number;
  /** Measured power, else estimated from the level in effect (`estimated`). */
  powerW: number | undefined;
  estimated: boolean;
  /** Actual output ramping with the fade, when the device reports it. */
  output: number | undefined;
  /** Failures the device reports, as a bit set: 1 lamp, 2 driver (gear), 4 relay, 8 communication. */
  lampStatus: number | undefined;
  energyWh: number;
  burnHours: number;
}

export interface ZoneView {
  id: string;
  commune: string;
  name?: string;
  calendar: string;
  luminaires: number;
  /** The schedule now: night, program, level and whether presence may raise it. */
  schedule:
    { night: string; program: string; rule?: string; level: number; allowPresence: boolean } | undefined;
  /** Lowest and highest decided level (undefined when nothing is decided). */
  level: { min: number; max: number } | undefined;
  /** Luminaires per deciding slot; `undecided` where the device's fail-safe applies. */
  slots: Record<SlotName | 'undecided', number>;
  /** Decided luminaires whose device reads back the decided level. */
  confirmed: number;
  powerW: number;
}

export interface ZoneDetail extends ZoneView {
  luminaireStates: LuminaireView[];
}

// ---- Programs and calendars ----

export interface ProgramEntry {
  program: ProgramConfig;
  /** 'config': as in the configuration file; 'runtime': created or changed while running (persisted). */
  origin: 'config' | 'runtime';
  /** Calendars that use it. */
  usedBy: string[];
}

export interface CalendarEntry {
  calendar: CalendarConfig;
  origin: 'config' | 'runtime';
  /** Zones that follow it. */
  zones: string[];
}

/** A program by id, or a program not saved yet (validated like putProgram). */
export type ProgramSource = string | { program: unknown };

export interface PreviewRequest {
  zone: string;
  /** The night's first date, 'YYYY-MM-DD' (a lighting night runs noon to noon). */
  night: string;
  program: ProgramSource;
}

export interface PreviewStep {
  index: number;
  /** As configured, e.g. 'dusk+10min'. */
  spec: string;
  at: number;
  level: number;
  timing: 'clock' | 'sun' | 'fallback' | 'sky-light' | 'sky-dark';
  dst?: 'gap' | 'repeated';
  movedFrom?: number;
}

export interface ProgramPreview {
  zone: string;
  commune: string;
  night: string;
  program: string;
  timeZone: string;
  start: number;
  end: number;
  dusk: number;
  dawn: number;
  presenceFrom: number;
  presenceTo: number;
  initialLevel: number;
  steps: PreviewStep[];
  skipped: { index: number; spec: string; reason: string; at?: number }[];
  /** The zone's luminaires over that night, estimated from rated power and level. */
  energy: {
    luminaires: number;
    ratedW: number;
    plannedWh: number;
    fullNightWh: number;
    savedWh: number;
    savedPct: number;
    burnHours: number;
    darkHours: number;
  };
}

export interface YearCostRequest {
  zone: string;
  program: ProgramSource;
  /** First night, 'YYYY-MM-DD'; default: the current night. */
  from?: string;
  /** Default 365. */
  nights?: number;
}

export interface CostFigures {
  kWh: number;
  /** Undefined when no electricity tariff is in force for part of the period (see notes). */
  eur: number | undefined;
  /** Undefined when no electricity emission factor is in force for part of the period. */
  kgCo2e: number | undefined;
}

/**
 * The zone with the proposed program every night, against the zone as it is: its calendar, which
 * picks the program of each night. Costs use the dated `tariffs` (commune-specific first) and
 * `emission_factors` of quantity `electricity` in force on each night.
 */
export interface YearCost {
  zone: string;
  commune: string;
  from: string;
  to: string;
  nights: number;
  proposed: CostFigures & { program: string };
  current: CostFigures & { programs: { id: string; nights: number }[] };
  /** proposed − current: negative means the proposal saves. */
  difference: CostFigures;
  /** Full power from dusk to dawn every night, the reference for savings. */
  fullNight: CostFigures;
  tariffs: { eurPerKWh: number; from: string; source?: string }[];
  emissionFactors: { kgCo2ePerKWh: number; from: string; source: string }[];
  notes: string[];
}

export interface CalendarPreviewRequest {
  zone: string;
  /** A calendar not saved yet, validated like putCalendar (its programs must exist). */
  calendar: unknown;
  /** First night, 'YYYY-MM-DD'; default: the current night. */
  from?: string;
  /** Nights listed one by one; default 14. The year's cost always covers 365 nights from `from`. */
  nights?: number;
}

/** Which program a calendar gives one night, and what that night uses. */
export interface CalendarNight {
  night: string;
  program: string;
  /** Position of the rule that chose it; absent when the default applied. */
  rule?: number;
  ruleName?: string;
  dusk: number;
  dawn: number;
  plannedWh: number;
  savedPct: number;
}

/** A year of a zone under a proposed calendar, against its calendar now (see YearCost). */
export interface CalendarCost extends Omit<YearCost, 'proposed'> {
  proposed: CostFigures & { calendar: string; programs: { id: string; nights: number }[] };
}

export interface CalendarPreview {
  zone: string;
  commune: string;
  timeZone: string;
  nights: CalendarNight[];
  year: CalendarCost;
}

// ---- Change events (server-sent events of the console) ----

export interface LuminaireLevel {
  id: string;
  zone: string;
  commune: string;
  level: number | null;
  slot: SlotName | null;
  commanded: number | null;
  inEffect: number | null;
  powerW: number | null;
}

/** A luminaire's line in the change feed with the failures its device reports (as in LuminaireView). */
export interface LuminaireLevelStatus extends LuminaireLevel {
  lampStatus: number | undefined;
}

export type LightingChange =
  /** Levels decided or confirmed since the last event, batched (at most a few per second). */
  | { type: 'levels'; at: number; luminaires: LuminaireLevel[] }
  /** A command's confirmation moved on. */
  | { type: 'progress'; at: number; progress: CommandProgress }
  /** An emergency relight or override was given, replaced, cleared, released or expired. */
  | {
      type: 'command';
      at: number;
      change: 'created' | 'replaced' | 'cleared' | 'released' | 'expired';
      record: CommandRecord;
      actor: string;
    }
  /** A program or calendar was created, changed or deleted, or a zone given another calendar. */
  | {
      type: 'program' | 'calendar' | 'zone-calendar';
      at: number;
      change: 'put' | 'deleted';
      id: string;
      actor: string;
    };

export interface LightingStats {
  luminaires: number;
  devices: number;
  presence: {
    /** Messages received on presence sensor topics. */
    received: number;
    /** Dropped: not JSON, no class at class_path, unknown topic. */
    malformed: number;
    accepted: number;
    debounced: number;
  };
  dispatch: {
    /** Write cycles sent (one per device per batch of changes). */
    cycles: number;
    confirmed: number;
    retries: number;
    /** Luminaires reported failed after their retries. */
    failed: number;
    /** Luminaires resent by the reconciler. */
    reconciled: number;
  };
}

export interface WaitOptions {
  /** Give up waiting (and resolve with the progress so far) after this long. Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface LightingService {
  // -- commands --

  /**
   * Emergency relight (priority 1). Resolves only once the relight is persisted (atomic write, fsync),
   * with its record and the confirmation progress so far; dispatch to the devices starts before the
   * write completes. Throws `invalid` (level, expiry, unknown luminaires/zone/commune, all listed),
   * `forbidden` (a commune out of scope) or `unavailable` (could not persist: the relight is withdrawn).
   */
  relight(request: RelightRequest, actor: Actor): Promise<CommandAccepted>;
  /** Clears an emergency relight; resolves once persisted. `not-found` with the active ids. */
  clearRelight(id: string, actor: Actor): Promise<CommandRecord>;
  /** Manual override (priority 8): `expiresAt` or `untilReleased: true` required. Resolves once persisted. */
  override(request: OverrideRequest, actor: Actor): Promise<CommandAccepted>;
  releaseOverride(id: string, actor: Actor): Promise<CommandRecord>;
  /** Emergency relights and overrides in force or pending whose target reaches the actor's communes. */
  commands(actor: Actor, slot?: 'emergency' | 'override'): CommandRecord[];

  // -- confirmation --

  /** Progress of a recent command (kept a while after it is done); undefined when unknown. */
  progress(id: string): CommandProgress | undefined;
  /** Resolves when the command is done (nothing pending), or at the timeout with the progress so far. */
  waitForConfirmation(id: string, options?: WaitOptions): Promise<CommandProgress>;

  // -- live state --

  zones(actor: Actor): ZoneView[];
  /** `not-found` or `forbidden`. */
  zone(id: string, actor: Actor): ZoneDetail;
  /** `not-found` or `forbidden`. */
  luminaire(id: string, actor: Actor): LuminaireView;
  /**
   * A zone's luminaires as the change feed lines them, with their reported failures: what a map
   * shows, for a fraction of the cost of `zone()`'s full views. `not-found` or `forbidden`.
   */
  zoneLevels(id: string, actor: Actor): LuminaireLevelStatus[];

  // -- programs and calendars: validated, persisted, applied within a second --

  programs(): ProgramEntry[];
  /** `not-found`. */
  program(id: string): ProgramEntry;
  /**
   * Creates or replaces a program (its `id` inside the body). Validated with the configuration's schema
   * and checkProgram; every problem is returned at once (`invalid`, paths relative to the body). Zones
   * whose calendar uses it must be in the actor's communes (`forbidden`). Resolves once persisted and
   * applied to the zones.
   */
  putProgram(program: unknown, actor: Actor): Promise<ProgramEntry>;
  /** `conflict` while a calendar uses it (naming them). */
  deleteProgram(id: string, actor: Actor): Promise<void>;
  calendars(): CalendarEntry[];
  calendar(id: string): CalendarEntry;
  /** Creates or replaces a calendar; its programs must exist. Same rules as putProgram. */
  putCalendar(calendar: unknown, actor: Actor): Promise<CalendarEntry>;
  /** `conflict` while a zone follows it. */
  deleteCalendar(id: string, actor: Actor): Promise<void>;
  /** Gives a zone another calendar; persisted and applied within a second. */
  assignCalendar(zone: string, calendar: string, actor: Actor): Promise<ZoneView>;

  // -- previews --

  /** What a program does on one night in a zone: steps with instants, dusk/dawn, energy. */
  previewProgram(request: PreviewRequest, actor: Actor): ProgramPreview;
  /** What a program costs a zone over a year, against what the zone's calendar does now. */
  yearCost(request: YearCostRequest, actor: Actor): YearCost;
  /** A draft calendar in a zone: the program of each coming night, and its year's cost against the zone's calendar now. */
  previewCalendar(request: CalendarPreviewRequest, actor: Actor): CalendarPreview;

  // -- events and metrics --

  /** Change events within the actor's communes; returns the unsubscribe function. */
  subscribe(actor: Actor, listener: (change: LightingChange) => void): () => void;
  stats(): LightingStats;
}
