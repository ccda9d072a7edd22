import { ManualClock } from '../../../core/clock';
import { Building } from '../../../config/schema/energy';
import type { BuildingConfig, Config } from '../../../config/schema';
import {
  BuildingModel,
  LEAK_M3H,
  OpeningSchedule,
  heatedTemperature,
  outdoorTemperature,
  sunLux,
  weatherKey,
} from '../../../simulators/buildings';
import { seededRandom } from '../../../simulators/random';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const TZ = 'Europe/Paris';
/** Monday 19 January 2026, midnight in Paris (UTC+1). */
const MONDAY = Date.UTC(2026, 0, 18, 23, 0, 0);
const at = (day: number, hour: number, minute = 0): number =>
  MONDAY + day * 24 * HOUR + hour * HOUR + minute * MINUTE;

const school: BuildingConfig = Building.parse({
  id: 'ecole',
  commune: 'metz',
  kind: 'school',
  opening_hours: [
    { days: ['mon', 'tue', 'thu', 'fri'], from: '08:00', to: '17:30' },
    { days: ['wed'], from: '08:00', to: '12:00' },
  ],
  closed_dates: ['2026-01-22', '12-25'],
  points: [
    {
      id: 'classe',
      measurement: 'sensor',
      quantity: 'temperature',
      unit: '°C',
      device: 'bms',
      opcua: { node_id: 'ns=1;s=a' },
    },
    {
      id: 'eclairage',
      measurement: 'sensor',
      quantity: 'lights_on',
      device: 'bms',
      opcua: { node_id: 'ns=1;s=b' },
    },
    {
      id: 'electricite',
      measurement: 'meter',
      quantity: 'electricity',
      unit: 'kWh',
      device: 'gw',
      modbus: { address: 0, type: 'uint32', scale: 0.1 },
    },
    {
      id: 'puissance',
      measurement: 'sensor',
      quantity: 'power',
      unit: 'kW',
      device: 'gw',
      modbus: { address: 2, type: 'float32' },
    },
    {
      id: 'eau',
      measurement: 'meter',
      quantity: 'water',
      unit: 'm³',
      device: 'gw',
      modbus: { address: 4, type: 'uint32', scale: 0.001 },
    },
    {
      id: 'debit',
      measurement: 'sensor',
      quantity: 'water_flow',
      unit: 'm³/h',
      device: 'gw',
      modbus: { table: 'input', address: 0, type: 'int16', scale: 0.01 },
    },
    {
      id: 'petit-compteur',
      measurement: 'meter',
      quantity: 'electricity',
      unit: 'kWh',
      device: 'gw',
      rollover: 1000,
      modbus: { address: 10, type: 'uint32', scale: 0.1 },
    },
    {
      id: 'co2',
      measurement: 'sensor',
      quantity: 'co2',
      unit: 'ppm',
      device: 'bms',
      opcua: { node_id: 'ns=1;s=c' },
    },
  ],
});
const station: BuildingConfig = Building.parse({
  id: 'moselle',
  commune: 'metz',
  kind: 'river_station',
  points: [
    {
      id: 'niveau',
      measurement: 'sensor',
      quantity: 'water_level',
      unit: 'm',
      device: 'gw',
      modbus: { table: 'input', address: 0, type: 'int16', scale: 0.01 },
    },
    {
      id: 'porte',
      measurement: 'sensor',
      quantity: 'door_open',
      device: 'gw',
      modbus: { table: 'discrete', address: 0, type: 'bool' },
    },
    {
      id: 'armoire',
      measurement: 'sensor',
      quantity: 'temperature',
      unit: '°C',
      device: 'gw',
      modbus: { table: 'input', address: 10, type: 'int16', scale: 0.1 },
    },
  ],
});
const site = { name: 'test', timezone: TZ, location: { lat: 49.1193, lon: 6.1757 } };
const config = { site, buildings: [school, station] } as Pick<Config, 'buildings' | 'site'>;

function model(start = MONDAY, seed = 7): { clock: ManualClock; model: BuildingModel } {
  const clock = new ManualClock(start);
  return { clock, model: new BuildingModel(config, clock, seed) };
}

describe('opening schedule', () => {
  const schedule = new OpeningSchedule(school, TZ);

  it('follows opening hours by weekday in the site time zone', () => {
    expect(schedule.isOpen(at(0, 7, 59))).toBe(false);
    expect(schedule.isOpen(at(0, 8, 0))).toBe(true);
    expect(schedule.isOpen(at(0, 17, 29))).toBe(true);
    expect(schedule.isOpen(at(0, 17, 30))).toBe(false);
    expect(schedule.isOpen(at(2, 13))).toBe(false); // Wednesday afternoon
    expect(schedule.isOpen(at(5, 10))).toBe(false); // Saturday
  });

  it('stays closed on closed dates, dated or every year', () => {
    expect(schedule.isOpen(at(3, 10))).toBe(false); // Thursday 22 January 2026
    const christmas = new OpeningSchedule(school, TZ);
    expect(christmas.isOpen(Date.UTC(2025, 11, 25, 9))).toBe(false); // a Thursday
    expect(christmas.isOpen(Date.UTC(2025, 11, 23, 9))).toBe(true); // the Tuesday before
  });

  it('handles a period that crosses midnight', () => {
    const club = new OpeningSchedule(
      { opening_hours: [{ days: ['fri'], from: '22:00', to: '02:00' }], closed_dates: [] },
      TZ,
    );
    expect(club.isOpen(at(4, 23))).toBe(true);
    expect(club.isOpen(at(5, 1, 30))).toBe(true);
    expect(club.isOpen(at(5, 2, 30))).toBe(false);
    expect(club.isOpen(at(5, 23))).toBe(false);
  });

  it('finds the next opening and the last closing', () => {
    expect(schedule.nextOpening(at(0, 7), 2 * HOUR)).toBe(at(0, 8));
    expect(schedule.nextOpening(at(0, 5), 2 * HOUR)).toBeUndefined();
    expect(schedule.lastClosing(at(0, 20), 24 * HOUR)).toBe(at(0, 17, 30));
  });
});

describe('heating', () => {
  const schedule = new OpeningSchedule(school, TZ);

  it('holds comfort while open, preheats linearly before opening, sets back at night and at the weekend', () => {
    expect(heatedTemperature(schedule, at(0, 10), 20, 16)).toBe(20);
    expect(heatedTemperature(schedule, at(0, 3), 20, 16)).toBeCloseTo(16, 1);
    expect(heatedTemperature(schedule, at(0, 7), 20, 16)).toBeCloseTo(18, 6);
    expect(heatedTemperature(schedule, at(0, 18, 30), 20, 16)).toBeLessThan(20);
    expect(heatedTemperature(schedule, at(0, 18, 30), 20, 16)).toBeGreaterThan(18);
    expect(heatedTemperature(schedule, at(5, 12), 20, 16)).toBeCloseTo(16, 1);
  });

  it('gives room temperatures of a heated school in January around its schedule', () => {
    const { clock, model: m } = model(at(0, 3));
    expect(m.value('ecole', 'classe')).toBeCloseTo(16, 0);
    clock.set(at(0, 10));
    expect(m.value('ecole', 'classe')).toBeCloseTo(20, 0);
    clock.set(at(3, 10)); // closed date
    expect(m.value('ecole', 'classe') as number).toBeLessThan(17);
  });

  it('leaves an enclosure that is never in use unheated: outdoor air plus a few degrees', () => {
    const { model: m } = model(at(0, 3));
    const outdoor = outdoorTemperature(at(0, 3), site.location.lon, weatherKey(7));
    expect(m.value('moselle', 'armoire')).toBeCloseTo(outdoor + 4, 0);
  });
});

describe('outdoor temperature and daylight', () => {
  it('is colder in January than in July, colder before dawn than mid-afternoon, and smooth', () => {
    const mean = (month: number): number => {
      let sum = 0;
      for (let d = 0; d < 28; d++)
        for (let h = 0; h < 24; h++) sum += outdoorTemperature(Date.UTC(2026, month, 1 + d, h), 6.17, 1);
      return sum / (28 * 24);
    };
    expect(mean(0)).toBeLessThan(5);
    expect(mean(6)).toBeGreaterThan(15);
    let dawn = 0;
    let afternoon = 0;
    for (let d = 0; d < 60; d++) {
      dawn += outdoorTemperature(Date.UTC(2026, 3, 1 + d, 4), 6.17, 1);
      afternoon += outdoorTemperature(Date.UTC(2026, 3, 1 + d, 14), 6.17, 1);
    }
    expect(afternoon - dawn).toBeGreaterThan(60 * 4);
    for (let t = Date.UTC(2026, 3, 1); t < Date.UTC(2026, 3, 3); t += MINUTE)
      expect(Math.abs(outdoorTemperature(t + MINUTE, 6.17, 1) - outdoorTemperature(t, 6.17, 1))).toBeLessThan(
        0.05,
      );
  });

  it('gives daylight at noon, darkness at night, from the sun altitude', () => {
    expect(sunLux(Date.UTC(2026, 5, 21, 11, 30), 49.12, 6.18, 3)).toBeGreaterThan(10_000);
    expect(sunLux(Date.UTC(2026, 5, 21, 23, 30), 49.12, 6.18, 3)).toBe(0);
  });
});

describe('meters and faults', () => {
  it('keeps every meter index monotonic', () => {
    const { clock, model: m } = model();
    let previous = { electricity: -1, water: -1 };
    const random = seededRandom(42);
    for (let i = 0; i < 2000; i++) {
      clock.advance(Math.floor(random() * 10 * MINUTE));
      const now = {
        electricity: m.value('ecole', 'electricite') as number,
        water: m.value('ecole', 'eau') as number,
      };
      expect(now.electricity).toBeGreaterThanOrEqual(previous.electricity);
      expect(now.water).toBeGreaterThanOrEqual(previous.water);
      previous = now;
    }
  });

  it('draws electricity and water while the school is open', () => {
    const { clock, model: m } = model(at(0, 9));
    const electricity = m.value('ecole', 'electricite') as number;
    const water = m.value('ecole', 'eau') as number;
    clock.advance(2 * HOUR);
    // At least the occupied load for two hours, and water at no less than 40 % of the school's draw.
    expect((m.value('ecole', 'electricite') as number) - electricity).toBeGreaterThan(2 * 16 * 0.7);
    expect((m.value('ecole', 'eau') as number) - water).toBeGreaterThan(2 * 0.5 * 0.4);
  });

  it('shows a leak as a constant night flow, in the flow and in the index', () => {
    const { clock, model: m } = model(at(0, 0));
    const night = (): number => {
      const start = m.value('ecole', 'eau') as number;
      clock.advance(4 * HOUR);
      return (m.value('ecole', 'eau') as number) - start;
    };
    expect(m.value('ecole', 'debit')).toBe(0);
    expect(night()).toBeCloseTo(0, 9);
    clock.set(at(1, 0));
    m.setFault('ecole', 'leak', true);
    expect(m.value('ecole', 'debit')).toBeCloseTo(LEAK_M3H, 9);
    expect(night()).toBeCloseTo(4 * LEAK_M3H, 6);
    m.setFault('ecole', 'leak', false);
    expect(m.value('ecole', 'debit')).toBe(0);
  });

  it('keeps the lights on at night when they are forgotten, and draws their power', () => {
    const { model: m } = model(at(0, 23));
    const power = m.value('ecole', 'puissance') as number;
    expect(m.value('ecole', 'eclairage')).toBe(false);
    m.setFault('ecole', 'lights_forgotten', true);
    expect(m.value('ecole', 'eclairage')).toBe(true);
    expect(m.value('ecole', 'puissance') as number).toBeGreaterThan(power + 3);
  });

  it('opens the door and raises the river on demand', () => {
    const { clock, model: m } = model(at(0, 12));
    expect(m.value('moselle', 'porte')).toBe(false);
    m.setFault('moselle', 'door', true);
    expect(m.value('moselle', 'porte')).toBe(true);
    const level = m.value('moselle', 'niveau') as number;
    expect(level).toBeGreaterThan(0.5);
    expect(level).toBeLessThan(3.5);
    m.setFault('moselle', 'flood', true);
    clock.advance(30 * MINUTE);
    expect((m.value('moselle', 'niveau') as number) - level).toBeGreaterThan(2);
  });

  it('resets a meter to zero, or takes it across its rollover value', () => {
    const { clock, model: m } = model(at(0, 9));
    expect(m.resetMeter('ecole', 'reset', 'electricite')).toEqual(['electricite']);
    expect(m.value('ecole', 'electricite')).toBe(0);
    clock.advance(HOUR);
    expect(m.value('ecole', 'electricite') as number).toBeGreaterThan(5);

    m.resetMeter('ecole', 'rollover', 'petit-compteur');
    const before = m.value('ecole', 'petit-compteur') as number;
    expect(before).toBeGreaterThan(998);
    expect(before).toBeLessThan(1000);
    clock.advance(HOUR);
    expect(m.value('ecole', 'petit-compteur') as number).toBeLessThan(100);
    expect(() => m.resetMeter('ecole', 'reset', 'classe')).toThrow(
      "building 'ecole' has no meter point 'classe'",
    );
  });

  it('takes a meter with no configured rollover across the wrap of its register type', () => {
    const { model: m } = model(at(0, 9));
    m.resetMeter('ecole', 'rollover', 'electricite');
    // uint32 with scale 0.1: the register wraps at 2^32 × 0.1 kWh.
    expect(m.value('ecole', 'electricite') as number).toBeGreaterThan(2 ** 32 * 0.1 - 2);
  });

  it('walks an unknown quantity smoothly within bounds', () => {
    const { clock, model: m } = model();
    let previous = m.value('ecole', 'co2') as number;
    for (let i = 0; i < 2000; i++) {
      clock.advance(MINUTE);
      const value = m.value('ecole', 'co2') as number;
      expect(value).toBeGreaterThanOrEqual(5);
      expect(value).toBeLessThanOrEqual(95);
      expect(Math.abs(value - previous)).toBeLessThan(5);
      previous = value;
    }
  });

  it('gives the same values for the same seed and times, other values for another seed', () => {
    const a = model(MONDAY, 11);
    const b = model(MONDAY, 11);
    const c = model(MONDAY, 12);
    for (const step of [0, 7 * MINUTE, 3 * HOUR, 26 * HOUR]) {
      for (const x of [a, b, c]) x.clock.advance(step);
      expect(b.model.snapshot()).toEqual(a.model.snapshot());
    }
    expect(c.model.value('ecole', 'electricite')).not.toEqual(a.model.value('ecole', 'electricite'));
  });
});
