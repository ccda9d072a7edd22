import { timeZone } from '../../../core/localTime';
import { frenchNumber, reportCsv } from '../../../controller/evaluation/format';
import { buildReport } from '../../../controller/evaluation/report';
import { UsageCounts, usageCommune, usageLine, usageVisibleTo } from '../../../controller/evaluation/usage';

describe('usage counts', () => {
  it('count per local day: 23:30 UTC on 28 March is already the 29th in Paris', () => {
    const counts = new UsageCounts('Europe/Paris');
    expect(counts.count(Date.parse('2026-03-28T22:59:00Z'), 'viewer', ['metz'], 'sign-in')).toBe(
      '2026-03-28',
    );
    expect(counts.count(Date.parse('2026-03-28T23:30:00Z'), 'viewer', ['metz'], 'sign-in')).toBe(
      '2026-03-29',
    );
    counts.count(Date.parse('2026-03-29T20:00:00Z'), 'viewer', ['metz'], 'sign-in');
    expect(counts.records('2026-03-29').map((r) => [r.day, r.count])).toEqual([['2026-03-29', 2]]);
  });

  it('keep a token’s communes as one sorted key, and show a record only to scopes covering all of it', () => {
    expect(usageCommune(['woippy', 'metz'])).toBe('metz,woippy');
    expect(usageCommune(['metz', '*'])).toBe('*');
    expect(usageVisibleTo(['metz'], { commune: 'metz,woippy' })).toBe(false);
    expect(usageVisibleTo(['metz', 'woippy'], { commune: 'metz,woippy' })).toBe(true);
    expect(usageVisibleTo(['metz'], { commune: '*' })).toBe(false);
    expect(usageVisibleTo(['*'], { commune: '*' })).toBe(true);
  });

  it('become a usage point at local midnight, also on the day the clocks change', () => {
    const record = {
      day: '2026-03-29',
      role: 'viewer',
      commune: 'metz,woippy',
      kind: 'api:GET /api/zones' as const,
      count: 3,
    };
    expect(usageLine(record, timeZone('Europe/Paris'))).toBe(
      `usage,commune=metz\\,woippy,kind=api:GET\\ /api/zones,role=viewer count=3i ${Date.parse('2026-03-28T23:00:00Z')}`,
    );
  });
});

describe('the report as CSV for a French spreadsheet', () => {
  it('writes decimal commas, leaves figures not computed empty, and quotes what holds a separator', () => {
    expect([frenchNumber(1234.567), frenchNumber(-0.001), frenchNumber(undefined), frenchNumber(2)]).toEqual([
      '1234,57',
      '0',
      '',
      '2',
    ]);
    const report = buildReport({
      month: '2026-11',
      window: { from: 0, to: 1 },
      communes: [{ id: 'a', name: 'Saint-Julien; lès "Metz"' }],
      lighting: [{ commune: 'a', day: '2026-11-02', quantity: 'electricity', unit: 'kWh', amount: 1.5 }],
      lightingLastYear: [],
      lightingFullNight: [],
      buildings: [],
      buildingsLastYear: [],
      baselines: {},
      tariffs: [],
      emissionFactors: [],
      investments: [],
      luminaires: [],
      devices: [],
      completeness: [],
      alerts: [],
      usage: [],
    });
    const lines = reportCsv(report).split('\r\n');
    expect(lines[1]).toBe(
      '2026-11;"Saint-Julien; lès ""Metz"" (a)";Énergie — Éclairage, électricité;Consommation;1,5;kWh',
    );
    expect(lines[2]).toBe(
      '2026-11;"Saint-Julien; lès ""Metz"" (a)";Énergie — Éclairage, électricité;Coût;;€',
    );
    expect(lines).toContain(
      '2026-11;"Saint-Julien; lès ""Metz"" (a)";Remarque;no electricity tariff per kWh in force on 2026-11-02: € not computed;;',
    );
  });
});
