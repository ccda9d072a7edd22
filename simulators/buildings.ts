import { DateTime, IANAZone } from 'luxon';
import type * as SunCalcModule from 'suncalc' with { 'resolution-mode': 'import' };
import type { Clock } from '../core/clock';
import type { BuildingConfig, Config, PointConfig } from '../config/schema';
import { registerCount } from '../config/registers';
import { integerRange } from './modbus/encoding';
import { hashText, hashUnit, smoothNoise } from './random';

// suncalc 2 is an ES module with a CommonJS build behind its "require" export; this package compiles to
// CommonJS, so the types come from the ESM declaration and the code from require().
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SunCalc = require('suncalc') as typeof SunCalcModule;

/**
 * The building model: what every point of every building reads, by its `quantity`, as a function of time,
 * configuration and a seed. Instantaneous values (temperatures, flows, lux…) are pure functions of time;
 * meter indexes integrate their rate and so keep state, which only ever moves forward. Faults a technician
 * would meet (a leak, lights left on, a door, a flood, a meter reset) can be switched per building.
 */

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const YEAR_DAYS = 365.2425;
/** Meters integrate a rate held constant over each step: the index is then independent of when it is read. */
export const METER_STEP_MS = MINUTE;

export type BuildingFault = 'leak' | 'lights_forgotten' | 'door' | 'flood';
export const BUILDING_FAULTS: readonly BuildingFault[] = ['leak', 'lights_forgotten', 'door', 'flood'];
/** reset: the index restarts at 0 (meter replaced); rollover: the index jumps just below its wrap value. */
export type MeterResetMode = 'reset' | 'rollover';

/** Which point quantities make each fault visible; a fault on a building without them has no effect. */
export const FAULT_QUANTITIES: Record<BuildingFault, string[]> = {
  leak: ['water', 'water_flow'],
  lights_forgotten: ['lights_on', 'electricity', 'power'],
  door: ['door_open'],
  flood: ['water_level'],
};

/** Loads and uses of a kind of building; unknown kinds use `default`. */
interface KindProfile {
  baseKw: number;
  occupiedKw: number;
  lightsKw: number;
  /** Water drawn while open. */
  waterM3h: number;
  comfortC: number;
  setbackC: number;
  /** Heating power per degree between comfort and outdoor, for heat and gas meters. */
  heatKwPerK: number;
}

const PROFILES: Record<string, KindProfile> = {
  school: {
    baseKw: 3,
    occupiedKw: 16,
    lightsKw: 4,
    waterM3h: 0.5,
    comfortC: 20,
    setbackC: 16,
    heatKwPerK: 6,
  },
  town_hall: {
    baseKw: 4,
    occupiedKw: 12,
    lightsKw: 3,
    waterM3h: 0.15,
    comfortC: 20,
    setbackC: 16,
    heatKwPerK: 5,
  },
  pool: { baseKw: 30, occupiedKw: 45, lightsKw: 6, waterM3h: 3, comfortC: 27, setbackC: 25, heatKwPerK: 15 },
  gym: { baseKw: 2, occupiedKw: 9, lightsKw: 5, waterM3h: 0.8, comfortC: 18, setbackC: 14, heatKwPerK: 6 },
  library: {
    baseKw: 1.5,
    occupiedKw: 6,
    lightsKw: 2,
    waterM3h: 0.05,
    comfortC: 20,
    setbackC: 16,
    heatKwPerK: 3,
  },
  default: {
    baseKw: 2,
    occupiedKw: 8,
    lightsKw: 2,
    waterM3h: 0.2,
    comfortC: 20,
    setbackC: 16,
    heatKwPerK: 4,
  },
};

/** A leak as a technician finds it on the night curve: 120 l/h that never stops. */
export const LEAK_M3H = 0.12;
export const PREHEAT_MS = 2 * HOUR;
/** How fast an unheated building cools towards its setback temperature. */
export const COOLING_TAU_MS = 3 * HOUR;
/** Lights go on before opening and off after closing (cleaning, staff). */
export const LIGHTS_MARGIN_MS = 30 * MINUTE;
export const FLOOD_RISE_M = 2.5;
export const FLOOD_RAMP_MS = 20 * MINUTE;

// ---------------------------------------------------------------------------------------------------------
// Pure functions of time

/** The noise stream of the weather, shared by every building of a territory. */
export function weatherKey(seed: number): number {
  return hashText('weather', seed);
}

/** Day of the year (0-365, fractional) in UTC. */
export function dayOfYear(time: number): number {
  const year = new Date(time).getUTCFullYear();
  return (time - Date.UTC(year, 0, 1)) / DAY;
}

/**
 * Outdoor air temperature in Metz (°C): seasonal (about 1.5 °C mid-January, 19.5 °C late July), diurnal
 * (coolest before dawn, warmest mid-afternoon, solar time from the longitude) and smooth weather noise.
 */
export function outdoorTemperature(time: number, lon: number, weatherKey: number): number {
  const season = Math.cos((2 * Math.PI * (dayOfYear(time) - 15)) / YEAR_DAYS);
  const seasonal = 10.5 - 9 * season;
  const diurnalAmplitude = 4 - season;
  const solarHour = (((time / HOUR + lon / 15) % 24) + 24) % 24;
  const diurnal = diurnalAmplitude * Math.cos((2 * Math.PI * (solarHour - 15)) / 24);
  const weather =
    2.5 * smoothNoise(weatherKey, time, 6 * HOUR) +
    0.7 * smoothNoise(weatherKey ^ 0x5bd1e995, time, 90 * MINUTE);
  return seasonal + diurnal + weather;
}

/** Illuminance (lux) from the sun's altitude: daylight, civil twilight, night; clouds dim it by up to 90 %. */
export function sunLux(time: number, lat: number, lon: number, cloudKey: number): number {
  // suncalc 2 gives the altitude in degrees.
  const degrees = SunCalc.getPosition(new Date(time), lat, lon).altitude;
  const clear = 0.55 + 0.45 * smoothNoise(cloudKey, time, 2 * HOUR);
  if (degrees >= 0) return (400 + 100_000 * Math.pow(Math.sin((degrees * Math.PI) / 180), 1.15)) * clear;
  if (degrees > -6) return 400 * Math.pow(10, degrees / 2) * clear;
  return 0;
}

/** A river level (m) with a winter high, slow variation and, when flooding, a rise over FLOOD_RAMP_MS. */
export function riverLevel(time: number, key: number, floodSince: number | undefined): number {
  const seasonal = 0.5 * Math.cos((2 * Math.PI * (dayOfYear(time) - 45)) / YEAR_DAYS);
  const slow = 0.25 * smoothNoise(key, time, DAY) + 0.05 * smoothNoise(key ^ 0x27d4eb2d, time, 2 * HOUR);
  const flood =
    floodSince === undefined
      ? 0
      : FLOOD_RISE_M * Math.min(1, Math.max(0, (time - floodSince) / FLOOD_RAMP_MS));
  return 1.8 + seasonal + slow + flood;
}

/**
 * When a building is open, from its opening hours and closed dates, in the site's time zone. Opening
 * intervals are computed once per local day and cached; the answers depend on time and configuration only.
 */
export class OpeningSchedule {
  private readonly zone: IANAZone;
  private readonly offsets = new Map<number, number>();
  private readonly days = new Map<number, [number, number][]>();

  constructor(
    private readonly building: Pick<BuildingConfig, 'opening_hours' | 'closed_dates'>,
    timezone: string,
  ) {
    this.zone = IANAZone.create(timezone);
  }

  get neverOpen(): boolean {
    return this.building.opening_hours.length === 0;
  }

  isOpen(time: number): boolean {
    const day = this.localDay(time);
    return [day - 1, day].some((d) => this.intervals(d).some(([start, end]) => time >= start && time < end));
  }

  /** The next opening after `time`, looking `horizonMs` ahead at most. */
  nextOpening(time: number, horizonMs: number): number | undefined {
    const day = this.localDay(time);
    let best: number | undefined;
    for (let d = day; d <= day + Math.ceil(horizonMs / DAY) + 1; d++)
      for (const [start] of this.intervals(d))
        if (start > time && start - time <= horizonMs && (best === undefined || start < best)) best = start;
    return best;
  }

  /** The last closing at or before `time`, looking `horizonMs` back at most. */
  lastClosing(time: number, horizonMs: number): number | undefined {
    const day = this.localDay(time);
    let best: number | undefined;
    for (let d = day - Math.ceil(horizonMs / DAY) - 1; d <= day; d++)
      for (const [, end] of this.intervals(d))
        if (end <= time && time - end <= horizonMs && (best === undefined || end > best)) best = end;
    return best;
  }

  /** Days since 1970-01-01 in local time. */
  private localDay(time: number): number {
    const hour = Math.floor(time / HOUR);
    let offset = this.offsets.get(hour);
    if (offset === undefined) {
      if (this.offsets.size > 10_000) this.offsets.clear();
      offset = this.zone.offset(time);
      this.offsets.set(hour, offset);
    }
    return Math.floor((time + offset * MINUTE) / DAY);
  }

  private intervals(day: number): [number, number][] {
    let list = this.days.get(day);
    if (list) return list;
    if (this.days.size > 1000) this.days.clear();
    list = [];
    const date = new Date(day * DAY);
    const iso = date.toISOString().slice(0, 10);
    const closed = this.building.closed_dates.some((c) => c === iso || c === iso.slice(5));
    const weekday = WEEKDAYS[date.getUTCDay()];
    if (!closed) {
      for (const entry of this.building.opening_hours) {
        if (!entry.days.includes(weekday)) continue;
        const start = this.at(date, entry.from, 0);
        // A period ending at or before its start crosses midnight.
        const end = this.at(date, entry.to, entry.to <= entry.from ? 1 : 0);
        list.push([start, end]);
      }
    }
    this.days.set(day, list);
    return list;
  }

  private at(date: Date, clock: string, plusDays: number): number {
    const [hour, minute] = clock.split(':').map(Number);
    return DateTime.fromObject(
      {
        year: date.getUTCFullYear(),
        month: date.getUTCMonth() + 1,
        day: date.getUTCDate() + plusDays,
        hour,
        minute,
      },
      { zone: this.zone },
    ).toMillis();
  }
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/**
 * Temperature the heating holds (°C): comfort while open, a linear preheat over PREHEAT_MS before opening,
 * then an exponential fall towards the setback temperature after closing.
 */
export function heatedTemperature(
  schedule: OpeningSchedule,
  time: number,
  comfortC: number,
  setbackC: number,
): number {
  if (schedule.isOpen(time)) return comfortC;
  let fraction = 0;
  const next = schedule.nextOpening(time, PREHEAT_MS);
  if (next !== undefined) fraction = 1 - (next - time) / PREHEAT_MS;
  const last = schedule.lastClosing(time, 4 * DAY);
  if (last !== undefined) fraction = Math.max(fraction, Math.exp(-(time - last) / COOLING_TAU_MS));
  return setbackC + (comfortC - setbackC) * fraction;
}

/** Unit conversions from the model's units (kWh, kW, m³, m³/h) to the ones a point declares. */
const UNIT_FACTORS: Record<string, Record<string, number>> = {
  electricity: { kWh: 1, Wh: 1000, MWh: 0.001 },
  heat: { kWh: 1, Wh: 1000, MWh: 0.001 },
  power: { kW: 1, W: 1000, MW: 0.001 },
  water: { 'm³': 1, m3: 1, L: 1000, l: 1000 },
  gas: { 'm³': 1, m3: 1 },
  water_flow: { 'm³/h': 1, 'm3/h': 1, 'L/h': 1000, 'l/h': 1000, 'L/min': 1000 / 60, 'l/min': 1000 / 60 },
};

function unitFactor(point: PointConfig): number {
  return UNIT_FACTORS[point.quantity]?.[point.unit] ?? 1;
}

/** The value at which a meter wraps: configured, or the range of its integer register times its scale. */
export function rolloverOf(point: PointConfig): number | undefined {
  if (point.rollover !== undefined) return point.rollover;
  const binding = point.modbus;
  const range = binding && integerRange(binding.type);
  if (!binding || !range || binding.type === 'bool') return undefined;
  const span = binding.type.startsWith('uint') ? range[1] + 1 : 2 ** (16 * registerCount(binding.type) - 1);
  return span * binding.scale;
}

// ---------------------------------------------------------------------------------------------------------
// The stateful part: meters and faults

interface MeterState {
  index: number;
  at: number;
}

interface BuildingState {
  config: BuildingConfig;
  profile: KindProfile;
  schedule: OpeningSchedule;
  lat: number;
  lon: number;
  key: number;
  faults: Record<BuildingFault, boolean>;
  floodSince?: number;
  points: Map<string, PointConfig>;
  meters: Map<string, MeterState>;
}

export interface PointSnapshot {
  id: string;
  quantity: string;
  unit: string;
  measurement: 'sensor' | 'meter';
  value: number | boolean;
}

export interface BuildingSnapshot {
  id: string;
  faults: Record<BuildingFault, boolean>;
  points: PointSnapshot[];
}

export class BuildingModel {
  private readonly buildings = new Map<string, BuildingState>();
  private readonly weatherKey: number;

  constructor(
    config: Pick<Config, 'buildings' | 'site'>,
    private readonly clock: Clock,
    seed: number,
  ) {
    this.weatherKey = weatherKey(seed);
    const now = clock.now();
    for (const building of config.buildings) {
      const key = hashText(building.id, seed);
      const state: BuildingState = {
        config: building,
        profile: PROFILES[building.kind] ?? PROFILES.default,
        schedule: new OpeningSchedule(building, config.site.timezone),
        lat: building.location?.lat ?? config.site.location.lat,
        lon: building.location?.lon ?? config.site.location.lon,
        key,
        faults: { leak: false, lights_forgotten: false, door: false, flood: false },
        points: new Map(building.points.map((p) => [p.id, p])),
        meters: new Map(),
      };
      for (const point of building.points)
        if (point.measurement === 'meter')
          state.meters.set(point.id, { index: initialIndex(point, hashText(point.id, key)), at: now });
      this.buildings.set(building.id, state);
    }
  }

  has(buildingId: string, pointId?: string): boolean {
    const building = this.buildings.get(buildingId);
    return building !== undefined && (pointId === undefined || building.points.has(pointId));
  }

  /** The value a point reads now, in its unit (before any Modbus scaling). */
  value(buildingId: string, pointId: string): number | boolean {
    const building = this.building(buildingId);
    const point = building.points.get(pointId);
    if (!point) throw new Error(`building '${buildingId}' has no point '${pointId}'`);
    const now = this.clock.now();
    if (point.measurement === 'meter') {
      const meter = this.advanceMeter(building, point, building.meters.get(point.id)!, now);
      const rollover = rolloverOf(point);
      return rollover === undefined ? meter.index : meter.index % rollover;
    }
    return this.instantaneous(building, point, now);
  }

  faults(buildingId: string): Record<BuildingFault, boolean> {
    return { ...this.building(buildingId).faults };
  }

  setFault(buildingId: string, fault: BuildingFault, on: boolean): void {
    const building = this.building(buildingId);
    // Meters have drawn at the old rate until now.
    this.advanceMeters(building);
    if (fault === 'flood' && on !== building.faults.flood)
      building.floodSince = on ? this.clock.now() : undefined;
    building.faults[fault] = on;
  }

  clearFaults(buildingId: string): void {
    for (const fault of BUILDING_FAULTS) this.setFault(buildingId, fault, false);
  }

  /** Resets the meters of a building (or one of them); returns the ids of the meters reset. */
  resetMeter(buildingId: string, mode: MeterResetMode, pointId?: string): string[] {
    const building = this.building(buildingId);
    const now = this.clock.now();
    const points = [...building.points.values()].filter(
      (p) => p.measurement === 'meter' && (pointId === undefined || p.id === pointId),
    );
    if (pointId !== undefined && points.length === 0)
      throw new Error(`building '${buildingId}' has no meter point '${pointId}'`);
    if (points.length === 0) throw new Error(`building '${buildingId}' has no meter point`);
    const rollovers = points.map((point) => {
      const rollover = rolloverOf(point);
      if (mode === 'rollover' && rollover === undefined)
        throw new Error(
          `point '${buildingId}/${point.id}' has no rollover value: set 'rollover' in its configuration`,
        );
      return rollover;
    });
    points.forEach((point, i) => {
      const meter = this.advanceMeter(building, point, building.meters.get(point.id)!, now);
      if (mode === 'reset') {
        meter.index = 0;
        return;
      }
      const rollover = rollovers[i]!;
      // Ten steps of resolution below the wrap: the next few minutes of consumption cross it.
      const margin = Math.min(rollover / 100, 10 * (point.modbus?.scale ?? 0.01));
      const shown = meter.index % rollover;
      if (shown < rollover - margin) meter.index += rollover - margin - shown;
    });
    return points.map((p) => p.id);
  }

  snapshot(): BuildingSnapshot[] {
    return [...this.buildings.keys()].map((id) => this.snapshotOf(id));
  }

  snapshotOf(buildingId: string): BuildingSnapshot {
    const building = this.building(buildingId);
    return {
      id: buildingId,
      faults: { ...building.faults },
      points: building.config.points.map((point) => ({
        id: point.id,
        quantity: point.quantity,
        unit: point.unit,
        measurement: point.measurement,
        value: this.value(buildingId, point.id),
      })),
    };
  }

  private building(buildingId: string): BuildingState {
    const building = this.buildings.get(buildingId);
    if (!building) throw new Error(`unknown building '${buildingId}'`);
    return building;
  }

  private advanceMeters(building: BuildingState): void {
    const now = this.clock.now();
    for (const [id, meter] of building.meters)
      this.advanceMeter(building, building.points.get(id)!, meter, now);
  }

  private advanceMeter(
    building: BuildingState,
    point: PointConfig,
    meter: MeterState,
    now: number,
  ): MeterState {
    const factor = unitFactor(point);
    const key = hashText(point.id, building.key);
    while (meter.at < now) {
      const stepStart = Math.floor(meter.at / METER_STEP_MS) * METER_STEP_MS;
      const end = Math.min(stepStart + METER_STEP_MS, now);
      meter.index += (this.meterRate(building, point, stepStart, key) * factor * (end - meter.at)) / HOUR;
      meter.at = end;
    }
    return meter;
  }

  /** Consumption per hour of a meter in the model's unit (kWh/h, m³/h), never negative. */
  private meterRate(building: BuildingState, point: PointConfig, time: number, key: number): number {
    switch (point.quantity) {
      case 'electricity':
        return this.powerKw(building, time);
      case 'water':
        return this.waterFlow(building, time);
      case 'heat':
        return this.heatKw(building, time);
      case 'gas':
        // About 10.5 kWh per m³ of natural gas.
        return this.heatKw(building, time) / 10.5;
      default:
        return 1 + 0.5 * smoothNoise(key, time, HOUR);
    }
  }

  private instantaneous(building: BuildingState, point: PointConfig, time: number): number | boolean {
    const key = hashText(point.id, building.key);
    const factor = unitFactor(point);
    switch (point.quantity) {
      case 'temperature':
        return this.indoorTemperature(building, time, key);
      case 'power':
        return this.powerKw(building, time) * factor;
      case 'water_flow':
        return this.waterFlow(building, time) * factor;
      case 'lights_on':
        return this.lightsOn(building, time);
      case 'door_open':
        return building.faults.door;
      case 'water_level':
        return riverLevel(time, key, building.floodSince);
      case 'voltage':
        return 230 + 2.5 * smoothNoise(key, time, 10 * MINUTE) + 0.8 * smoothNoise(key ^ 1, time, MINUTE);
      case 'water_temperature':
        return building.config.kind === 'pool'
          ? 27 + 0.3 * smoothNoise(key, time, 3 * HOUR)
          : 12.5 -
              8 * Math.cos((2 * Math.PI * (dayOfYear(time) - 30)) / YEAR_DAYS) +
              0.6 * smoothNoise(key, time, DAY);
      case 'lux':
        return sunLux(time, building.lat, building.lon, this.weatherKey ^ 0x68e31da4);
      default:
        // Anything else: a bounded, smooth random walk between 5 and 95.
        return 50 + 35 * smoothNoise(key, time, HOUR) + 10 * smoothNoise(key ^ 2, time, 7 * MINUTE);
    }
  }

  private outdoor(building: BuildingState, time: number): number {
    return outdoorTemperature(time, building.lon, this.weatherKey);
  }

  private indoorTemperature(building: BuildingState, time: number, key: number): number {
    const outdoor = this.outdoor(building, time);
    const noise = 0.2 * smoothNoise(key, time, 20 * MINUTE);
    // A building never in use (a street cabinet) is not heated: outdoor air plus its electronics' heat.
    if (building.schedule.neverOpen) return outdoor + 4 + noise;
    const { comfortC, setbackC } = building.profile;
    const heated = heatedTemperature(building.schedule, time, comfortC, setbackC);
    // Sun and people warm a building above what the heating holds in summer.
    const passive = 7 + 0.6 * outdoor;
    return Math.max(heated, passive) + noise;
  }

  private lightsOn(building: BuildingState, time: number): boolean {
    if (building.faults.lights_forgotten) return true;
    const schedule = building.schedule;
    return (
      schedule.isOpen(time) ||
      schedule.isOpen(time + LIGHTS_MARGIN_MS) ||
      schedule.isOpen(time - LIGHTS_MARGIN_MS)
    );
  }

  private powerKw(building: BuildingState, time: number): number {
    const { baseKw, occupiedKw, lightsKw } = building.profile;
    const noise = smoothNoise(building.key ^ 3, time, 15 * MINUTE);
    const open = building.schedule.isOpen(time) ? occupiedKw * (0.85 + 0.15 * noise) : 0;
    const lights = this.lightsOn(building, time) ? lightsKw : 0;
    return baseKw * (1 + 0.1 * noise) + open + lights;
  }

  private waterFlow(building: BuildingState, time: number): number {
    const drawn = building.schedule.isOpen(time)
      ? building.profile.waterM3h * (0.7 + 0.3 * smoothNoise(building.key ^ 4, time, 10 * MINUTE))
      : 0;
    return drawn + (building.faults.leak ? LEAK_M3H : 0);
  }

  private heatKw(building: BuildingState, time: number): number {
    const { comfortC, setbackC, heatKwPerK } = building.profile;
    const target = building.schedule.neverOpen
      ? setbackC
      : heatedTemperature(building.schedule, time, comfortC, setbackC);
    return heatKwPerK * Math.max(0, target - this.outdoor(building, time));
  }
}

/** A plausible index for a meter that has been in service for years, different for every meter and seed. */
function initialIndex(point: PointConfig, key: number): number {
  const u = hashUnit(key, 0);
  const factor = unitFactor(point);
  switch (point.quantity) {
    case 'electricity':
      return (20_000 + 160_000 * u) * factor;
    case 'water':
      return (500 + 7_500 * u) * factor;
    case 'heat':
      return (50_000 + 450_000 * u) * factor;
    case 'gas':
      return (10_000 + 90_000 * u) * factor;
    default:
      return 1_000 + 9_000 * u;
  }
}
