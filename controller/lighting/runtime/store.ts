import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { CalendarConfig, ProgramConfig } from '../../../config/schema';
import { writeFileAtomically } from '../../../drivers/durableFile';
import type { CommandRecord } from './lightingService';

/**
 * What the lighting runtime persists in `<stateDir>/lighting/state.json`: emergency relights and
 * overrides in force, and the programs, calendars and zone calendars changed while running. One small
 * file, written atomically (temporary file, fsync, rename, fsync of the directory), so that after a
 * crash it holds either the previous or the new state, never a mix.
 */

export const STATE_VERSION = 1;

/** A command as the state file keeps it: its record without what the topology derives, or the clock. */
export type PersistedCommand = Omit<CommandRecord, 'communes' | 'luminaires' | 'pending'>;

export interface PersistedState {
  version: typeof STATE_VERSION;
  commands: PersistedCommand[];
  /** Programs created or replaced at runtime, and configuration programs deleted. */
  programs: { put: ProgramConfig[]; deleted: string[] };
  calendars: { put: CalendarConfig[]; deleted: string[] };
  /** Zone id → calendar id, where changed at runtime. */
  zoneCalendars: Record<string, string>;
}

export function emptyState(): PersistedState {
  return {
    version: STATE_VERSION,
    commands: [],
    programs: { put: [], deleted: [] },
    calendars: { put: [], deleted: [] },
    zoneCalendars: {},
  };
}

export type LoadResult =
  | { kind: 'missing'; state: PersistedState }
  | { kind: 'loaded'; state: PersistedState }
  /** Unreadable: moved aside to `movedTo`, the service starts from the configuration. */
  | { kind: 'corrupt'; state: PersistedState; error: string; movedTo: string };

export function lightingStateFile(stateDir: string): string {
  return path.join(stateDir, 'lighting', 'state.json');
}

/**
 * The state file with group commit: save() returns once a write that started after the call has
 * reached the disk; calls made while a write is under way share the next one, which takes the state
 * as it is then (the snapshot function), so a burst of commands costs at most two fsyncs.
 */
export class LightingStore {
  readonly file: string;
  private writing?: Promise<void>;
  private next?: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void };

  constructor(
    stateDir: string,
    private readonly snapshot: () => PersistedState,
    /** A second copy written with the file, both before save() resolves (the shard's etcd key). */
    private readonly replicate?: (text: string) => Promise<void>,
  ) {
    this.file = lightingStateFile(stateDir);
  }

  async load(): Promise<LoadResult> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', state: emptyState() };
      throw new Error(`${this.file}: ${(error as Error).message}`, { cause: error });
    }
    const problem = parseState(text);
    if (typeof problem !== 'string') return { kind: 'loaded', state: problem };
    const movedTo = `${this.file}.corrupt-${Date.now()}`;
    await rename(this.file, movedTo);
    return { kind: 'corrupt', state: emptyState(), error: problem, movedTo };
  }

  /** Resolves once the current state is on disk; rejects when it could not be written. */
  save(): Promise<void> {
    if (!this.writing) {
      this.writing = this.writeNow();
      return this.writing;
    }
    if (!this.next) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.next = { promise, resolve, reject };
    }
    return this.next.promise;
  }

  /** Resolves when no write is under way (for stop()). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
  }

  private async writeNow(): Promise<void> {
    try {
      const text = `${JSON.stringify(this.snapshot(), null, 1)}\n`;
      await Promise.all([writeFileAtomically(this.file, text), this.replicate?.(text)]);
    } finally {
      const waiting = this.next;
      this.next = undefined;
      this.writing = undefined;
      if (waiting) {
        this.writing = this.writeNow();
        this.writing.then(waiting.resolve, waiting.reject);
      }
    }
  }
}

/** The state, or why it cannot be read. Shape only: the runtime validates each record against the territory. */
export function parseState(text: string): PersistedState | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (!isObject(raw)) return 'not a JSON object';
  if (raw.version !== STATE_VERSION)
    return `version ${JSON.stringify(raw.version)} (expected ${STATE_VERSION})`;
  const state = emptyState();
  if (!Array.isArray(raw.commands)) return "'commands' is not a list";
  for (const [i, command] of raw.commands.entries()) {
    if (!isCommand(command)) return `commands[${i}] is not a command record`;
    state.commands.push(command);
  }
  for (const key of ['programs', 'calendars'] as const) {
    const section = raw[key];
    if (!isObject(section) || !Array.isArray(section.put) || !Array.isArray(section.deleted))
      return `'${key}' must have 'put' and 'deleted' lists`;
    if (!section.deleted.every((id) => typeof id === 'string')) return `'${key}.deleted' must list ids`;
    state[key] = { put: section.put as never[], deleted: section.deleted };
  }
  if (!isObject(raw.zoneCalendars)) return "'zoneCalendars' is not an object";
  for (const [zone, calendar] of Object.entries(raw.zoneCalendars)) {
    if (typeof calendar !== 'string') return `zoneCalendars.${zone} is not a calendar id`;
    state.zoneCalendars[zone] = calendar;
  }
  return state;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCommand(value: unknown): value is PersistedCommand {
  if (!isObject(value)) return false;
  return (
    typeof value.id === 'string' &&
    (value.slot === 'emergency' || value.slot === 'override') &&
    isObject(value.target) &&
    typeof value.level === 'number' &&
    typeof value.reason === 'string' &&
    typeof value.actor === 'string' &&
    typeof value.via === 'string' &&
    typeof value.from === 'string' &&
    typeof value.acceptedAt === 'number' &&
    typeof value.start === 'number' &&
    (value.expiresAt === undefined || typeof value.expiresAt === 'number') &&
    typeof value.untilReleased === 'boolean'
  );
}
