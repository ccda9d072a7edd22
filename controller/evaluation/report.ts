import type { EmissionFactorConfig, InvestmentConfig, TariffConfig } from '../../config/schema';
import { addDays, daysInMonth, formatCivilDate, parseCivilDate, type CivilDate } from '../../core/localTime';
import { eveningTwilight, morningTwilight, type GeoPoint } from '../../core/sun';
import type { UsageRecord } from './usage';

/**
 * The monthly evaluation report (docs/evaluation.md), per commune and for the territory. Pure: daily
 * readings, dated tariffs and emission factors, baselines, investments, availability counts, alert
 * events and usage in; figures out. The I/O side (gather.ts) reads them from InfluxDB and the service.
 */

/** An amount consumed on one local day: lighting in kWh, a meter quantity in its own unit. */
export interface DailyAmount {
  commune: string;
  /** 'YYYY-MM-DD', local day of the site. */
  day: string;
  /** 'electricity' for lighting; the meter's quantity (electricity, water, gas, heat…) for buildings. */
  quantity: string;
  unit: string;
  amount: number;
}

export type LightingBaseline = 'full-night' | 'last-year';

export interface DeviceUptime {
  commune: string;
  device: string;
  /** Time with health above 0 (up or degraded), and time with any known health, in the month. */
  upMs: number;
  knownMs: number;
}

export interface PointCompleteness {
  commune: string;
  point: string;
  received: number;
  /** Samples its period promises over the month. */
  expected: number;
}

export interface AlertEvent {
  id: string;
  commune: string;
  state: 'raised' | 'acknowledged' | 'cleared';
  at: number;
}

export interface EvaluationInput {
  /** 'YYYY-MM'. */
  month: string;
  /** The month's first and next month's first local midnights, ms: alert events are counted within. */
  window: { from: number; to: number };
  communes: readonly { id: string; name: string }[];
  lighting: readonly DailyAmount[];
  /** The same month a year earlier, days as they were then ('YYYY-MM-DD' of that year). */
  lightingLastYear: readonly DailyAmount[];
  /** Full power from sunset to sunrise, by commune and night (fullNightKWh). */
  lightingFullNight: readonly DailyAmount[];
  buildings: readonly DailyAmount[];
  buildingsLastYear: readonly DailyAmount[];
  baselines: Readonly<Record<string, LightingBaseline>>;
  tariffs: readonly TariffConfig[];
  emissionFactors: readonly EmissionFactorConfig[];
  investments: readonly InvestmentConfig[];
  /** Luminaires of each commune, and those whose device reads back the decided level now. */
  luminaires: readonly { commune: string; total: number; confirmed: number }[];
  devices: readonly DeviceUptime[];
  completeness: readonly PointCompleteness[];
  /** Alert events of the month, and the `raised` events of alerts acknowledged in it (maybe earlier). */
  alerts: readonly AlertEvent[];
  usage: readonly UsageRecord[];
}

export interface Money {
  /** Undefined when no tariff (or factor) was in force on some day with consumption. */
  eur: number | undefined;
  kgCo2e: number | undefined;
}

export interface EnergyLine extends Money {
  /** 'lighting' or 'buildings'. */
  use: 'lighting' | 'buildings';
  quantity: string;
  unit: string;
  amount: number;
  /** `mixed` for the territory when its communes chose different lighting baselines. */
  baseline?: Money & { kind: LightingBaseline | 'mixed'; amount: number };
  /** Baseline minus actual, valued at the tariffs and factors of the report's days. */
  saved?: Money & { amount: number; pct: number | undefined };
}

export interface InvestmentFigures {
  investments: { id: string; description: string; from: string; capexEur: number; yearlyCostEur: number }[];
  capexEur: number;
  yearlyCostEur: number;
  /** € saved this month, over every line with a baseline and a price (the territory: its communes'). */
  monthSavingsEur: number;
  /** monthSavingsEur × 365 / days of the month − yearly costs. */
  yearlyNetSavingsEur: number;
  /** capex / yearly net savings; undefined when nothing is saved net. */
  paybackYears: number | undefined;
}

export interface Percent {
  count: number;
  of: number;
  /** count / of × 100; undefined when `of` is 0. */
  pct: number | undefined;
}

export interface UsageFigures {
  signIns: number;
  pageViews: number;
  actions: number;
  byRole: Record<string, { signIns: number; pageViews: number; actions: number }>;
}

export interface AreaReport {
  /** A commune id, or '*' for the territory. */
  commune: string;
  name: string;
  energy: EnergyLine[];
  investment: InvestmentFigures;
  availability: {
    luminairesConfirmed: Percent;
    /** Device-hours up over device-hours known. */
    deviceUptime: { upHours: number; knownHours: number; pct: number | undefined; devices: number };
    dataCompleteness: Percent & { points: number };
  };
  alerts: {
    raised: number;
    acknowledged: number;
    cleared: number;
    /** Minutes from raised to acknowledged, over the acknowledgements of the month. */
    ackMedianMin: number | undefined;
    ackP90Min: number | undefined;
  };
  usage: UsageFigures;
  notes: string[];
}

export interface EvaluationReport {
  month: string;
  from: string;
  to: string;
  days: number;
  communes: AreaReport[];
  territory: AreaReport;
  /** The tariffs and factors used, as the evaluator needs to check them. */
  tariffs: { quantity: string; unit: string; eurPerUnit: number; from: string; commune?: string }[];
  emissionFactors: { quantity: string; unit: string; kgCo2ePerUnit: number; from: string; source: string }[];
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const DAYS_PER_YEAR = 365;
/** Energy units convertible into one another, as kWh per unit. */
const KWH_PER_UNIT: Readonly<Record<string, number>> = { Wh: 0.001, kWh: 1, MWh: 1000 };

/** 'YYYY-MM' → its first day and its number of days; undefined when it is not a month. */
export function parseMonth(month: string): { first: CivilDate; days: number } | undefined {
  const m = MONTH.exec(month);
  if (!m) return undefined;
  const year = Number(m[1]);
  const number = Number(m[2]);
  return { first: { year, month: number, day: 1 }, days: daysInMonth(year, number) };
}

/** The days of the month as 'YYYY-MM-DD'. */
export function daysOf(month: string): string[] {
  const parsed = parseMonth(month);
  if (!parsed) throw new Error(`month '${month}': expected 'YYYY-MM'`);
  return Array.from({ length: parsed.days }, (_, i) => formatCivilDate(addDays(parsed.first, i)));
}

/** The same day a year earlier; 29 February becomes the 28th. */
export function sameDayLastYear(day: string): string {
  const date = parseCivilDate(day);
  if (!date) throw new Error(`day '${day}': expected 'YYYY-MM-DD'`);
  const year = date.year - 1;
  return formatCivilDate({ year, month: date.month, day: Math.min(date.day, daysInMonth(year, date.month)) });
}

/**
 * The full-night lighting baseline: every luminaire at its rated power from sunset to sunrise (official
 * twilight, core/sun.ts), per commune and night, kWh. A night is named by its first day.
 */
export function fullNightKWh(
  zones: readonly { commune: string; ratedW: number; location: GeoPoint }[],
  days: readonly string[],
): DailyAmount[] {
  const out: DailyAmount[] = [];
  for (const day of days) {
    const date = parseCivilDate(day);
    if (!date) throw new Error(`day '${day}': expected 'YYYY-MM-DD'`);
    const byCommune = new Map<string, number>();
    for (const zone of zones) {
      const kWh = (zone.ratedW * darkHours(date, zone.location)) / 1000;
      byCommune.set(zone.commune, (byCommune.get(zone.commune) ?? 0) + kWh);
    }
    for (const [commune, amount] of byCommune)
      out.push({ commune, day, quantity: 'electricity', unit: 'kWh', amount });
  }
  return out;
}

/** Hours from sunset on `night` to sunrise the next morning; 24 in a polar night, 0 in a white one. */
function darkHours(night: CivilDate, location: GeoPoint): number {
  const dusk = eveningTwilight(night, location, 'official');
  const dawn = morningTwilight(addDays(night, 1), location, 'official');
  if (!dusk.occurs || !dawn.occurs) {
    const sky = dusk.occurs ? (dawn as { sky: 'light' | 'dark' }).sky : dusk.sky;
    return sky === 'dark' ? 24 : 0;
  }
  return (dawn.at - dusk.at) / 3_600_000;
}

/**
 * A device's time up (health above 0: up or degraded) and known, within [from, to), from its health
 * samples in time order: a value holds until the next sample, but at most `maxGapMs` (after that the
 * service was not watching: unknown, neither up nor down).
 */
export function uptimeOf(
  samples: readonly { at: number; health: number }[],
  from: number,
  to: number,
  maxGapMs: number,
): { upMs: number; knownMs: number } {
  let upMs = 0;
  let knownMs = 0;
  samples.forEach((sample, i) => {
    const next = i + 1 < samples.length ? samples[i + 1].at : Number.POSITIVE_INFINITY;
    const start = Math.max(sample.at, from);
    const end = Math.min(next, sample.at + maxGapMs, to);
    if (end <= start) return;
    knownMs += end - start;
    if (sample.health > 0) upMs += end - start;
  });
  return { upMs, knownMs };
}

export function buildReport(input: EvaluationInput): EvaluationReport {
  const days = daysOf(input.month);
  const rates = new Rates(input.tariffs, input.emissionFactors);
  const communes = input.communes.map((c) => communeReport(input, days, rates, c));
  return {
    month: input.month,
    from: days[0],
    to: days[days.length - 1],
    days: days.length,
    communes,
    territory: territoryReport(input, days, communes),
    tariffs: [...rates.usedTariffs].map((t) => ({
      quantity: t.quantity,
      unit: t.unit,
      eurPerUnit: t.eur_per_unit,
      from: t.from,
      ...(t.commune !== undefined ? { commune: t.commune } : {}),
    })),
    emissionFactors: [...rates.usedFactors].map((f) => ({
      quantity: f.quantity,
      unit: f.unit,
      kgCo2ePerUnit: f.kg_co2e_per_unit,
      from: f.from,
      source: f.source,
    })),
  };
}

function communeReport(
  input: EvaluationInput,
  days: readonly string[],
  rates: Rates,
  commune: { id: string; name: string },
): AreaReport {
  const notes: string[] = [];
  const own = (r: { commune: string }): boolean => r.commune === commune.id;
  const baselineKind = input.baselines[commune.id] ?? 'full-night';
  const energy: EnergyLine[] = [];
  const lighting = input.lighting.filter(own);
  const lightingBaseline = (
    baselineKind === 'full-night' ? input.lightingFullNight : input.lightingLastYear
  ).filter(own);
  if (lighting.length > 0 || lightingBaseline.length > 0)
    energy.push(
      energyLine('lighting', 'electricity', 'kWh', lighting, {
        kind: baselineKind,
        readings: lightingBaseline,
      }),
    );
  const buildings = input.buildings.filter(own);
  const buildingsLastYear = input.buildingsLastYear.filter(own);
  for (const [quantity, unit] of quantitiesOf([...buildings, ...buildingsLastYear])) {
    const same = (r: DailyAmount): boolean => r.quantity === quantity && r.unit === unit;
    energy.push(
      energyLine('buildings', quantity, unit, buildings.filter(same), {
        kind: 'last-year',
        readings: buildingsLastYear.filter(same),
      }),
    );
  }

  function energyLine(
    use: EnergyLine['use'],
    quantity: string,
    unit: string,
    readings: readonly DailyAmount[],
    baseline: { kind: LightingBaseline; readings: readonly DailyAmount[] },
  ): EnergyLine {
    const actual = rates.value(commune.id, quantity, unit, byDay(readings, days), notes);
    const line: EnergyLine = { use, quantity, unit, ...actual.money, amount: actual.amount };
    if (baseline.readings.length === 0) {
      notes.push(`${use} ${quantity}: no ${baseline.kind} baseline data, nothing saved is computed`);
      return line;
    }
    // Last year's days are moved onto this month's, so that both are valued at this month's prices.
    const baselineDays =
      baseline.kind === 'last-year'
        ? byDay(baseline.readings, days.map(sameDayLastYear), days)
        : byDay(baseline.readings, days);
    const reference = rates.value(commune.id, quantity, unit, baselineDays, notes);
    line.baseline = { kind: baseline.kind, amount: reference.amount, ...reference.money };
    const savedAmount = reference.amount - actual.amount;
    line.saved = {
      amount: savedAmount,
      pct: reference.amount > 0 ? (savedAmount / reference.amount) * 100 : undefined,
      eur: minus(reference.money.eur, actual.money.eur),
      kgCo2e: minus(reference.money.kgCo2e, actual.money.kgCo2e),
    };
    return line;
  }

  const investments = input.investments.filter(
    (i) => i.commune === commune.id && i.from <= days[days.length - 1],
  );
  return {
    commune: commune.id,
    name: commune.name,
    energy,
    investment: investmentFigures(investments, savedEur(energy), days.length),
    availability: availability(input, own),
    alerts: alertFigures(input.alerts.filter(own), input.window),
    usage: usageFigures(
      input.usage.filter((u) => u.commune.split(',').includes(commune.id)),
      days,
    ),
    notes: [...new Set(notes)],
  };
}

/** The territory: energy and money summed over the communes, the rest counted over everything. */
function territoryReport(
  input: EvaluationInput,
  days: readonly string[],
  communes: AreaReport[],
): AreaReport {
  const energy: EnergyLine[] = [];
  for (const area of communes)
    for (const line of area.energy) {
      const same = energy.find(
        (e) => e.use === line.use && e.quantity === line.quantity && e.unit === line.unit,
      );
      if (same) addLine(same, line);
      else energy.push(structuredClone(line));
    }
  for (const line of energy)
    if (line.saved && line.baseline)
      line.saved.pct =
        line.baseline.amount > 0 ? (line.saved.amount / line.baseline.amount) * 100 : undefined;
  const investments = input.investments.filter((i) => i.from <= days[days.length - 1]);
  const all = (): boolean => true;
  return {
    commune: '*',
    name: 'Territoire',
    energy,
    // The communes' own savings: a line the territory cannot compare whole still saved in its communes.
    investment: investmentFigures(
      investments,
      communes.reduce((sum, c) => sum + c.investment.monthSavingsEur, 0),
      days.length,
    ),
    availability: availability(input, all),
    alerts: alertFigures(input.alerts, input.window),
    usage: usageFigures(input.usage, days),
    notes: [],
  };
}

/** Adds `line` into `total`; a money figure unknown on either side stays unknown. */
function addLine(total: EnergyLine, line: EnergyLine): void {
  total.amount += line.amount;
  total.eur = plus(total.eur, line.eur);
  total.kgCo2e = plus(total.kgCo2e, line.kgCo2e);
  if (!total.baseline || !line.baseline || !total.saved || !line.saved) {
    // A commune without a baseline leaves the territory's saving incomplete: say nothing rather than less.
    delete total.baseline;
    delete total.saved;
    return;
  }
  total.baseline.amount += line.baseline.amount;
  total.baseline.eur = plus(total.baseline.eur, line.baseline.eur);
  total.baseline.kgCo2e = plus(total.baseline.kgCo2e, line.baseline.kgCo2e);
  if (total.baseline.kind !== line.baseline.kind) total.baseline.kind = 'mixed';
  total.saved.amount += line.saved.amount;
  total.saved.eur = plus(total.saved.eur, line.saved.eur);
  total.saved.kgCo2e = plus(total.saved.kgCo2e, line.saved.kgCo2e);
}

/** € saved over the lines with a baseline and a price. */
function savedEur(energy: readonly EnergyLine[]): number {
  return energy.reduce((sum, line) => sum + (line.saved?.eur ?? 0), 0);
}

function investmentFigures(
  investments: readonly InvestmentConfig[],
  monthSavingsEur: number,
  days: number,
): InvestmentFigures {
  const capexEur = investments.reduce((sum, i) => sum + i.capex_eur, 0);
  const yearlyCostEur = investments.reduce((sum, i) => sum + i.yearly_cost_eur, 0);
  const yearlyNetSavingsEur = (monthSavingsEur * DAYS_PER_YEAR) / days - yearlyCostEur;
  return {
    investments: investments.map((i) => ({
      id: i.id,
      description: i.description,
      from: i.from,
      capexEur: i.capex_eur,
      yearlyCostEur: i.yearly_cost_eur,
    })),
    capexEur,
    yearlyCostEur,
    monthSavingsEur,
    yearlyNetSavingsEur,
    paybackYears: yearlyNetSavingsEur > 0 && capexEur > 0 ? capexEur / yearlyNetSavingsEur : undefined,
  };
}

function availability(
  input: EvaluationInput,
  keep: (r: { commune: string }) => boolean,
): AreaReport['availability'] {
  const luminaires = input.luminaires.filter(keep);
  const devices = input.devices.filter(keep);
  const points = input.completeness.filter(keep);
  const upMs = devices.reduce((sum, d) => sum + d.upMs, 0);
  const knownMs = devices.reduce((sum, d) => sum + d.knownMs, 0);
  // A point sending more than its period promises (a restart replays, a change arrives early) counts as complete, no more.
  const received = points.reduce((sum, p) => sum + Math.min(p.received, p.expected), 0);
  const expected = points.reduce((sum, p) => sum + p.expected, 0);
  return {
    luminairesConfirmed: percent(
      luminaires.reduce((sum, l) => sum + l.confirmed, 0),
      luminaires.reduce((sum, l) => sum + l.total, 0),
    ),
    deviceUptime: {
      upHours: upMs / 3_600_000,
      knownHours: knownMs / 3_600_000,
      pct: knownMs > 0 ? (upMs / knownMs) * 100 : undefined,
      devices: devices.length,
    },
    dataCompleteness: { ...percent(received, expected), points: points.length },
  };
}

function alertFigures(
  events: readonly AlertEvent[],
  window: EvaluationInput['window'],
): AreaReport['alerts'] {
  const raisedAt = new Map<string, number>();
  for (const e of events) if (e.state === 'raised') raisedAt.set(e.id, e.at);
  const inMonth = events.filter((e) => e.at >= window.from && e.at < window.to);
  const count = (state: AlertEvent['state']): number => inMonth.filter((e) => e.state === state).length;
  const waits: number[] = [];
  for (const e of inMonth) {
    const raised = raisedAt.get(e.id);
    if (e.state === 'acknowledged' && raised !== undefined) waits.push((e.at - raised) / 60_000);
  }
  waits.sort((a, b) => a - b);
  return {
    raised: count('raised'),
    acknowledged: count('acknowledged'),
    cleared: count('cleared'),
    ackMedianMin: percentile(waits, 50),
    ackP90Min: percentile(waits, 90),
  };
}

function usageFigures(records: readonly UsageRecord[], days: readonly string[]): UsageFigures {
  const first = days[0];
  const last = days[days.length - 1];
  const figures: UsageFigures = { signIns: 0, pageViews: 0, actions: 0, byRole: {} };
  for (const record of records) {
    if (record.day < first || record.day > last) continue;
    const role = (figures.byRole[record.role] ??= { signIns: 0, pageViews: 0, actions: 0 });
    const field =
      record.kind === 'sign-in' ? 'signIns' : record.kind.startsWith('page:') ? 'pageViews' : 'actions';
    figures[field] += record.count;
    role[field] += record.count;
  }
  return figures;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function percent(count: number, of: number): Percent {
  return { count, of, pct: of > 0 ? (count / of) * 100 : undefined };
}

/** Distinct (quantity, unit) pairs in order of first appearance. */
function quantitiesOf(readings: readonly DailyAmount[]): [string, string][] {
  const seen = new Map<string, [string, string]>();
  for (const r of readings) seen.set(`${r.quantity}\u0000${r.unit}`, [r.quantity, r.unit]);
  return [...seen.values()];
}

/**
 * Amounts per report day. `sourceDays[i]` is where day i's amount is read (last year's same day);
 * readings outside those days are not counted.
 */
function byDay(
  readings: readonly DailyAmount[],
  sourceDays: readonly string[],
  reportDays: readonly string[] = sourceDays,
): Map<string, number> {
  const index = new Map(sourceDays.map((d, i) => [d, reportDays[i]]));
  const out = new Map<string, number>();
  for (const r of readings) {
    const day = index.get(r.day);
    if (day !== undefined) out.set(day, (out.get(day) ?? 0) + r.amount);
  }
  return out;
}

function plus(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a + b;
}

function minus(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

interface Dated<T> {
  entry: T;
  /** Multiplies an amount in the reading's unit into the entry's unit. */
  factor: number;
}

/**
 * The dated tariffs and emission factors: for a commune, its own tariffs of a quantity if it has any,
 * else the general ones; the entry in force on a day is the latest starting on or before it. An
 * energy reading in Wh, kWh or MWh is priced by an entry in any of them.
 */
class Rates {
  readonly usedTariffs = new Set<TariffConfig>();
  readonly usedFactors = new Set<EmissionFactorConfig>();

  constructor(
    private readonly tariffs: readonly TariffConfig[],
    private readonly factors: readonly EmissionFactorConfig[],
  ) {}

  /** Σ amount, and Σ amount × the rate in force on its day. */
  value(
    commune: string,
    quantity: string,
    unit: string,
    amounts: ReadonlyMap<string, number>,
    notes: string[],
  ): { amount: number; money: Money } {
    const tariffs = this.entries(this.tariffs, commune, quantity, unit);
    const factors = this.entries(this.factors, undefined, quantity, unit);
    let amount = 0;
    let eur: number | undefined = 0;
    let kg: number | undefined = 0;
    for (const [day, value] of [...amounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      amount += value;
      const tariff = inForce(tariffs, day);
      const factor = inForce(factors, day);
      if (tariff) this.usedTariffs.add(tariff.entry);
      if (factor) this.usedFactors.add(factor.entry);
      if (!tariff && eur !== undefined)
        notes.push(`no ${quantity} tariff per ${unit} in force on ${day}: € not computed`);
      if (!factor && kg !== undefined)
        notes.push(`no ${quantity} emission factor per ${unit} in force on ${day}: kg CO2e not computed`);
      eur = tariff && eur !== undefined ? eur + value * tariff.factor * tariff.entry.eur_per_unit : undefined;
      kg =
        factor && kg !== undefined ? kg + value * factor.factor * factor.entry.kg_co2e_per_unit : undefined;
    }
    return { amount, money: { eur, kgCo2e: kg } };
  }

  private entries<T extends { quantity: string; unit: string; from: string; commune?: string }>(
    all: readonly T[],
    commune: string | undefined,
    quantity: string,
    unit: string,
  ): (Dated<T> & { from: string })[] {
    const usable: (Dated<T> & { from: string })[] = [];
    for (const entry of all) {
      if (entry.quantity !== quantity) continue;
      const factor = conversion(unit, entry.unit);
      if (factor !== undefined) usable.push({ entry, factor, from: entry.from });
    }
    const own = usable.filter((d) => d.entry.commune !== undefined && d.entry.commune === commune);
    const general = usable.filter((d) => d.entry.commune === undefined);
    return (own.length > 0 ? own : general).sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  }
}

/** Units of `from` per unit of `to`… as a multiplier from an amount in `from` to one in `to`. */
function conversion(from: string, to: string): number | undefined {
  if (from === to) return 1;
  const a = KWH_PER_UNIT[from];
  const b = KWH_PER_UNIT[to];
  return a !== undefined && b !== undefined ? a / b : undefined;
}

function inForce<T extends { from: string }>(sorted: readonly T[], day: string): T | undefined {
  let found: T | undefined;
  for (const d of sorted) {
    if (d.from > day) break;
    found = d;
  }
  return found;
}
