import type { TargetedCommand } from '../slots';
import type { LightingTopology, Target, TargetSpec } from '../topology';
import type { CommandRecord } from './lightingService';
import type { PersistedCommand } from './store';

/**
 * A relight or override in force, and the one mapping between it, its persisted form (store.ts), the
 * arbiter's command and the record the API answers. Every field is copied here and nowhere else.
 */

/** A command as the runtime holds it: the persisted fields, with the target resolved and counted. */
export interface CommandInForce extends PersistedCommand {
  /** The target resolved against the topology; `target` keeps the spec as given. */
  resolved: Target;
  communes: string[];
  luminaires: number;
}

/** The persisted command, resolved against today's topology; undefined when its target no longer exists. */
export function commandInForce(
  command: PersistedCommand,
  topology: LightingTopology,
): { ok: true; value: CommandInForce } | { ok: false; error: string } {
  const resolved = topology.resolveTarget(command.target);
  if (!resolved.ok) return resolved;
  return {
    ok: true,
    value: {
      ...persistedCommand(command),
      resolved: resolved.value,
      communes: topology.communesOf(resolved.value),
      luminaires: countOf(topology, resolved.value),
    },
  };
}

/** What the state file keeps of a command: no derived field. */
export function persistedCommand(command: PersistedCommand): PersistedCommand {
  const persisted: PersistedCommand = {
    id: command.id,
    slot: command.slot,
    target: command.target,
    level: command.level,
    reason: command.reason,
    actor: command.actor,
    via: command.via,
    from: command.from,
    acceptedAt: command.acceptedAt,
    start: command.start,
    untilReleased: command.untilReleased,
  };
  if (command.expiresAt !== undefined) persisted.expiresAt = command.expiresAt;
  return persisted;
}

/** The command as the arbiter takes it; `source` says where it came from ('restore' after a restart). */
export function arbiterCommand(command: PersistedCommand, source: string, start: number): TargetedCommand {
  return {
    id: command.id,
    target: command.target,
    level: command.level,
    source,
    actor: command.actor,
    reason: command.reason,
    start,
    ...(command.expiresAt !== undefined ? { expiresAt: command.expiresAt } : {}),
  };
}

/** The record the API, the change feed and the audit see. */
export function commandRecord(command: CommandInForce, now: number): CommandRecord {
  return {
    ...persistedCommand(command),
    communes: command.communes,
    luminaires: command.luminaires,
    pending: command.start > now,
  };
}

export function countOf(topology: LightingTopology, target: Target): number {
  switch (target.kind) {
    case 'all':
      return topology.count;
    case 'zone': {
      const zone = topology.zones[target.zone];
      return zone.end - zone.start;
    }
    case 'commune':
      return topology.zones
        .filter((z) => z.commune === target.commune)
        .reduce((n, z) => n + z.end - z.start, 0);
    case 'luminaires':
      return target.indices.length;
  }
}

export function describeSpec(spec: TargetSpec): string {
  if ('all' in spec) return 'all luminaires';
  if ('commune' in spec) return `commune ${spec.commune}`;
  if ('zone' in spec) return `zone ${spec.zone}`;
  return spec.luminaires.length <= 3
    ? `luminaire(s) ${spec.luminaires.join(', ')}`
    : `${spec.luminaires.length} luminaires`;
}
