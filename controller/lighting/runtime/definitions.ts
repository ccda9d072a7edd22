import type { CalendarConfig, Config, ProgramConfig } from '../../../config/schema';
import type { Clock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { Actor } from '../../scope';
import type { LightingTopology } from '../topology';
import { LightingError, type CalendarEntry, type ProgramEntry, type ZoneView } from './lightingService';
import type { LightingParts } from './parts';
import { byId, checkScope, formatIssues, invalid } from './requestChecks';
import type { PersistedState } from './store';
import { validateCalendar, validateProgram } from './validation';
import { communeOfZone, zoneView } from './views';

/** What the programs and calendars need of the runtime. */
export interface DefinitionsHost {
  /** The parts, or LightingError 'unavailable' when the runtime does not run. */
  running(): LightingParts;
  /** New schedules for the zones, applied now and dispatched. */
  rescheduleZones(zones: readonly number[]): void;
  definitionChanged(
    type: 'program' | 'calendar' | 'zone-calendar',
    id: string,
    change: 'put' | 'deleted',
    actor: Actor,
    message: string,
    zones: readonly number[],
  ): void;
  /** Writes the state file: the acknowledgement of a change. */
  persist(what: string): Promise<void>;
}

/**
 * Programs and calendars: those of the configuration and those changed at runtime (persisted, checked
 * again at each start), which zones follow which calendar, and the changes an API user makes to them.
 */
export class LightingDefinitions {
  readonly programsById = new Map<string, { program: ProgramConfig; origin: 'config' | 'runtime' }>();
  readonly calendarsById = new Map<string, { calendar: CalendarConfig; origin: 'config' | 'runtime' }>();

  constructor(
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly host: DefinitionsHost,
  ) {}

  loadConfigured(): void {
    for (const program of this.config.programs)
      this.programsById.set(program.id, { program, origin: 'config' });
    for (const calendar of this.config.calendars)
      this.calendarsById.set(calendar.id, { calendar, origin: 'config' });
  }

  /** The programs in force by id, as schedules and previews read them. */
  programConfigs(): Map<string, ProgramConfig> {
    return new Map([...this.programsById].map(([id, p]) => [id, p.program]));
  }

  /** What the state file keeps: definitions put at runtime, and configured ones deleted. */
  persisted(): Pick<PersistedState, 'programs' | 'calendars'> {
    return {
      programs: {
        put: [...this.programsById.values()].filter((p) => p.origin === 'runtime').map((p) => p.program),
        deleted: this.config.programs.map((p) => p.id).filter((id) => !this.programsById.has(id)),
      },
      calendars: {
        put: [...this.calendarsById.values()].filter((c) => c.origin === 'runtime').map((c) => c.calendar),
        deleted: this.config.calendars.map((c) => c.id).filter((id) => !this.calendarsById.has(id)),
      },
    };
  }

  programs(): ProgramEntry[] {
    this.host.running(); // unavailable outranks invalid: a stopped service says so first
    return [...this.programsById.values()]
      .map((p) => this.programEntry(p.program.id))
      .sort(byId((e) => e.program.id));
  }

  program(id: string): ProgramEntry {
    this.host.running(); // unavailable outranks invalid: a stopped service says so first
    if (!this.programsById.has(id)) throw new LightingError('not-found', `unknown program '${id}'`);
    return this.programEntry(id);
  }

  async putProgram(body: unknown, actor: Actor): Promise<ProgramEntry> {
    const t = this.host.running();
    const checked = validateProgram(body, { luxPoints: this.luxPoints() });
    if (!checked.ok) throw invalid('program', checked.issues);
    const program = checked.value;
    const zones = this.zonesUsingProgram(program.id);
    checkScope(
      actor,
      zones.map((z) => communeOfZone(t, z)),
      `change program '${program.id}' (used by zones ${describeZones(t, zones)})`,
    );
    const before = this.programsById.get(program.id);
    this.programsById.set(program.id, { program, origin: 'runtime' });
    try {
      this.host.rescheduleZones(zones);
    } catch (error) {
      if (before) this.programsById.set(program.id, before);
      else this.programsById.delete(program.id);
      this.host.rescheduleZones(zones);
      throw new LightingError('invalid', `program '${program.id}': ${(error as Error).message}`);
    }
    this.host.definitionChanged(
      'program',
      program.id,
      'put',
      actor,
      `program '${program.id}' ${before ? 'changed' : 'created'}${zones.length > 0 ? `, applied to ${zones.length} zone(s)` : ''}`,
      zones,
    );
    await this.host.persist(`program '${program.id}'`);
    return this.programEntry(program.id);
  }

  async deleteProgram(id: string, actor: Actor): Promise<void> {
    this.host.running(); // unavailable outranks invalid: a stopped service says so first
    if (!this.programsById.has(id)) throw new LightingError('not-found', `unknown program '${id}'`);
    const users = this.calendarsUsing(id);
    if (users.length > 0)
      throw new LightingError(
        'conflict',
        `program '${id}' is used by calendar(s) ${users.map((c) => `'${c}'`).join(', ')}`,
      );
    this.programsById.delete(id);
    this.host.definitionChanged('program', id, 'deleted', actor, `program '${id}' deleted`, []);
    await this.host.persist(`deletion of program '${id}'`);
  }

  calendars(): CalendarEntry[] {
    this.host.running(); // unavailable outranks invalid: a stopped service says so first
    return [...this.calendarsById.keys()]
      .map((id) => this.calendarEntry(id))
      .sort(byId((e) => e.calendar.id));
  }

  calendar(id: string): CalendarEntry {
    this.host.running(); // unavailable outranks invalid: a stopped service says so first
    if (!this.calendarsById.has(id)) throw new LightingError('not-found', `unknown calendar '${id}'`);
    return this.calendarEntry(id);
  }

  async putCalendar(body: unknown, actor: Actor): Promise<CalendarEntry> {
    const t = this.host.running();
    const checked = validateCalendar(body, { programs: new Set(this.programsById.keys()) });
    if (!checked.ok) throw invalid('calendar', checked.issues);
    const calendar = checked.value;
    const zones = this.zonesFollowing(calendar.id);
    checkScope(
      actor,
      zones.map((z) => communeOfZone(t, z)),
      `change calendar '${calendar.id}' (followed by zones ${describeZones(t, zones)})`,
    );
    const before = this.calendarsById.get(calendar.id);
    this.calendarsById.set(calendar.id, { calendar, origin: 'runtime' });
    this.host.rescheduleZones(zones);
    this.host.definitionChanged(
      'calendar',
      calendar.id,
      'put',
      actor,
      `calendar '${calendar.id}' ${before ? 'changed' : 'created'}${zones.length > 0 ? `, applied to ${zones.length} zone(s)` : ''}`,
      zones,
    );
    await this.host.persist(`calendar '${calendar.id}'`);
    return this.calendarEntry(calendar.id);
  }

  async deleteCalendar(id: string, actor: Actor): Promise<void> {
    const t = this.host.running();
    if (!this.calendarsById.has(id)) throw new LightingError('not-found', `unknown calendar '${id}'`);
    const zones = this.zonesFollowing(id);
    if (zones.length > 0)
      throw new LightingError(
        'conflict',
        `calendar '${id}' is followed by zone(s) ${describeZones(t, zones)}`,
      );
    this.calendarsById.delete(id);
    this.host.definitionChanged('calendar', id, 'deleted', actor, `calendar '${id}' deleted`, []);
    await this.host.persist(`deletion of calendar '${id}'`);
  }

  async assignCalendar(zoneId: string, calendarId: string, actor: Actor): Promise<ZoneView> {
    const t = this.host.running();
    const z = t.topology.zoneIndex(zoneId);
    if (z === undefined) throw new LightingError('not-found', `unknown zone '${zoneId}'`);
    if (!this.calendarsById.has(calendarId))
      throw new LightingError(
        'not-found',
        `unknown calendar '${calendarId}' (known: ${[...this.calendarsById.keys()].join(', ')})`,
      );
    checkScope(actor, [communeOfZone(t, z)], `give zone '${zoneId}' another calendar`);
    t.zoneCalendars[z] = calendarId;
    this.host.rescheduleZones([z]);
    this.host.definitionChanged(
      'zone-calendar',
      zoneId,
      'put',
      actor,
      `zone '${zoneId}' follows calendar '${calendarId}'`,
      [z],
    );
    await this.host.persist(`calendar of zone '${zoneId}'`);
    return zoneView(t, this.config, this.clock.now(), z);
  }

  private programEntry(id: string): ProgramEntry {
    const { program, origin } = this.programsById.get(id)!;
    return { program, origin, usedBy: this.calendarsUsing(id) };
  }

  private calendarEntry(id: string): CalendarEntry {
    const { calendar, origin } = this.calendarsById.get(id)!;
    const t = this.host.running();
    return { calendar, origin, zones: this.zonesFollowing(id).map((z) => t.topology.zones[z].id) };
  }

  calendarsUsing(programId: string): string[] {
    return [...this.calendarsById.values()]
      .filter(
        ({ calendar }) =>
          calendar.default === programId || calendar.rules.some((r) => r.program === programId),
      )
      .map(({ calendar }) => calendar.id);
  }

  private zonesFollowing(calendarId: string): number[] {
    const t = this.host.running();
    const out: number[] = [];
    t.zoneCalendars.forEach((c, z) => {
      if (c === calendarId) out.push(z);
    });
    return out;
  }

  private zonesUsingProgram(programId: string): number[] {
    const calendars = new Set(this.calendarsUsing(programId));
    const t = this.host.running();
    const out: number[] = [];
    t.zoneCalendars.forEach((c, z) => {
      if (calendars.has(c)) out.push(z);
    });
    return out;
  }

  /** Programs, calendars and zone calendars changed at runtime, checked again before use. */
  applyPersisted(state: PersistedState, topology: LightingTopology, zoneCalendars: string[]): void {
    const luxPoints = this.luxPoints();
    for (const id of state.programs.deleted) this.programsById.delete(id);
    for (const body of state.programs.put) {
      const checked = validateProgram(body, { luxPoints });
      if (checked.ok) this.programsById.set(checked.value.id, { program: checked.value, origin: 'runtime' });
      else this.logger.error(`lighting: persisted program not used: ${formatIssues(checked.issues)}`);
    }
    for (const id of state.calendars.deleted) this.calendarsById.delete(id);
    for (const body of state.calendars.put) {
      const checked = validateCalendar(body, { programs: new Set(this.programsById.keys()) });
      if (checked.ok)
        this.calendarsById.set(checked.value.id, { calendar: checked.value, origin: 'runtime' });
      else this.logger.error(`lighting: persisted calendar not used: ${formatIssues(checked.issues)}`);
    }
    for (const [zoneId, calendar] of Object.entries(state.zoneCalendars)) {
      const z = topology.zoneIndex(zoneId);
      if (z === undefined)
        this.logger.warn(`lighting: persisted calendar of unknown zone '${zoneId}' ignored`);
      else if (!this.calendarsById.has(calendar))
        this.logger.error(
          `lighting: zone '${zoneId}': persisted calendar '${calendar}' is unknown; its configured one applies`,
        );
      else zoneCalendars[z] = calendar;
    }
  }
  luxPoints(): Set<string> {
    const points = new Set<string>();
    for (const building of this.config.buildings)
      for (const point of building.points) points.add(`${building.id}/${point.id}`);
    return points;
  }
}

function describeZones(t: LightingParts, zones: readonly number[]): string {
  if (zones.length === 0) return 'none';
  const names = zones.slice(0, 5).map((z) => `'${t.topology.zones[z].id}'`);
  return `${names.join(', ')}${zones.length > 5 ? ` and ${zones.length - 5} more` : ''}`;
}
