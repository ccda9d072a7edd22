import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ManualClock } from '../../../core/clock';
import { ReportGatherer } from '../../../controller/evaluation/gather';
import { reportCsv } from '../../../controller/evaluation/format';
import { UsageLog } from '../../../controller/evaluation/usageLog';
import { PointCatalog } from '../../../controller/telemetry/points';
import type { Actor } from '../../../controller/scope';
import { InfluxQueryClient } from '../../../drivers/influx/query';
import { startInflux, type InfluxHarness } from '../../helpers/influxd';
import { writeLines } from '../../helpers/telemetryFixture';
import { energyConfig } from '../../unit/energy/fixtures';
import { silentLogger } from '../../../core/logger';

/**
 * The report's figures from a real influxd holding known points for November 2026 in Metz and Woippy
 * (Europe/Paris, UTC+1 in November), worked out by hand in the comments. The luminaires' confirmation
 * comes from a zones list as the lighting runtime gives it; usage from a real UsageLog whose points go
 * to the same influxd.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const utc = (text: string): number => Date.parse(`${text}Z`);
/** 2026-11-01T00:00 Paris. */
const FROM = utc('2026-10-31T23:00:00');
const TO = utc('2026-11-30T23:00:00');
const ADMIN: Actor = { user: 'admin', role: 'admin', communes: ['*'], via: 'api', from: '127.0.0.1' };

const config = energyConfig([], {
  tariffs: [
    { quantity: 'electricity', unit: 'kWh', eur_per_unit: 0.2, from: '2026-01-01' },
    { quantity: 'electricity', unit: 'kWh', eur_per_unit: 0.3, from: '2026-11-16' },
    { quantity: 'water', unit: 'm³', eur_per_unit: 2, from: '2025-01-01' },
    { quantity: 'water', unit: 'm³', eur_per_unit: 4, from: '2026-11-16' },
  ],
  emission_factors: [
    {
      quantity: 'electricity',
      unit: 'kWh',
      kg_co2e_per_unit: 0.1,
      from: '2020-01-01',
      source: 'test',
      year: 2020,
    },
  ],
  evaluation: {
    communes: [{ commune: 'metz', baseline: 'last-year' }],
    investments: [{ id: 'leds', commune: 'metz', description: 'LED', from: '2026-06-01', capex_eur: 1000 }],
  },
});

function knownPoints(): string[] {
  const lines: string[] = [];
  const lighting = (wh: number, at: number): void => {
    lines.push(`lighting,commune=metz,luminaire=rue-001,zone=rue energy_wh=${wh} ${at}`);
  };
  // This year: 2 kWh on 2 Nov, 0.5 on 20 Nov (0.30 €/kWh), then a restart (counter back to 100) and
  // 0.3 more on 21 Nov. Last year: 5 kWh on 5 Nov 2025.
  lighting(1000, utc('2026-10-31T22:30:00'));
  lighting(3000, utc('2026-11-02T19:30:00'));
  lighting(3500, utc('2026-11-20T19:30:00'));
  lighting(100, utc('2026-11-21T19:30:00'));
  lighting(400, utc('2026-11-21T20:30:00'));
  lighting(0, utc('2025-10-31T22:30:00'));
  lighting(5000, utc('2025-11-05T19:30:00'));
  const meter = (delta: number, at: number): void => {
    lines.push(
      `meter,building=ecole,commune=metz,kind=water,meter=eau,unit=m³ index=100,delta=${delta},quality="good" ${at}`,
    );
  };
  // 2 m³ on 3 Nov (2 €/m³), 3 m³ on 17 Nov (4 €/m³); the 31 October 23:59 Paris and December ones are out.
  meter(2, utc('2026-11-03T10:00:00'));
  meter(3, utc('2026-11-17T10:00:00'));
  meter(7, utc('2026-10-31T22:59:00'));
  meter(50, utc('2026-12-01T10:00:00'));
  meter(10, utc('2025-11-03T10:00:00'));
  // The flow sensor (60 s period) sends for the first half of the month only: 21,600 of 43,200.
  for (let t = FROM; t < FROM + 15 * DAY; t += MINUTE)
    lines.push(
      `sensor,building=ecole,commune=metz,point=debit,quantity=water_flow,room=-,unit=m³/h value=0.5,quality="good" ${t}`,
    );
  // The segment controller, every 5 minutes: down on 10 Nov from 00:00 to 06:00 UTC (6 h of 720).
  const downFrom = utc('2026-11-10T00:00:00');
  for (let t = FROM; t < TO; t += 5 * MINUTE) {
    const health = t >= downFrom && t < downFrom + 6 * HOUR ? 0 : 2;
    lines.push(`device,commune=metz,device=sc,protocol=modbus-tcp health=${health}i ${t}`);
  }
  const alert = (commune: string, id: string, state: string, at: number): void => {
    lines.push(
      `event,commune=${commune},kind=alert,severity=warning message="m",source="s",actor="nocturne",state="${state}",id="${id}" ${at}`,
    );
  };
  // a1 acknowledged after 12 min; a2, raised in October, after 2 days (2,880 min); a3 never.
  alert('metz', 'a1', 'raised', utc('2026-11-04T08:00:00'));
  alert('metz', 'a1', 'acknowledged', utc('2026-11-04T08:12:00'));
  alert('metz', 'a1', 'cleared', utc('2026-11-04T09:00:00'));
  alert('metz', 'a2', 'raised', utc('2026-10-30T08:00:00'));
  alert('metz', 'a2', 'acknowledged', utc('2026-11-01T08:00:00'));
  alert('woippy', 'a3', 'raised', utc('2026-11-05T08:00:00'));
  return lines;
}

describe('the monthly evaluation report from a real influxd', () => {
  let influx: InfluxHarness;
  let stateDir: string;
  let usage: UsageLog;
  let reader: InfluxQueryClient;
  const clock = new ManualClock(utc('2026-11-02T09:00:00'));

  beforeAll(async () => {
    influx = await startInflux({ database: 'nocturne' });
    reader = new InfluxQueryClient({ url: influx.url, bucket: influx.database });
    const lines = knownPoints();
    for (let i = 0; i < lines.length; i += 5000) await writeLines(influx, lines.slice(i, i + 5000));
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'nocturne-usage-'));
    usage = newUsageLog();
    await usage.start();
  }, 120_000);

  afterAll(async () => {
    await usage?.stop();
    reader?.close();
    await influx?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  function newUsageLog(): UsageLog {
    return new UsageLog({
      stateDir,
      timeZone: 'Europe/Paris',
      clock,
      logger: silentLogger,
      sink: { write: (lines) => writeLines(influx, [...lines]) },
      periodMs: 60_000,
    });
  }

  it('counts usage durably: a restart keeps the counts, and InfluxDB gets the daily points', async () => {
    const manager = { role: 'lighting-manager', communes: ['metz'] };
    usage.record(manager, 'sign-in');
    usage.record(manager, 'page:zones');
    usage.record(manager, 'page:zones');
    usage.record({ role: 'viewer', communes: ['woippy', 'metz'] }, 'api:GET /api/zones');
    await usage.stop();
    usage = newUsageLog();
    await usage.start();
    usage.record(manager, 'page:zones');
    expect(usage.records(['metz'])).toEqual([
      { day: '2026-11-02', role: 'lighting-manager', commune: 'metz', kind: 'page:zones', count: 3 },
      { day: '2026-11-02', role: 'lighting-manager', commune: 'metz', kind: 'sign-in', count: 1 },
    ]);
    expect(usage.records(['*'])).toHaveLength(3);
    clock.advance(60_000);
    await usage.flush();
    const rows = await influx.query('SELECT "count" FROM "usage" GROUP BY *');
    const byKind = Object.fromEntries(
      rows.map((r) => [`${r.tags.commune} ${r.tags.role} ${r.tags.kind}`, r.values]),
    );
    // One point per day at Paris midnight, the day's count so far.
    expect(byKind['metz lighting-manager page:zones']).toEqual({
      time: utc('2026-11-01T23:00:00'),
      count: 3,
    });
    expect(byKind['metz,woippy viewer api:GET /api/zones']).toMatchObject({ count: 1 });
    expect(Object.keys(rows[0].tags).sort()).toEqual(['commune', 'kind', 'role']);
  });

  it('gives the figures worked out by hand', async () => {
    clock.set(utc('2026-12-15T12:00:00'));
    const gatherer = new ReportGatherer({
      config,
      reader,
      lighting: { zones: () => [{ commune: 'metz', luminaires: 3, confirmed: 2 }] },
      usage,
      catalog: new PointCatalog(config),
      clock,
    });
    const report = await gatherer.monthly('2026-11', ADMIN);
    const [metz, woippy] = report.communes;
    expect(metz.commune).toBe('metz');

    const lighting = metz.energy.find((l) => l.use === 'lighting')!;
    expect(lighting.amount).toBeCloseTo(2.8, 9);
    expect(lighting.eur).toBeCloseTo(2 * 0.2 + 0.5 * 0.3 + 0.3 * 0.3, 9);
    expect(lighting.kgCo2e).toBeCloseTo(0.28, 9);
    expect(lighting.baseline).toMatchObject({ kind: 'last-year' });
    expect(lighting.baseline!.amount).toBeCloseTo(5, 9);
    expect(lighting.saved!.eur).toBeCloseTo(5 * 0.2 - 0.64, 9);

    const water = metz.energy.find((l) => l.quantity === 'water')!;
    expect([water.amount, water.unit]).toEqual([5, 'm³']);
    expect(water.eur).toBeCloseTo(2 * 2 + 3 * 4, 9);
    expect(water.baseline!.amount).toBeCloseTo(10, 9);
    expect(water.saved!.eur).toBeCloseTo(10 * 2 - 16, 9);

    const month = 0.36 + 4;
    expect(metz.investment.monthSavingsEur).toBeCloseTo(month, 9);
    expect(metz.investment.paybackYears).toBeCloseTo(1000 / ((month * 365) / 30), 9);

    expect(metz.availability.luminairesConfirmed).toMatchObject({ count: 2, of: 3 });
    expect(metz.availability.deviceUptime.pct).toBeCloseTo((714 / 720) * 100, 6);
    expect(metz.availability.deviceUptime.knownHours).toBeCloseTo(720, 6);
    // debit 21,600 of 43,200, eau 2 of 43,200; the OPC UA points report by exception and are not counted.
    expect(metz.availability.dataCompleteness).toMatchObject({ count: 21_602, of: 86_400, points: 2 });
    expect(woippy.availability.dataCompleteness).toMatchObject({ count: 0, of: 518_400 });

    expect(metz.alerts).toEqual({
      raised: 1,
      acknowledged: 2,
      cleared: 1,
      ackMedianMin: 12,
      ackP90Min: 2880,
    });
    expect(report.territory.alerts.raised).toBe(2);
    expect(metz.usage).toMatchObject({ signIns: 1, pageViews: 3, actions: 1 });

    const csv = reportCsv(report);
    expect(csv.startsWith('\uFEFFMois;Zone;Rubrique;Indicateur;Valeur;Unité\r\n')).toBe(true);
    expect(csv).toContain('2026-11;Metz (metz);Énergie — Éclairage, électricité;Coût;0,64;€\r\n');
  });

  it("keeps a commune's report within the token's communes", async () => {
    const gatherer = new ReportGatherer({
      config,
      reader,
      lighting: { zones: () => [] },
      usage,
      catalog: new PointCatalog(config),
      clock,
    });
    const woippyOnly: Actor = { ...ADMIN, role: 'viewer', communes: ['woippy'] };
    const report = await gatherer.monthly('2026-11', woippyOnly);
    expect(report.communes.map((c) => c.commune)).toEqual(['woippy']);
    expect(report.territory.alerts.raised).toBe(1);
    await expect(gatherer.monthly('2026-11', woippyOnly, 'metz')).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(gatherer.monthly('2026-13', ADMIN)).rejects.toMatchObject({ code: 'invalid' });
  });
});
