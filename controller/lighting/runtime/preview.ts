import type {
  CalendarConfig,
  EmissionFactorConfig,
  ProgramConfig,
  TariffConfig,
} from '../../../config/schema';
import { programFor } from '../calendar';
import { nightEnergy } from '../energy';
import { addDays, formatCivilDate, timeZone, type CivilDate } from '../../../core/localTime';
import { planNight } from '../schedule';
import type { GeoPoint } from '../../../core/sun';
import type { CalendarCost, CalendarNight, CostFigures, ProgramPreview, YearCost } from './lightingService';

/**
 * Previews for the console: what a program does in a zone on one night, and what it costs over a year
 * against what the zone does now. Pure: plans, energy, dated tariffs and emission factors in, figures out.
 * Energy is estimated from rated power and level (linear dimming, docs/lighting.md).
 */

export interface ZoneContext {
  zone: string;
  commune: string;
  location: GeoPoint;
  timeZone: string;
  luminaires: number;
  /** Sum of the zone's rated powers, W. */
  ratedW: number;
}

export function previewNight(zone: ZoneContext, program: ProgramConfig, night: CivilDate): ProgramPreview {
  const plan = planNight(program, night, { location: zone.location, zone: timeZone(zone.timeZone) });
  const energy = nightEnergy(plan, zone.ratedW);
  return {
    zone: zone.zone,
    commune: zone.commune,
    night: plan.night,
    program: plan.program,
    timeZone: zone.timeZone,
    start: plan.start,
    end: plan.end,
    dusk: plan.dusk,
    dawn: plan.dawn,
    presenceFrom: plan.presenceFrom,
    presenceTo: plan.presenceTo,
    initialLevel: plan.initialLevel,
    steps: plan.steps.map((s) => {
      const step: ProgramPreview['steps'][number] = {
        index: s.index,
        spec: s.spec,
        at: s.at,
        level: s.level,
        timing: s.timing,
      };
      if (s.dst) step.dst = s.dst;
      if (s.movedFrom !== undefined) step.movedFrom = s.movedFrom;
      return step;
    }),
    skipped: plan.skipped.map((s) => ({
      index: s.index,
      spec: s.spec,
      reason: s.reason,
      ...(s.at !== undefined ? { at: s.at } : {}),
    })),
    energy: {
      luminaires: zone.luminaires,
      ratedW: zone.ratedW,
      plannedWh: energy.plannedWh,
      fullNightWh: energy.fullNightWh,
      savedWh: energy.savedWh,
      savedPct: energy.savedPct,
      burnHours: energy.burnHours,
      darkHours: energy.darkHours,
    },
  };
}

export interface YearCostInput {
  zone: ZoneContext;
  proposed: ProgramConfig;
  calendar: CalendarConfig;
  programs: ReadonlyMap<string, ProgramConfig>;
  from: CivilDate;
  nights: number;
  tariffs: readonly TariffConfig[];
  emissionFactors: readonly EmissionFactorConfig[];
}

const KWH_PER_UNIT: Record<string, number> = { Wh: 0.001, kWh: 1, MWh: 1000 };

export function yearCost(input: YearCostInput): YearCost {
  const { proposed } = input;
  const compared = compareNights(input, () => proposed);
  return {
    ...compared,
    proposed: { ...compared.proposed, program: proposed.id },
  };
}

export interface CalendarCostInput extends Omit<YearCostInput, 'proposed'> {
  /** The calendar proposed instead of the zone's (validated: its programs exist). */
  proposed: CalendarConfig;
}

/** A zone with a proposed calendar over a year, against the zone as it is: as yearCost for one program. */
export function calendarCost(input: CalendarCostInput): CalendarCost {
  const { proposed, programs } = input;
  const proposedPrograms = new Map<string, number>();
  const compared = compareNights(input, (night) => {
    const choice = programFor(proposed, night).program;
    proposedPrograms.set(choice, (proposedPrograms.get(choice) ?? 0) + 1);
    return programs.get(choice);
  });
  return {
    ...compared,
    proposed: { ...compared.proposed, calendar: proposed.id, programs: countsOf(proposedPrograms) },
  };
}

/** Which program a calendar gives each night, with its dusk, dawn and energy: the next nights of a draft. */
export function calendarNights(
  zone: ZoneContext,
  calendar: CalendarConfig,
  programs: ReadonlyMap<string, ProgramConfig>,
  from: CivilDate,
  nights: number,
): CalendarNight[] {
  const context = { location: zone.location, zone: timeZone(zone.timeZone) };
  return Array.from({ length: nights }, (_, n) => {
    const night = addDays(from, n);
    const choice = programFor(calendar, night);
    const plan = planNight(programs.get(choice.program)!, night, context);
    const energy = nightEnergy(plan, zone.ratedW);
    return {
      night: formatCivilDate(night),
      program: choice.program,
      ...(choice.rule !== undefined ? { rule: choice.rule } : {}),
      ...(choice.ruleName !== undefined ? { ruleName: choice.ruleName } : {}),
      dusk: plan.dusk,
      dawn: plan.dawn,
      plannedWh: energy.plannedWh,
      savedPct: energy.savedPct,
    };
  });
}

/**
 * The proposal (a program per night, undefined: an unknown program, counted as off) against the zone's
 * calendar, night by night, with the dated tariffs and emission factors in force on each night.
 */
function compareNights(
  input: Omit<YearCostInput, 'proposed'>,
  proposedOn: (night: CivilDate) => ProgramConfig | undefined,
): Omit<YearCost, 'proposed'> & { proposed: CostFigures } {
  const { zone, calendar, programs, from, nights } = input;
  const context = { location: zone.location, zone: timeZone(zone.timeZone) };
  const notes: string[] = [];
  const tariffs = electricity(input.tariffs, zone.commune, notes, 'tariff');
  const factors = electricity(input.emissionFactors, undefined, notes, 'emission factor');
  const usedTariffs = new Set<TariffConfig>();
  const usedFactors = new Set<EmissionFactorConfig>();
  const proposedSum = new Sum();
  const currentSum = new Sum();
  const fullSum = new Sum();
  const currentPrograms = new Map<string, number>();
  let missingTariff: string | undefined;
  let missingFactor: string | undefined;

  for (let n = 0; n < nights; n++) {
    const night = addDays(from, n);
    const date = formatCivilDate(night);
    const tariff = inForce(tariffs, date);
    const factor = inForce(factors, date);
    if (tariff) usedTariffs.add(tariff.entry);
    else missingTariff ??= date;
    if (factor) usedFactors.add(factor.entry);
    else missingFactor ??= date;
    const price = tariff ? tariff.entry.eur_per_unit / tariff.kWhPerUnit : undefined;
    const kg = factor ? factor.entry.kg_co2e_per_unit / factor.kWhPerUnit : undefined;

    const proposed = proposedOn(night);
    if (proposed) {
      const proposedEnergy = nightEnergy(planNight(proposed, night, context), zone.ratedW);
      proposedSum.add(proposedEnergy.plannedWh / 1000, price, kg);
      fullSum.add(proposedEnergy.fullNightWh / 1000, price, kg);
    }

    const choice = programFor(calendar, night);
    currentPrograms.set(choice.program, (currentPrograms.get(choice.program) ?? 0) + 1);
    const current = programs.get(choice.program);
    if (!current) {
      notes.push(`night ${date}: the calendar names unknown program '${choice.program}'; counted as off`);
      continue;
    }
    currentSum.add(nightEnergy(planNight(current, night, context), zone.ratedW).plannedWh / 1000, price, kg);
  }
  if (missingTariff !== undefined)
    notes.push(
      `no electricity tariff in force on ${missingTariff} (and possibly later): costs in € not computed`,
    );
  if (missingFactor !== undefined)
    notes.push(`no electricity emission factor in force on ${missingFactor}: kg CO2e not computed`);

  const proposedFigures = proposedSum.figures();
  const currentFigures = currentSum.figures();
  return {
    zone: zone.zone,
    commune: zone.commune,
    from: formatCivilDate(from),
    to: formatCivilDate(addDays(from, nights - 1)),
    nights,
    proposed: proposedFigures,
    current: { ...currentFigures, programs: countsOf(currentPrograms) },
    difference: {
      kWh: proposedFigures.kWh - currentFigures.kWh,
      eur: minus(proposedFigures.eur, currentFigures.eur),
      kgCo2e: minus(proposedFigures.kgCo2e, currentFigures.kgCo2e),
    },
    fullNight: fullSum.figures(),
    tariffs: [...usedTariffs].map((t) => ({
      eurPerKWh: t.eur_per_unit / (KWH_PER_UNIT[t.unit] ?? 1),
      from: t.from,
      ...(t.source !== undefined ? { source: t.source } : {}),
    })),
    emissionFactors: [...usedFactors].map((f) => ({
      kgCo2ePerKWh: f.kg_co2e_per_unit / (KWH_PER_UNIT[f.unit] ?? 1),
      from: f.from,
      source: f.source,
    })),
    notes,
  };
}

function countsOf(nightsByProgram: ReadonlyMap<string, number>): { id: string; nights: number }[] {
  return [...nightsByProgram].map(([id, count]) => ({ id, nights: count }));
}

/** € per kWh of electricity in force on `date` ('YYYY-MM-DD') for the commune; undefined when none is. */
export function electricityPriceOn(
  tariffs: readonly TariffConfig[],
  commune: string,
  date: string,
): number | undefined {
  const tariff = inForce(electricity(tariffs, commune, [], 'tariff'), date);
  return tariff ? tariff.entry.eur_per_unit / tariff.kWhPerUnit : undefined;
}

interface Dated<T> {
  entry: T;
  from: string;
  kWhPerUnit: number;
}

/** Electricity entries (kWh, Wh or MWh) for the commune (its own first, else the general ones), by date. */
function electricity<T extends { quantity: string; unit: string; from: string; commune?: string }>(
  entries: readonly T[],
  commune: string | undefined,
  notes: string[],
  what: string,
): Dated<T>[] {
  const usable: Dated<T>[] = [];
  for (const entry of entries) {
    if (entry.quantity !== 'electricity') continue;
    const kWhPerUnit = KWH_PER_UNIT[entry.unit];
    if (kWhPerUnit === undefined) {
      notes.push(
        `electricity ${what} from ${entry.from} is per '${entry.unit}' (not Wh, kWh or MWh): ignored`,
      );
      continue;
    }
    usable.push({ entry, from: entry.from, kWhPerUnit });
  }
  const own = usable.filter((d) => d.entry.commune !== undefined && d.entry.commune === commune);
  const general = usable.filter((d) => d.entry.commune === undefined);
  return (own.length > 0 ? own : general).sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
}

/** The entry in force on `date`: the latest starting on or before it. */
function inForce<T>(sorted: readonly Dated<T>[], date: string): Dated<T> | undefined {
  let found: Dated<T> | undefined;
  for (const d of sorted) {
    if (d.from > date) break;
    found = d;
  }
  return found;
}

class Sum {
  private kWh = 0;
  private eur: number | undefined = 0;
  private kg: number | undefined = 0;

  add(kWh: number, eurPerKWh: number | undefined, kgPerKWh: number | undefined): void {
    this.kWh += kWh;
    this.eur = eurPerKWh === undefined || this.eur === undefined ? undefined : this.eur + kWh * eurPerKWh;
    this.kg = kgPerKWh === undefined || this.kg === undefined ? undefined : this.kg + kWh * kgPerKWh;
  }

  figures(): CostFigures {
    return { kWh: this.kWh, eur: this.eur, kgCo2e: this.kg };
  }
}

function minus(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}
