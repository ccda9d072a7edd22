import { toYaml } from '../../../config/generateDemo';
import { ConfigError } from '../../../config/issues';
import { parseConfig } from '../../../config/load';
import { buildTerritory } from '../../../config/demoTerritory';
import type { ConfigInput } from '../../../config/schema';

/** A small territory with the demo's rules, then a change to its alerts section. */
function withAlerts(alerts: NonNullable<ConfigInput['alerts']>): string {
  const input = buildTerritory({
    communes: 2,
    modbusPorts: [15001, 15002],
    opcuaPorts: [],
    luminairesPerController: 4,
  });
  return toYaml({ ...input, alerts: { ...input.alerts, ...alerts } });
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

describe('alerts configuration', () => {
  it('accepts the demo rules, with their defaults', () => {
    const config = parseConfig(withAlerts({}), 'site.yaml');
    const night = config.alerts.rules.find((r) => r.kind === 'night-flow');
    expect(night).toMatchObject({
      severity: 'warning',
      enabled: true,
      from: '01:00',
      to: '05:00',
      hysteresis: 0,
    });
    expect(config.alerts).toMatchObject({ evaluate_s: 10, influx: true, mqtt: { enabled: true, qos: 1 } });
    expect(config.telemetry).toMatchObject({ stale_factor: 3, meter_reset: 'index' });
  });

  it('names unknown references, with the nearest id, and rules that cannot work', () => {
    const yaml = withAlerts({
      rules: [
        {
          id: 'a',
          kind: 'threshold',
          scope: { buildings: ['metz-ecole-jules-fery'], quantities: ['temperatur'] },
          above: 30,
        },
        { id: 'a', kind: 'threshold', scope: { points: ['metz-ecole-jules-ferry/nope'] } },
        { id: 'b', kind: 'threshold', above: 1, below: 2 },
        { id: 'c', kind: 'night-flow', from: '02:00', to: '02:00', above: 0.1 },
        { id: 'd', kind: 'device-unreachable', scope: { devices: ['metz-sc-09'], communes: ['nancy'] } },
        { id: 'e', kind: 'level-mismatch', scope: { zones: ['nowhere'] } },
      ],
      webhooks: [{ id: 'w', url: 'https://hooks.example/x', communes: ['marly'] }],
    });
    expect(problems(yaml)).toEqual([
      "alerts.rules[0].scope.buildings[0]: unknown building 'metz-ecole-jules-fery' (did you mean 'metz-ecole-jules-ferry'?)",
      "alerts.rules[0].scope.quantities[0]: unknown point quantity 'temperatur' (did you mean 'temperature'?)",
      'alerts.rules[1]: a threshold rule needs above, below or both',
      "alerts.rules[1].id: duplicate rule id 'a' (rule #0)",
      "alerts.rules[1].scope.points[0]: unknown point ('building/point') 'metz-ecole-jules-ferry/nope' (did you mean 'metz-ecole-jules-ferry/eau'?)",
      'alerts.rules[2].below: must be less than above (1) (is 2)',
      "alerts.rules[3].to: the night window is empty: from and to are both '02:00'",
      "alerts.rules[4].scope.devices[0]: unknown device 'metz-sc-09' (did you mean 'metz-sc-01'?)",
      "alerts.rules[4].scope.communes[0]: unknown commune 'nancy'",
      "alerts.rules[5].scope.zones[0]: unknown zone 'nowhere'",
      "alerts.webhooks[0].communes[0]: unknown commune 'marly'",
    ]);
  });

  it('reports schema mistakes in a rule with its path', () => {
    const yaml = withAlerts({
      rules: [{ id: 'x', kind: 'night-flow', from: '25:00' } as never],
      webhooks: [{ id: 'w', url: 'ftp://x', headers: { Authorization: { env: 'lower-case' } } }],
    });
    const found = problems(yaml);
    expect(found.some((p) => p.startsWith('alerts.rules[0].from:'))).toBe(true);
    expect(found.some((p) => p.startsWith('alerts.rules[0].above:'))).toBe(true);
    expect(found.some((p) => p.startsWith('alerts.webhooks[0].url:'))).toBe(true);
  });
});
