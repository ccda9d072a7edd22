import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { InfluxHarness, QueryRow } from '../../helpers/influxd';
import {
  interpolateQuery,
  intervalFor,
  parseDuration,
  replaceVariables,
  type QueryContext,
  type VariableValue,
} from './grafanaInfluxql';

/**
 * The provisioned dashboards as Grafana reads them, and what Grafana does to run their queries:
 * variables resolved in order (query variables on All, chained on the ones before), panels repeated by
 * a variable, the request interval of each panel.
 */

export const GRAFANA = path.join(__dirname, '..', '..', '..', 'grafana');
export const DASHBOARDS_DIR = path.join(GRAFANA, 'dashboards');
/** What Grafana uses for maxDataPoints: about the width of a panel in pixels. */
export const MAX_DATA_POINTS = 1000;

export interface DatasourceRef {
  type?: string;
  uid?: string;
}
export interface Target {
  refId: string;
  datasource?: DatasourceRef;
  rawQuery?: boolean;
  resultFormat?: string;
  query?: string;
  alias?: string;
  hide?: boolean;
}
export interface Transformation {
  id: string;
  options: Record<string, unknown>;
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DatasourceRef;
  targets?: Target[];
  interval?: string;
  timeShift?: string;
  timeFrom?: string;
  description?: string;
  /** A variable: one copy of the panel per selected value. */
  repeat?: string;
  transformations?: Transformation[];
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
}
export interface Variable {
  name: string;
  type: string;
  datasource?: DatasourceRef;
  query: string | { query: string };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { value: string | string[] };
  options?: unknown[];
}
export interface Annotation {
  name: string;
  builtIn?: number;
  datasource?: DatasourceRef;
  target?: { query?: string; textColumn?: string; tagsColumn?: string; titleColumn?: string };
}
export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
  annotations: { list: Annotation[] };
}

export const dashboards: { file: string; dashboard: Dashboard }[] = readdirSync(DASHBOARDS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({
    file,
    dashboard: JSON.parse(readFileSync(path.join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard,
  }));

export function dashboardByUid(uid: string): Dashboard {
  const found = dashboards.find((d) => d.dashboard.uid === uid);
  if (!found) throw new Error(`no dashboard '${uid}' in ${DASHBOARDS_DIR}`);
  return found.dashboard;
}

export function variableQuery(variable: Variable): string {
  return typeof variable.query === 'string' ? variable.query : variable.query.query;
}

/**
 * Variables as a user leaves them: query variables on All (resolved in order, each query seeing the
 * ones before it), custom ones on their default. Grafana keeps each value of a query variable once.
 */
export async function resolveVariables(
  influx: InfluxHarness,
  dashboard: Dashboard,
  from: number,
  to: number,
): Promise<Map<string, VariableValue>> {
  const variables = new Map<string, VariableValue>();
  for (const variable of dashboard.templating.list) {
    const flags = { multi: variable.multi ?? false, includeAll: variable.includeAll ?? false };
    if (variable.type === 'query') {
      const context: QueryContext = { from, to, intervalMs: 60_000, variables };
      const rows = await influx.query(interpolateQuery(variableQuery(variable), context));
      const values = [...new Set(rows.map((row) => String(row.values.value)))];
      if (values.length === 0) throw new Error(`variable '${variable.name}' has no values`);
      variables.set(variable.name, { values, ...flags });
    } else {
      const current = variable.current?.value;
      variables.set(variable.name, {
        values: Array.isArray(current) ? current : [String(current)],
        ...flags,
      });
    }
  }
  return variables;
}

/**
 * The copies Grafana makes of a panel: one per selected value of its `repeat` variable, that variable
 * scoped to the one value; a panel that does not repeat is its own only copy.
 */
export function repeatedVariables(
  panel: Panel,
  variables: ReadonlyMap<string, VariableValue>,
): { value: string | undefined; variables: Map<string, VariableValue> }[] {
  if (!panel.repeat) return [{ value: undefined, variables: new Map(variables) }];
  const repeated = variables.get(panel.repeat);
  if (!repeated) throw new Error(`panel '${panel.title}' repeats by an unknown variable '${panel.repeat}'`);
  return repeated.values.map((value) => ({
    value,
    variables: new Map([...variables, [panel.repeat!, { ...repeated, values: [value] }]]),
  }));
}

/** The InfluxQL of one target as Grafana sends it for a range, with the panel's interval and time shift. */
export function panelQuery(
  panel: Panel,
  target: Target,
  range: { from: number; to: number },
  variables: ReadonlyMap<string, VariableValue>,
): string {
  const context0: QueryContext = { from: range.from, to: range.to, intervalMs: 0, variables };
  const shift = panel.timeShift ? parseDuration(replaceVariables(panel.timeShift, context0)) : 0;
  const from = range.from - shift;
  const to = range.to - shift;
  const context: QueryContext = {
    from,
    to,
    intervalMs: intervalFor(from, to, panel.interval ?? '1m', MAX_DATA_POINTS),
    variables,
  };
  return interpolateQuery(target.query ?? '', context);
}

export function runPanelQuery(
  influx: InfluxHarness,
  panel: Panel,
  target: Target,
  range: { from: number; to: number },
  variables: ReadonlyMap<string, VariableValue>,
): Promise<QueryRow[]> {
  return influx.query(panelQuery(panel, target, range, variables));
}
