import type { Config } from '../../../config/schema';
import { PRIORITY, type SlotName } from '../slots';
import { coversAny, type Actor } from '../../scope';
import {
  LightingError,
  type LuminaireLevel,
  type LuminaireLevelStatus,
  type LuminaireView,
  type ZoneDetail,
  type ZoneView,
} from './lightingService';
import type { LightingParts } from './parts';
import type { ZoneContext } from './preview';
import { checkVisible } from './requestChecks';

/** What zones and luminaires look like from outside: read from the parts, computed on demand. */

export const SLOT_OF: Record<number, SlotName> = {
  [PRIORITY.emergency]: 'emergency',
  [PRIORITY.override]: 'override',
  [PRIORITY.presence]: 'presence',
  [PRIORITY.schedule]: 'schedule',
};

/** The zones in the actor's communes. */
export function visibleZones(t: LightingParts, config: Config, now: number, actor: Actor): ZoneView[] {
  const out: ZoneView[] = [];
  for (let z = 0; z < t.topology.zones.length; z++) {
    if (coversAny(actor.communes, [communeOfZone(t, z)])) out.push(zoneView(t, config, now, z));
  }
  return out;
}

/** A zone with each of its luminaires; 'not-found' or 'forbidden' as LightingError. */
export function zoneDetail(
  t: LightingParts,
  config: Config,
  now: number,
  id: string,
  actor: Actor,
): ZoneDetail {
  const z = visibleZoneIndex(t, id, actor);
  const zone = t.topology.zones[z];
  const luminaireStates: LuminaireView[] = [];
  for (let i = zone.start; i < zone.end; i++) luminaireStates.push(luminaireView(t, i));
  return { ...zoneView(t, config, now, z), luminaireStates };
}

/** A zone's luminaires as change feed lines with their reported failures; errors as zoneDetail. */
export function zoneLevels(t: LightingParts, id: string, actor: Actor): LuminaireLevelStatus[] {
  const zone = t.topology.zones[visibleZoneIndex(t, id, actor)];
  const out: LuminaireLevelStatus[] = [];
  for (let i = zone.start; i < zone.end; i++) {
    // The change feed's line completed in place: copied, 10,000 of them took the map's levels 3× longer.
    const line = levelOf(t, i) as LuminaireLevelStatus;
    line.lampStatus = t.accounting.lampStatusOf(i);
    out.push(line);
  }
  return out;
}

function visibleZoneIndex(t: LightingParts, id: string, actor: Actor): number {
  const z = t.topology.zoneIndex(id);
  if (z === undefined) throw new LightingError('not-found', `unknown zone '${id}'`);
  checkVisible(actor, communeOfZone(t, z), `zone '${id}'`);
  return z;
}

/** One luminaire; 'not-found' or 'forbidden' as LightingError. */
export function visibleLuminaire(t: LightingParts, id: string, actor: Actor): LuminaireView {
  const i = t.topology.indexOf(id);
  if (i === undefined) throw new LightingError('not-found', `unknown luminaire '${id}'`);
  checkVisible(actor, t.topology.communes[t.topology.communeOf[i]], `luminaire '${id}'`);
  return luminaireView(t, i);
}

export function zoneView(t: LightingParts, config: Config, now: number, z: number): ZoneView {
  const zone = t.topology.zones[z];
  const name = config.zones[z]?.name;
  const slots: ZoneView['slots'] = { emergency: 0, override: 0, presence: 0, schedule: 0, undecided: 0 };
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let confirmed = 0;
  let powerW = 0;
  for (let i = zone.start; i < zone.end; i++) {
    const level = t.arbiter.levelOf(i);
    const priority = t.arbiter.priorityOf(i);
    slots[priority === undefined ? 'undecided' : SLOT_OF[priority]]++;
    if (!Number.isNaN(level)) {
      min = Math.min(min, level);
      max = Math.max(max, level);
      const inEffect = t.arbiter.inEffectOf(i);
      if (Number.isFinite(inEffect) && t.dispatcher.matcherOf(i)(level, inEffect)) confirmed++;
    }
    powerW += powerOf(t, i)?.watts ?? 0;
  }
  let schedule: ZoneView['schedule'];
  const zoneSchedule = t.schedules[z];
  if (zoneSchedule) {
    try {
      const s = zoneSchedule.at(now);
      schedule = { night: s.night, program: s.program, level: s.level, allowPresence: s.allowPresence };
      if (s.ruleName !== undefined) schedule.rule = s.ruleName;
    } catch {
      schedule = undefined;
    }
  }
  const view: ZoneView = {
    id: zone.id,
    commune: t.topology.communes[zone.commune],
    calendar: t.zoneCalendars[z],
    luminaires: zone.end - zone.start,
    schedule,
    level: max >= min ? { min, max } : undefined,
    slots,
    confirmed,
    powerW,
  };
  if (name !== undefined) view.name = name;
  return view;
}
export function luminaireView(t: LightingParts, i: number): LuminaireView {
  const state = t.arbiter.state(i)!;
  const power = powerOf(t, i);
  return {
    ...state,
    device: t.topology.devices[t.topology.deviceOf[i]],
    channel: t.topology.channelOf[i],
    ratedW: t.topology.ratedW[i],
    powerW: power?.watts,
    estimated: power?.estimated ?? true,
    output: t.accounting.outputOf(i),
    lampStatus: t.accounting.lampStatusOf(i),
    energyWh: t.accounting.energyWh(i),
    burnHours: t.accounting.burnHours(i),
  };
}
/** Measured power where the device reports it, else rated power × the level in effect. */
export function powerOf(t: LightingParts, i: number): { watts: number; estimated: boolean } | undefined {
  const measured = t.arbiter.measuredPowerOf(i);
  if (Number.isFinite(measured)) return { watts: measured, estimated: false };
  const level = t.arbiter.inEffectOf(i);
  if (!Number.isFinite(level)) return undefined;
  return { watts: (t.topology.ratedW[i] * level) / 100, estimated: true };
}
/** A luminaire's line in the change feed. */
export function levelOf(t: LightingParts, i: number): LuminaireLevel {
  const zone = t.topology.zones[t.topology.zoneOf[i]];
  const level = t.arbiter.levelOf(i);
  const priority = t.arbiter.priorityOf(i);
  const commanded = t.dispatcher.sentLevelOf(i);
  const inEffect = t.arbiter.inEffectOf(i);
  const power = powerOf(t, i);
  return {
    id: t.topology.ids[i],
    zone: zone.id,
    commune: t.topology.communes[zone.commune],
    level: Number.isNaN(level) ? null : level,
    slot: priority === undefined ? null : SLOT_OF[priority],
    commanded: Number.isNaN(commanded) ? null : commanded,
    inEffect: Number.isFinite(inEffect) ? inEffect : null,
    powerW: power ? power.watts : null,
  };
}
/** What previews and the year's cost need of a zone. */
export function zoneContext(t: LightingParts, config: Config, z: number): ZoneContext {
  const zone = t.topology.zones[z];
  let ratedW = 0;
  for (let i = zone.start; i < zone.end; i++) ratedW += t.topology.ratedW[i];
  return {
    zone: zone.id,
    commune: t.topology.communes[zone.commune],
    location: zone.location ?? config.site.location,
    timeZone: zone.timeZone ?? config.site.timezone,
    luminaires: zone.end - zone.start,
    ratedW,
  };
}
export function communeOfZone(t: LightingParts, z: number): string {
  return t.topology.communes[t.topology.zones[z].commune];
}
