import { toYaml } from '../../../config/generateDemo';
import { ConfigError } from '../../../config/issues';
import { parseConfig } from '../../../config/load';
import { buildTerritory } from '../../../config/demoTerritory';
import { ALERT_KINDS } from '../../../config/schema/alerts';
import type { ConfigInput } from '../../../config/schema';

type Rule = NonNullable<NonNullable<ConfigInput['alerts']>['rules']>[number];

/** A small territory with the demo's rules plus `rules`; `tweak` may change the input first. */
function withRules(rules: Rule[], tweak: (input: ConfigInput) => void = () => undefined): string {
  const input = buildTerritory({
    communes: 2,
    modbusPorts: [15001, 15002],
    opcuaPorts: [],
    luminairesPerController: 4,
  });
  tweak(input);
  return toYaml({ ...input, alerts: { ...input.alerts, rules: [...(input.alerts?.rules ?? []), ...rules] } });
}

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'site.yaml');
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

/** The index the first added rule gets after the demo's own. */
function firstAdded(): number {
  return (
    buildTerritory({ communes: 2, modbusPorts: [15001, 15002], opcuaPorts: [], luminairesPerController: 4 })
      .alerts?.rules?.length ?? 0
  );
}

describe('configuration of the new alert rules', () => {
  it('accepts a window on any rule, rate-of-change and lighting-command-failed rules, with their defaults', () => {
    const yaml = withRules([
      {
        id: 'porte-nuit',
        kind: 'threshold',
        scope: { quantities: ['door_open'] },
        above: 0.5,
        when: { from: { sun: 'dusk', offset_min: 30 }, to: { sun: 'dawn' }, holidays: 'except' },
      },
      {
        id: 'montee-moselle-essai',
        kind: 'rate-of-change',
        scope: { points: ['metz-moselle-pont-des-morts/niveau-moselle'] },
        per_hour: 0.2,
      },
      { id: 'rallumage-non-applique', kind: 'lighting-command-failed' },
    ]);
    expect(problems(yaml)).toEqual([]);
    const rules = parseConfig(yaml, 'site.yaml').alerts.rules;
    const n = firstAdded();
    expect(rules[n].when).toEqual({
      from: { sun: 'dusk', offset_min: 30 },
      to: { sun: 'dawn', offset_min: 0 },
      holidays: 'except',
      holiday_set: 'fr',
    });
    expect(rules[n + 1]).toMatchObject({
      direction: 'rise',
      over_min: 30,
      hysteresis: 0,
      severity: 'warning',
    });
    expect(rules[n + 2]).toMatchObject({ severity: 'critical', tolerance: 2, for_s: 0, scope: {} });
    expect(ALERT_KINDS).toEqual(expect.arrayContaining(['rate-of-change', 'lighting-command-failed']));
  });

  it('names what is wrong with a window, a rate-of-change rule and a command rule, and where', () => {
    const n = firstAdded();
    const yaml = withRules(
      [
        { id: 'a', kind: 'device-unreachable', when: { from: '22:00' } },
        {
          id: 'b',
          kind: 'lamp-failure',
          when: { from: { sun: 'dusk', offset_min: 30 }, to: { sun: 'dusk', offset_min: 30 } },
        },
        { id: 'c', kind: 'threshold', above: 1, when: { from: '07:00', to: '07:00' } },
        {
          id: 'd',
          kind: 'rate-of-change',
          scope: { points: ['metz-crue/limni'] },
          per_hour: 0.2,
          over_min: 10,
        },
        { id: 'e', kind: 'lighting-command-failed', scope: { communes: ['nancy'] } },
      ],
      (input) =>
        input.buildings!.push({
          id: 'metz-crue',
          commune: 'metz',
          kind: 'river_station',
          points: [
            {
              id: 'limni',
              measurement: 'sensor',
              quantity: 'water_level',
              unit: 'm',
              device: 'capteurs-terrain',
              modbus: { table: 'input', address: 9, type: 'int16', period_s: 900 },
            },
          ],
        }),
    );
    expect(problems(yaml)).toEqual([
      `alerts.rules[${n}].when.to: missing: a window needs both from and to (or neither, for whole days); only from is given`,
      `alerts.rules[${n + 1}].when.to: the window is empty: from and to are both dusk +30 min`,
      `alerts.rules[${n + 2}].when.to: the window is empty: from and to are both '07:00'`,
      `alerts.rules[${n + 3}].over_min: is shorter than the polling period of 'metz-crue/limni' (900 s): no change can be measured over it (is 10)`,
      `alerts.rules[${n + 4}].scope.communes[0]: unknown commune 'nancy'`,
    ]);
  });

  it('reports schema mistakes in a window or a new rule with their path', () => {
    const n = firstAdded();
    const yaml = withRules([
      { id: 'x', kind: 'threshold', above: 1, when: { from: { sun: 'noon' }, to: '25:00' } } as never,
      { id: 'y', kind: 'rate-of-change', per_hour: 0, direction: 'up' } as never,
      { id: 'z', kind: 'lighting-command-failed', scope: { commands: ['program'] } } as never,
    ]);
    const found = problems(yaml);
    expect(found).toContain(
      `alerts.rules[${n}].when.from: must be a clock time 'HH:MM' or {sun: dusk|dawn, offset_min: minutes} (is {"sun":"noon"})`,
    );
    for (const path of [
      `alerts.rules[${n}].when.from`,
      `alerts.rules[${n}].when.to`,
      `alerts.rules[${n + 1}].per_hour`,
      `alerts.rules[${n + 1}].direction`,
      `alerts.rules[${n + 2}].scope.commands[0]`,
    ])
      expect(found.filter((p) => p.startsWith(`${path}:`))).toHaveLength(1);
  });
});
