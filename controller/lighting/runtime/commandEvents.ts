import type { Actor } from '../../scope';
import type { CommandProgress } from './lightingService';
import { describeSpec, type CommandInForce } from './commandRecords';
import type { LightingCommandEvent } from './events';

/**
 * What the bus hears of commands and definitions (the telemetry recorder writes it to InfluxDB as events,
 * the audit log and alerts read it): who did what to which target, with a message for people.
 */

function commandKind(command: CommandInForce): 'relight' | 'override' {
  return command.slot === 'emergency' ? 'relight' : 'override';
}

function commandTitle(command: CommandInForce): string {
  return `${command.slot === 'emergency' ? 'Emergency relight' : 'Override'} '${command.id}'`;
}

/** A command accepted, replaced, cleared, released or expired. */
export function commandChangedEvent(
  command: CommandInForce,
  change: 'created' | 'replaced' | 'cleared' | 'released' | 'expired',
  by: { actor: string; via: string; from: string },
  at: number,
  territoryCommunes: number,
): LightingCommandEvent {
  const state: LightingCommandEvent['state'] =
    change === 'created' || change === 'replaced' ? 'accepted' : change;
  return {
    at,
    kind: commandKind(command),
    id: command.id,
    state,
    communes:
      territoryCommunes === command.communes.length && command.communes.length > 1 ? ['*'] : command.communes,
    severity:
      command.slot === 'emergency' && state === 'accepted'
        ? 'critical'
        : command.slot === 'emergency'
          ? 'warning'
          : 'info',
    message: `${commandTitle(command)} ${state}: ${command.level} % on ${describeSpec(command.target)} (${command.luminaires} luminaires) — ${command.reason}`,
    source: describeSpec(command.target),
    ...by,
  };
}

/** The devices confirmed a command, or some of its luminaires failed. */
export function commandSettledEvent(
  command: CommandInForce,
  progress: CommandProgress,
  communes: string[],
  at: number,
): LightingCommandEvent {
  const failed = progress.failed > 0;
  return {
    at,
    kind: commandKind(command),
    id: command.id,
    state: failed ? 'failed' : 'confirmed',
    communes,
    severity: failed ? 'critical' : 'info',
    message: failed
      ? `${commandTitle(command)}: ${progress.confirmed} of ${progress.total} luminaires confirmed, ${progress.failed} failed (${progress.failures.map((f) => `${f.device}: ${f.error}`).join('; ')})`
      : `${commandTitle(command)} confirmed by the devices: ${progress.confirmed} luminaires in ${at - progress.acceptedAt} ms`,
    source: describeSpec(command.target),
    actor: command.actor,
    via: command.via,
    from: command.from,
  };
}

/** A program or calendar put or deleted, or a zone given another calendar. */
export function definitionChangedEvent(
  type: 'program' | 'calendar' | 'zone-calendar',
  id: string,
  change: 'put' | 'deleted',
  actor: Actor,
  message: string,
  communes: string[],
  at: number,
): LightingCommandEvent {
  return {
    at,
    kind: type === 'program' ? 'program' : 'calendar',
    id,
    state: change === 'put' ? 'changed' : 'deleted',
    communes,
    severity: 'info',
    message,
    source: type === 'zone-calendar' ? `zone ${id}` : `${type} ${id}`,
    actor: actor.user,
    via: actor.via,
    from: actor.from,
  };
}
