import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import { LastYearLighting } from '../../../controller/evaluation/lastYear';
import { OfficialsBoard } from '../../../controller/http/officials';
import type { LuminaireView } from '../../../controller/lighting/runtime/lightingService';
import type { Actor } from '../../../controller/scope';
import { InfluxQueryClient } from '../../../drivers/influx/query';
import { startInflux, type InfluxHarness } from '../../helpers/influxd';
import { writeLines } from '../../helpers/telemetryFixture';
import { InTestServices } from '../../unit/api/inTestServices';
import { energyConfig } from '../../unit/energy/fixtures';

/**
 * « Ma commune »: this month's lighting against the same period last year, read from a real influxd
 * holding known `lighting` counters of December 2025 (Europe/Paris, UTC+1), worked out by hand below.
 */

const utc = (text: string): number => Date.parse(`${text}Z`);
const ADMIN: Actor = { user: 'admin', role: 'admin', communes: ['*'], via: 'api', from: '127.0.0.1' };

const config = energyConfig([], {
  tariffs: [
    { quantity: 'electricity', unit: 'kWh', eur_per_unit: 0.2, from: '2025-01-01' },
    { quantity: 'electricity', unit: 'kWh', eur_per_unit: 0.25, from: '2026-01-01' },
  ],
});

/**
 * Metz, from 1 December 2025 12:00 to 4 December 13:00 Paris (11:00 and 12:00 UTC), hour by hour:
 *   rue-001: 1000 Wh on 30 Nov (before the month), 1500 on 1 Dec (+500), 2700 on 3 Dec (+1200),
 *            3000 at 11:30 UTC on 4 Dec (+300, its hour starts at 11:00 UTC: counted),
 *            3400 at 12:30 UTC (+400, its hour starts at 12:00 UTC: not yet), 5000 on 20 Dec (+1600, later);
 *   rue-002: 100 then 350 on 2 Dec (+250), a restart of the counter to 50 (no energy), then 150 (+100).
 * So 500 + 1200 + 300 + 250 + 100 = 2350 Wh = 2.35 kWh: 0.5875 € at today's 0.25 €/kWh (not 2025's 0.20:
 * as in the monthly report, the € saved measure energy, not a change of price).
 * Woippy has lighting energy in November 2025 only: nothing to compare December with.
 */
function lastYearPoints(): string[] {
  const lighting = (commune: string, luminaire: string, wh: number, at: number): string =>
    `lighting,commune=${commune},luminaire=${luminaire},zone=rue energy_wh=${wh} ${at}`;
  return [
    lighting('metz', 'rue-001', 1000, utc('2025-11-30T22:30:00')),
    lighting('metz', 'rue-001', 1500, utc('2025-12-01T17:30:00')),
    lighting('metz', 'rue-001', 2700, utc('2025-12-03T05:30:00')),
    lighting('metz', 'rue-001', 3000, utc('2025-12-04T11:30:00')),
    lighting('metz', 'rue-001', 3400, utc('2025-12-04T12:30:00')),
    lighting('metz', 'rue-001', 5000, utc('2025-12-20T18:00:00')),
    lighting('metz', 'rue-002', 100, utc('2025-12-02T18:00:00')),
    lighting('metz', 'rue-002', 350, utc('2025-12-02T19:00:00')),
    lighting('metz', 'rue-002', 50, utc('2025-12-03T18:00:00')),
    lighting('metz', 'rue-002', 150, utc('2025-12-03T19:00:00')),
    lighting('woippy', 'w-001', 0, utc('2025-11-10T18:00:00')),
    lighting('woippy', 'w-001', 800, utc('2025-11-10T19:00:00')),
  ];
}

describe('the officials’ page against the same period last year, from a real influxd', () => {
  let influx: InfluxHarness;
  let reader: InfluxQueryClient;

  beforeAll(async () => {
    influx = await startInflux({ database: 'nocturne' });
    reader = new InfluxQueryClient({ url: influx.url, bucket: influx.database });
    await writeLines(influx, lastYearPoints());
  }, 120_000);

  afterAll(async () => {
    reader?.close();
    await influx?.stop();
  });

  /** The board over in-test services whose Metz luminaire has counted `energy.wh` so far. */
  function board(clock: ManualClock, withInflux: boolean): { board: OfficialsBoard; energy: { wh: number } } {
    const energy = { wh: 10_000 };
    const services = new InTestServices();
    const zoneOf = services.lighting.zone.bind(services.lighting);
    services.lighting.zone = (id, actor) => ({
      ...zoneOf(id, actor),
      luminaireStates: [{ id: 'rue-001', level: 50, energyWh: energy.wh } as LuminaireView],
    });
    const lastYear = withInflux
      ? new LastYearLighting({ reader, timeZone: 'Europe/Paris', clock, logger: silentLogger })
      : undefined;
    return { board: new OfficialsBoard(config, services, clock, lastYear), energy };
  }

  it('compares this month so far with the same dates and hours last year, in kWh and €', async () => {
    // 1 December 12:00 Paris, the first night of the month (nights run from noon): the count starts.
    const clock = new ManualClock(utc('2026-12-01T11:00:00'));
    const { board: officials, energy } = board(clock, true);
    await officials.view('metz', ADMIN);
    clock.set(utc('2026-12-04T12:00:00')); // 4 December 13:00 Paris
    energy.wh = 11_000; // 1 kWh this month, at 0.25 €/kWh
    const view = await officials.view('metz', ADMIN);
    expect(view.energy.since).toBe(utc('2026-12-01T11:00:00'));
    expect(view.energy.kWh).toBeCloseTo(1, 9);
    expect(view.energy.eur).toBeCloseTo(0.25, 9);
    expect(view.energy.lastYear).toEqual({
      kWh: expect.closeTo(2.35, 9) as number,
      eur: expect.closeTo(0.5875, 9) as number,
      to: utc('2025-12-04T12:00:00'),
    });
    expect(view.energy.savedKWh).toBeCloseTo(1.35, 9);
    expect(view.energy.savedEur).toBeCloseTo(0.3375, 9); // 1.35 kWh × 0.25 €
  });

  it('reads last year once a day: a late import shows the next day', async () => {
    const clock = new ManualClock(utc('2026-12-01T11:00:00'));
    const { board: officials } = board(clock, true);
    await officials.view('metz', ADMIN);
    clock.set(utc('2026-12-04T12:00:00'));
    expect((await officials.view('metz', ADMIN)).energy.lastYear?.kWh).toBeCloseTo(2.35, 9);
    // Imported late: rue-003 on 2 December 2025, +1000 Wh.
    await writeLines(influx, [
      `lighting,commune=metz,luminaire=rue-003,zone=rue energy_wh=0 ${utc('2025-12-02T10:00:00')}`,
      `lighting,commune=metz,luminaire=rue-003,zone=rue energy_wh=1000 ${utc('2025-12-02T11:00:00')}`,
    ]);
    clock.set(utc('2026-12-04T22:00:00')); // 23:00 Paris, the same day: 2.35 + rue-001's 12:00 UTC hour
    expect((await officials.view('metz', ADMIN)).energy.lastYear?.kWh).toBeCloseTo(2.75, 9);
    clock.set(utc('2026-12-05T12:00:00')); // the next day: rue-003 too
    expect((await officials.view('metz', ADMIN)).energy.lastYear?.kWh).toBeCloseTo(3.75, 9);
  });

  it('says « non disponible » (null) without records of last year’s month, and without InfluxDB', async () => {
    const clock = new ManualClock(utc('2026-12-04T12:00:00'));
    const woippy = await board(clock, true).board.view('woippy', ADMIN);
    expect(woippy.energy).toMatchObject({ lastYear: null, savedKWh: null, savedEur: null });
    const none = await board(clock, false).board.view('metz', ADMIN);
    expect(none.energy).toMatchObject({ lastYear: null, savedKWh: null, savedEur: null });
  });
});
