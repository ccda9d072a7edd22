import type { TargetSpec } from './topology';

/** The arbiter's slots and what goes in them: priorities, commands and records, a luminaire's state. */

export const PRIORITY = { emergency: 1, override: 8, presence: 12, schedule: 16 } as const;
export type SlotName = keyof typeof PRIORITY;
export type Priority = (typeof PRIORITY)[SlotName];

/** What every slot records about the command in force. */
export interface SlotRecord {
  level: number;
  /** Channel the command came through: 'api', 'mqtt', 'restore', 'presence', 'schedule'... */
  source: string;
  /** Who: a user id, a sensor id, 'calendar:<id>'. */
  actor: string;
  reason: string;
  start: number;
  expiresAt?: number;
}

/** An emergency relight or a manual override. */
export interface TargetedCommand {
  /** Chosen by the caller (persistence, audit log); a new command with the same id replaces the old. */
  id: string;
  target: TargetSpec;
  /** Percent; an emergency relight defaults to 100. */
  level?: number;
  source: string;
  actor: string;
  reason: string;
  /** When it takes effect; later than now makes it pending until then. */
  start: number;
  expiresAt?: number;
}

export interface TargetedRecord extends SlotRecord {
  id: string;
  slot: 'emergency' | 'override';
  target: TargetSpec;
  /** Not yet started. */
  pending: boolean;
}

export type CommandResult = { ok: true; changed: number } | { ok: false; error: string };

/** A luminaire's decision and its three TALQ values: commanded, in effect on the device, measured. */
export interface LuminaireState {
  id: string;
  zone: string;
  commune: string;
  /** Decided level; undefined when no slot has a record (the device's fail-safe applies). */
  level: number | undefined;
  priority: Priority | undefined;
  slot: SlotName | undefined;
  /** The record that decided, with its target id for emergency/override. */
  decidedBy: (SlotRecord & { id?: string }) | undefined;
  /** Ramp time the dispatcher should use for the last change, seconds. */
  transitionS: number;
  commanded: { level: number; at: number } | undefined;
  /** A level the device refused (protocol exception): not commanded, whatever was decided. */
  refused: { level: number; at: number } | undefined;
  inEffect: { level: number; at: number } | undefined;
  measured: { powerW: number; at: number } | undefined;
}
