import type { Config, ProgramConfig } from '../../../config/schema';
import type { Clock } from '../../../core/clock';
import { nightOf, parseCivilDate, timeZone, type CivilDate } from '../../../core/localTime';
import type { Actor } from '../../scope';
import type { LightingDefinitions } from './definitions';
import type {
  CalendarPreview,
  CalendarPreviewRequest,
  PreviewRequest,
  ProgramPreview,
  ProgramSource,
  ValidationIssue,
  YearCost,
  YearCostRequest,
} from './lightingService';
import type { LightingParts } from './parts';
import { calendarCost, calendarNights, previewNight, yearCost } from './preview';
import { checkVisible, invalid, show } from './requestChecks';
import { validateCalendar, validateProgram } from './validation';
import { communeOfZone, zoneContext } from './views';

/** Nights a calendar preview lists by default: the next two weeks. */
const CALENDAR_PREVIEW_NIGHTS = 14;

/**
 * The answers to "what would this program do": one night of a zone, or its year's energy and cost, for a
 * program in force or one proposed in the request; and to "what would this calendar do": the program of
 * each coming night and the year's cost of a draft calendar. The request is checked here; preview.ts computes.
 */
export class PreviewRequests {
  constructor(
    private readonly config: Config,
    private readonly clock: Clock,
    private readonly definitions: LightingDefinitions,
    /** The parts, or LightingError 'unavailable' when the runtime does not run. */
    private readonly running: () => LightingParts,
  ) {}

  previewProgram(request: PreviewRequest, actor: Actor): ProgramPreview {
    const t = this.running(); // unavailable outranks invalid: a stopped service says so first
    const issues: ValidationIssue[] = [];
    const z = this.zoneOf(t, request?.zone, actor, issues);
    const night = typeof request?.night === 'string' ? parseCivilDate(request.night) : undefined;
    if (!night)
      issues.push({ path: ['night'], message: `must be a date 'YYYY-MM-DD' (is ${show(request?.night)})` });
    const program = this.programOf(request?.program, issues);
    if (issues.length > 0 || z === undefined || !night || !program) throw invalid('preview', issues);
    return previewNight(zoneContext(t, this.config, z), program, night);
  }

  yearCost(request: YearCostRequest, actor: Actor): YearCost {
    const t = this.running(); // unavailable outranks invalid: a stopped service says so first
    const issues: ValidationIssue[] = [];
    const z = this.zoneOf(t, request?.zone, actor, issues);
    const program = this.programOf(request?.program, issues);
    const from = this.fromOf(request?.from, issues);
    const nights = request?.nights ?? 365;
    if (!Number.isInteger(nights) || nights < 1 || nights > 731)
      issues.push({ path: ['nights'], message: `must be a whole number from 1 to 731 (is ${show(nights)})` });
    if (issues.length > 0 || z === undefined || !program) throw invalid('year cost', issues);
    const context = zoneContext(t, this.config, z);
    const calendar = this.definitions.calendarsById.get(t.zoneCalendars[z])!.calendar;
    return yearCost({
      zone: context,
      proposed: program,
      calendar,
      programs: this.definitions.programConfigs(),
      from: from ?? nightOf(timeZone(context.timeZone), this.clock.now()),
      nights,
      tariffs: this.config.tariffs,
      emissionFactors: this.config.emission_factors,
    });
  }

  previewCalendar(request: CalendarPreviewRequest, actor: Actor): CalendarPreview {
    const t = this.running(); // unavailable outranks invalid: a stopped service says so first
    const issues: ValidationIssue[] = [];
    const z = this.zoneOf(t, request?.zone, actor, issues);
    const checked = validateCalendar(request?.calendar, {
      programs: new Set(this.definitions.programsById.keys()),
    });
    if (!checked.ok)
      for (const issue of checked.issues) issues.push({ ...issue, path: ['calendar', ...issue.path] });
    const from = this.fromOf(request?.from, issues);
    const nights = request?.nights ?? CALENDAR_PREVIEW_NIGHTS;
    if (!Number.isInteger(nights) || nights < 1 || nights > 62)
      issues.push({ path: ['nights'], message: `must be a whole number from 1 to 62 (is ${show(nights)})` });
    if (issues.length > 0 || z === undefined || !checked.ok) throw invalid('calendar preview', issues);
    const context = zoneContext(t, this.config, z);
    const first = from ?? nightOf(timeZone(context.timeZone), this.clock.now());
    const programs = this.definitions.programConfigs();
    return {
      zone: context.zone,
      commune: context.commune,
      timeZone: context.timeZone,
      nights: calendarNights(context, checked.value, programs, first, nights),
      year: calendarCost({
        zone: context,
        proposed: checked.value,
        calendar: this.definitions.calendarsById.get(t.zoneCalendars[z])!.calendar,
        programs,
        from: first,
        nights: 365,
        tariffs: this.config.tariffs,
        emissionFactors: this.config.emission_factors,
      }),
    };
  }

  private fromOf(value: unknown, issues: ValidationIssue[]): CivilDate | undefined {
    if (value === undefined) return undefined;
    const from = typeof value === 'string' ? parseCivilDate(value) : undefined;
    if (!from) issues.push({ path: ['from'], message: `must be a date 'YYYY-MM-DD' (is ${show(value)})` });
    return from;
  }

  private zoneOf(t: LightingParts, id: unknown, actor: Actor, issues: ValidationIssue[]): number | undefined {
    const z = typeof id === 'string' ? t.topology.zoneIndex(id) : undefined;
    if (z === undefined) {
      issues.push({ path: ['zone'], message: `unknown zone ${show(id)}` });
      return undefined;
    }
    checkVisible(actor, communeOfZone(t, z), `zone '${String(id)}'`);
    return z;
  }

  private programOf(source: ProgramSource | undefined, issues: ValidationIssue[]): ProgramConfig | undefined {
    const { programsById } = this.definitions;
    if (typeof source === 'string') {
      const found = programsById.get(source)?.program;
      if (!found)
        issues.push({
          path: ['program'],
          message: `unknown program '${source}' (known: ${[...programsById.keys()].join(', ')})`,
        });
      return found;
    }
    if (typeof source === 'object' && source !== null && 'program' in source) {
      const checked = validateProgram(source.program, { luxPoints: this.definitions.luxPoints() });
      if (checked.ok) return checked.value;
      for (const issue of checked.issues)
        issues.push({ path: ['program', 'program', ...issue.path], message: issue.message });
      return undefined;
    }
    issues.push({ path: ['program'], message: 'must be a program id or {program: {...}}' });
    return undefined;
  }
}
