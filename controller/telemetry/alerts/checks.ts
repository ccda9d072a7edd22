import { distance } from 'fastest-levenshtein';
import type { ConfigPath } from '../../../config/issues';
import type { Config } from '../../../config/schema';

type Report = (path: ConfigPath, message: string) => void;

/**
 * Cross-checks of the `alerts` and `telemetry` sections and of the point fields they use, run by
 * config/crossChecks.ts. The configuration may be only partly valid here (lenient view), so every
 * field is looked at with care.
 */
export function checkAlerts(config: Config, report: Report): void {
  const communes = new Set(config.communes.map((c) => c.id));
  const buildings = new Set(config.buildings.map((b) => b.id));
  const points = new Set(config.buildings.flatMap((b) => (b.points ?? []).map((p) => `${b.id}/${p.id}`)));
  const quantities = new Set(config.buildings.flatMap((b) => (b.points ?? []).map((p) => p.quantity)));
  const zones = new Set(config.zones.map((z) => z.id));
  const luminaires = new Set(config.zones.flatMap((z) => (z.luminaires ?? []).map((l) => l.id)));
  const devices = new Set(config.devices.map((d) => d.id));
  const known: Record<string, [Set<string>, string]> = {
    communes: [communes, 'commune'],
    buildings: [buildings, 'building'],
    points: [points, "point ('building/point')"],
    quantities: [quantities, 'point quantity'],
    zones: [zones, 'zone'],
    luminaires: [luminaires, 'luminaire'],
    devices: [devices, 'device'],
  };

  config.buildings.forEach((building, i) =>
    (building.points ?? []).forEach((point, j) => {
      if (point.measurement !== 'meter' && point.max_rate !== undefined)
        report(['buildings', i, 'points', j, 'max_rate'], 'max_rate is for meters (measurement: meter)');
    }),
  );

  const alerts = config.alerts as Partial<Config['alerts']> | undefined;
  const rules = Array.isArray(alerts?.rules) ? alerts.rules : [];
  const ruleIds = new Map<string, number>();
  rules.forEach((rule, i) => {
    const path = ['alerts', 'rules', i];
    if (typeof rule !== 'object' || rule === null) return;
    if (typeof rule.id === 'string') {
      if (ruleIds.has(rule.id))
        report([...path, 'id'], `duplicate rule id '${rule.id}' (rule #${ruleIds.get(rule.id)})`);
      else ruleIds.set(rule.id, i);
    }
    const scope = 'scope' in rule && typeof rule.scope === 'object' && rule.scope !== null ? rule.scope : {};
    for (const [field, ids] of Object.entries(scope)) {
      const entry = known[field];
      if (!entry || !Array.isArray(ids)) continue;
      const [set, what] = entry;
      ids.forEach((id, k) => {
        if (typeof id === 'string' && !set.has(id))
          report([...path, 'scope', field, k], `unknown ${what} '${id}'${suggest(id, set)}`);
      });
    }
    if (rule.kind === 'threshold') {
      if (rule.above === undefined && rule.below === undefined)
        report(path, 'a threshold rule needs above, below or both');
      else if (rule.above !== undefined && rule.below !== undefined && rule.below >= rule.above)
        report([...path, 'below'], `must be less than above (${rule.above}) (is ${rule.below})`);
    }
    if (rule.kind === 'night-flow' && rule.from === rule.to)
      report([...path, 'to'], `the night window is empty: from and to are both '${rule.from}'`);
    if (typeof rule.when === 'object' && rule.when !== null) checkWhen(rule.when, [...path, 'when'], report);
    if (rule.kind === 'rate-of-change' && typeof rule.over_min === 'number')
      checkRateWindow(rule, config, path, report);
  });

  const webhooks = Array.isArray(alerts?.webhooks) ? alerts.webhooks : [];
  const webhookIds = new Set<string>();
  webhooks.forEach((webhook, i) => {
    const path = ['alerts', 'webhooks', i];
    if (typeof webhook !== 'object' || webhook === null) return;
    if (typeof webhook.id === 'string') {
      if (webhookIds.has(webhook.id)) report([...path, 'id'], `duplicate webhook id '${webhook.id}'`);
      webhookIds.add(webhook.id);
    }
    (Array.isArray(webhook.communes) ? webhook.communes : []).forEach((id, k) => {
      if (!communes.has(id))
        report([...path, 'communes', k], `unknown commune '${id}'${suggest(id, communes)}`);
    });
  });
}

type When = NonNullable<Config['alerts']['rules'][number]['when']>;

function checkWhen(when: When, path: ConfigPath, report: Report): void {
  const { from, to } = when;
  if ((from === undefined) !== (to === undefined)) {
    const missing = from === undefined ? 'from' : 'to';
    report(
      [...path, missing],
      `missing: a window needs both from and to (or neither, for whole days); only ${missing === 'from' ? 'to' : 'from'} is given`,
    );
    return;
  }
  if (from !== undefined && JSON.stringify(edgeText(from)) === JSON.stringify(edgeText(to!)))
    report([...path, 'to'], `the window is empty: from and to are both ${describeEdge(from)}`);
}

function edgeText(edge: NonNullable<When['from']>): string | [string, number] {
  return typeof edge === 'string' ? edge : [edge.sun, edge.offset_min ?? 0];
}

function describeEdge(edge: NonNullable<When['from']>): string {
  if (typeof edge === 'string') return `'${edge}'`;
  const offset = edge.offset_min ?? 0;
  return offset === 0 ? edge.sun : `${edge.sun} ${offset > 0 ? '+' : ''}${offset} min`;
}

/**
 * A point polled less often than over_min never has two values within the window that a gap does not
 * separate: its change can never be measured.
 */
function checkRateWindow(
  rule: Extract<Config['alerts']['rules'][number], { kind: 'rate-of-change' }>,
  config: Config,
  path: ConfigPath,
  report: Report,
): void {
  const scope = typeof rule.scope === 'object' && rule.scope !== null ? rule.scope : {};
  const windowS = rule.over_min * 60;
  for (const building of config.buildings) {
    if (scope.communes && !scope.communes.includes(building.commune)) continue;
    if (scope.buildings && !scope.buildings.includes(building.id)) continue;
    for (const point of building.points ?? []) {
      const source = `${building.id}/${point.id}`;
      if (scope.points && !scope.points.includes(source)) continue;
      if (scope.quantities && !scope.quantities.includes(point.quantity)) continue;
      const period = pollingPeriodS(point);
      if (period !== undefined && period > windowS) {
        report(
          [...path, 'over_min'],
          `is shorter than the polling period of '${source}' (${period} s): no change can be measured over it (is ${rule.over_min})`,
        );
        return;
      }
    }
  }
}

/** The polling period of a point, whichever binding gives one (period_s); undefined when reported by exception. */
function pollingPeriodS(point: object): number | undefined {
  for (const binding of Object.values(point) as unknown[]) {
    if (typeof binding !== 'object' || binding === null || !('period_s' in binding)) continue;
    if (typeof binding.period_s === 'number') return binding.period_s;
  }
  return undefined;
}

function suggest(id: string, known: Set<string>): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(id.length / 4)) + 1;
  for (const candidate of known) {
    const d = distance(id, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}
