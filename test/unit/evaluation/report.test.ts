import {
  buildReport,
  daysOf,
  fullNightKWh,
  parseMonth,
  sameDayLastYear,
  uptimeOf,
  type AlertEvent,
  type DailyAmount,
  type EvaluationInput,
} from '../../../controller/evaluation/report';

/**
 * A small territory with known readings, worked out by hand (docs/evaluation.md, "A worked example"):
 * commune a (full-night lighting baseline, a meter, a water meter) and commune b (last-year baseline,
 * its own tariff), November 2026 (30 days). The general electricity price goes from 0.20 to
 * 0.25 €/kWh on 16 November.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 2026-11-01T00:00 and 2026-12-01T00:00 in Europe/Paris (UTC+1). */
const FROM = Date.UTC(2026, 9, 31, 23);
const TO = Date.UTC(2026, 10, 30, 23);

function every(
  commune: string,
  month: string,
  amount: number,
  quantity = 'electricity',
  unit = 'kWh',
): DailyAmount[] {
  return daysOf(month).map((day) => ({ commune, day, quantity, unit, amount }));
}

function alert(id: string, commune: string, state: AlertEvent['state'], at: number): AlertEvent {
  return { id, commune, state, at };
}

function input(): EvaluationInput {
  return {
    month: '2026-11',
    window: { from: FROM, to: TO },
    communes: [
      { id: 'a', name: 'Alpha' },
      { id: 'b', name: 'Beta' },
    ],
    lighting: [...every('a', '2026-11', 10), ...every('b', '2026-11', 8)],
    lightingLastYear: [
      ...every('b', '2025-11', 12),
      { commune: 'b', day: '2025-10-31', quantity: 'electricity', unit: 'kWh', amount: 100 },
    ],
    lightingFullNight: [...every('a', '2026-11', 30), ...every('b', '2026-11', 1000)],
    buildings: [
      { commune: 'a', day: '2026-11-10', quantity: 'electricity', unit: 'kWh', amount: 50 },
      // In Wh: converted to kWh for the price.
      { commune: 'a', day: '2026-11-20', quantity: 'electricity', unit: 'Wh', amount: 50_000 },
      { commune: 'a', day: '2026-11-05', quantity: 'water', unit: 'm³', amount: 3 },
    ],
    buildingsLastYear: [
      { commune: 'a', day: '2025-11-10', quantity: 'electricity', unit: 'kWh', amount: 80 },
    ],
    baselines: { b: 'last-year' },
    tariffs: [
      { quantity: 'electricity', unit: 'kWh', eur_per_unit: 0.2, from: '2026-01-01' },
      { quantity: 'electricity', unit: 'MWh', eur_per_unit: 250, from: '2026-11-16' },
      { quantity: 'electricity', unit: 'kWh', eur_per_unit: 0.3, from: '2026-01-01', commune: 'b' },
      { quantity: 'water', unit: 'm³', eur_per_unit: 4, from: '2025-01-01' },
    ],
    emissionFactors: [
      {
        quantity: 'electricity',
        unit: 'kWh',
        kg_co2e_per_unit: 0.05,
        from: '2026-01-01',
        source: 'test',
        year: 2026,
      },
    ],
    investments: [
      {
        id: 'leds-a',
        commune: 'a',
        description: 'LED',
        from: '2026-01-01',
        capex_eur: 12_000,
        yearly_cost_eur: 365,
      },
      { id: 'platform', description: 'Plateforme', from: '2026-11-20', capex_eur: 5000, yearly_cost_eur: 0 },
      {
        id: 'later-b',
        commune: 'b',
        description: 'Plus tard',
        from: '2026-12-01',
        capex_eur: 9000,
        yearly_cost_eur: 0,
      },
    ],
    luminaires: [
      { commune: 'a', total: 10, confirmed: 9 },
      { commune: 'b', total: 5, confirmed: 5 },
    ],
    devices: [
      { commune: 'a', device: 'd1', upMs: 27 * DAY, knownMs: 30 * DAY },
      { commune: 'a', device: 'd2', upMs: 30 * DAY, knownMs: 30 * DAY },
      { commune: 'b', device: 'd3', upMs: 0, knownMs: 0 },
    ],
    completeness: [
      { commune: 'a', point: 'p1', received: 43_200, expected: 43_200 },
      { commune: 'a', point: 'p2', received: 2000, expected: 1440 },
      { commune: 'b', point: 'p3', received: 360, expected: 720 },
    ],
    alerts: [
      alert('x1', 'a', 'raised', FROM - HOUR),
      alert('x1', 'a', 'acknowledged', FROM + 30 * MINUTE),
      alert('x1', 'a', 'cleared', FROM + 2 * HOUR),
      alert('x2', 'a', 'raised', FROM + DAY),
      alert('x2', 'a', 'acknowledged', FROM + DAY + 10 * MINUTE),
      alert('x3', 'a', 'raised', FROM + 2 * DAY),
      alert('x3', 'a', 'acknowledged', FROM + 2 * DAY + HOUR),
      alert('x3', 'a', 'cleared', FROM + 3 * DAY),
      alert('x4', 'b', 'raised', FROM + 3 * DAY),
      alert('x4', 'b', 'acknowledged', FROM + 3 * DAY + 20 * MINUTE),
      alert('x5', '*', 'raised', FROM + 4 * DAY),
      alert('x6', 'a', 'raised', TO + MINUTE),
    ],
    usage: [
      { day: '2026-11-02', role: 'admin', commune: '*', kind: 'sign-in', count: 2 },
      { day: '2026-11-02', role: 'lighting-manager', commune: 'a', kind: 'page:zones', count: 5 },
      { day: '2026-11-03', role: 'lighting-manager', commune: 'a', kind: 'api:GET /api/zones', count: 7 },
      { day: '2026-11-03', role: 'viewer', commune: 'a,b', kind: 'page:zones', count: 1 },
      { day: '2026-10-31', role: 'viewer', commune: 'b', kind: 'sign-in', count: 4 },
      { day: '2026-11-30', role: 'viewer', commune: 'b', kind: 'sign-in', count: 1 },
    ],
  };
}

describe('the monthly evaluation report', () => {
  const report = buildReport(input());
  const [a, b] = report.communes;
  const territory = report.territory;
  const line = (area: typeof a, use: string, quantity: string) =>
    area.energy.find((l) => l.use === use && l.quantity === quantity);

  it('covers the days of the month', () => {
    expect([report.from, report.to, report.days]).toEqual(['2026-11-01', '2026-11-30', 30]);
  });

  it('prices lighting at the tariff in force each day, and saves against full power all night', () => {
    const lighting = line(a, 'lighting', 'electricity')!;
    // 15 days × 10 kWh × 0.20 + 15 days × 10 kWh × 0.25 (250 €/MWh from the 16th)
    expect(lighting.amount).toBeCloseTo(300, 9);
    expect(lighting.eur).toBeCloseTo(30 + 37.5, 9);
    expect(lighting.kgCo2e).toBeCloseTo(300 * 0.05, 9);
    expect(lighting.baseline).toMatchObject({ kind: 'full-night' });
    expect(lighting.baseline!.amount).toBeCloseTo(900, 9);
    expect(lighting.baseline!.eur).toBeCloseTo(15 * 30 * 0.2 + 15 * 30 * 0.25, 9);
    expect(lighting.saved!.amount).toBeCloseTo(600, 9);
    expect(lighting.saved!.pct).toBeCloseTo((600 / 900) * 100, 9);
    expect(lighting.saved!.eur).toBeCloseTo(135, 9);
    expect(lighting.saved!.kgCo2e).toBeCloseTo(30, 9);
  });

  it("uses a commune's own tariff and last year's same month when it chose so", () => {
    const lighting = line(b, 'lighting', 'electricity')!;
    expect(lighting.amount).toBeCloseTo(240, 9);
    expect(lighting.eur).toBeCloseTo(240 * 0.3, 9);
    // 31 October 2025 is not in last year's November.
    expect(lighting.baseline).toMatchObject({ kind: 'last-year' });
    expect(lighting.baseline!.amount).toBeCloseTo(360, 9);
    expect(lighting.saved!.eur).toBeCloseTo(36, 9);
    expect(lighting.saved!.pct).toBeCloseTo((120 / 360) * 100, 9);
  });

  it('sums meter readings per quantity and compares them with last year', () => {
    const electricity = a.energy.filter((l) => l.use === 'buildings' && l.quantity === 'electricity');
    expect(electricity.map((l) => l.unit)).toEqual(['kWh', 'Wh']);
    const [kWh, wh] = electricity;
    expect(kWh.eur).toBeCloseTo(50 * 0.2, 9);
    expect(kWh.saved!.amount).toBeCloseTo(30, 9);
    expect(kWh.saved!.eur).toBeCloseTo(30 * 0.2, 9);
    expect(wh.eur).toBeCloseTo(50 * 0.25, 9);
    const water = line(a, 'buildings', 'water')!;
    expect(water.eur).toBeCloseTo(12, 9);
    expect(water.kgCo2e).toBeUndefined();
    expect(water.saved).toBeUndefined();
    expect(a.notes).toEqual(
      expect.arrayContaining([
        'no water emission factor per m³ in force on 2026-11-05: kg CO2e not computed',
        'buildings water: no last-year baseline data, nothing saved is computed',
      ]),
    );
  });

  it('extrapolates the month to a year for the payback', () => {
    // a saves 135 € (lighting) + 6 € (meter in kWh) this month; the Wh meter had no baseline.
    const month = 135 + 6;
    expect(a.investment.capexEur).toBe(12_000);
    expect(a.investment.monthSavingsEur).toBeCloseTo(month, 9);
    expect(a.investment.yearlyNetSavingsEur).toBeCloseTo((month * 365) / 30 - 365, 9);
    expect(a.investment.paybackYears).toBeCloseTo(12_000 / ((month * 365) / 30 - 365), 9);
    // b's investment comes into service after the month.
    expect(b.investment.capexEur).toBe(0);
    expect(b.investment.paybackYears).toBeUndefined();
    const all = month + 36;
    expect(territory.investment.capexEur).toBe(17_000);
    expect(territory.investment.paybackYears).toBeCloseTo(17_000 / ((all * 365) / 30 - 365), 9);
  });

  it("counts the communes' savings in the territory's payback even where a line cannot be compared whole", () => {
    const partial = buildReport({ ...input(), lightingLastYear: [] });
    expect(line(partial.territory, 'lighting', 'electricity')!.saved).toBeUndefined();
    expect(partial.territory.investment.monthSavingsEur).toBeCloseTo(135 + 6, 9);
  });

  it('sums the communes into the territory, with a mixed baseline', () => {
    const lighting = line(territory, 'lighting', 'electricity')!;
    expect(lighting.amount).toBeCloseTo(540, 9);
    expect(lighting.eur).toBeCloseTo(67.5 + 72, 9);
    expect(lighting.baseline).toMatchObject({ kind: 'mixed' });
    expect(lighting.baseline!.amount).toBeCloseTo(1260, 9);
    expect(lighting.saved!.pct).toBeCloseTo((720 / 1260) * 100, 9);
  });

  it('counts luminaires confirmed, device uptime and data completeness', () => {
    expect(a.availability.luminairesConfirmed).toEqual({ count: 9, of: 10, pct: 90 });
    expect(territory.availability.luminairesConfirmed.pct).toBeCloseTo((14 / 15) * 100, 9);
    expect(a.availability.deviceUptime.pct).toBeCloseTo((57 / 60) * 100, 9);
    expect(b.availability.deviceUptime.pct).toBeUndefined();
    // p2 sent more than its period promises: counted complete, not more.
    expect(a.availability.dataCompleteness.pct).toBeCloseTo(100, 9);
    expect(b.availability.dataCompleteness.pct).toBeCloseTo(50, 9);
    expect(territory.availability.dataCompleteness.pct).toBeCloseTo((45_000 / 45_360) * 100, 9);
  });

  it('counts alerts of the month and the times to acknowledge', () => {
    // x1 was raised before the month: acknowledged and cleared in it. x6 comes after.
    expect(a.alerts).toEqual({ raised: 2, acknowledged: 3, cleared: 2, ackMedianMin: 60, ackP90Min: 90 });
    expect(b.alerts).toEqual({ raised: 1, acknowledged: 1, cleared: 0, ackMedianMin: 20, ackP90Min: 20 });
    // The territory-wide x5 counts for the territory only.
    expect(territory.alerts).toEqual({
      raised: 4,
      acknowledged: 4,
      cleared: 2,
      ackMedianMin: 20,
      ackP90Min: 90,
    });
  });

  it('counts usage of the month by role, a token of two communes in each', () => {
    expect(a.usage).toEqual({
      signIns: 0,
      pageViews: 6,
      actions: 7,
      byRole: {
        'lighting-manager': { signIns: 0, pageViews: 5, actions: 7 },
        viewer: { signIns: 0, pageViews: 1, actions: 0 },
      },
    });
    expect(b.usage).toMatchObject({ signIns: 1, pageViews: 1, actions: 0 });
    expect(territory.usage).toMatchObject({ signIns: 3, pageViews: 6, actions: 7 });
  });

  it('lists the tariffs and factors it used', () => {
    expect(
      report.tariffs.map((t) => `${t.from} ${t.eurPerUnit}/${t.unit}${t.commune ? ` ${t.commune}` : ''}`),
    ).toEqual(
      expect.arrayContaining([
        '2026-01-01 0.2/kWh',
        '2026-11-16 250/MWh',
        '2026-01-01 0.3/kWh b',
        '2025-01-01 4/m³',
      ]),
    );
    expect(report.emissionFactors).toHaveLength(1);
  });

  it('says when no tariff was in force', () => {
    const bare = buildReport({ ...input(), tariffs: [] });
    expect(bare.communes[0].energy[0].eur).toBeUndefined();
    expect(bare.communes[0].notes).toContain(
      'no electricity tariff per kWh in force on 2026-11-01: € not computed',
    );
  });
});

describe('months and days', () => {
  it('parses months and refuses anything else', () => {
    expect(parseMonth('2028-02')).toEqual({ first: { year: 2028, month: 2, day: 1 }, days: 29 });
    expect(parseMonth('2026-13')).toBeUndefined();
    expect(parseMonth('2026-1')).toBeUndefined();
  });

  it('moves 29 February to the 28th a year earlier', () => {
    expect(sameDayLastYear('2028-02-29')).toBe('2027-02-28');
    expect(sameDayLastYear('2026-11-30')).toBe('2025-11-30');
  });
});

describe('the full-night baseline and device uptime', () => {
  it('counts rated power from sunset to sunrise, longer in December than in June', () => {
    const zones = [
      { commune: 'metz', ratedW: 600, location: { lat: 49.12, lon: 6.18 } },
      { commune: 'metz', ratedW: 400, location: { lat: 49.12, lon: 6.18 } },
    ];
    const [december, june] = fullNightKWh(zones, ['2026-12-21', '2026-06-21']);
    // Metz: sunset 16:26, sunrise 8:14 at the winter solstice (15 h 48); 21:48 to 5:29 at the summer one (7 h 41); × 1 kW.
    expect(december).toMatchObject({ commune: 'metz', day: '2026-12-21', unit: 'kWh' });
    expect(december.amount).toBeGreaterThan(15.6);
    expect(december.amount).toBeLessThan(16.0);
    expect(june.amount).toBeGreaterThan(7.5);
    expect(june.amount).toBeLessThan(7.9);
  });

  it('holds each health until the next sample, and no longer than the gap allowed', () => {
    const samples = [
      { at: -HOUR, health: 2 },
      { at: 10 * HOUR, health: 0 },
      { at: 12 * HOUR, health: 1 },
      { at: 20 * HOUR, health: 2 },
    ];
    // Held at most 3 h: 0-2 h up (from the sample before the window), 10-12 down, 12-15 degraded (up),
    // 20-23 up; the rest unknown.
    expect(uptimeOf(samples, 0, DAY, 3 * HOUR)).toEqual({ upMs: 8 * HOUR, knownMs: 10 * HOUR });
  });
});
