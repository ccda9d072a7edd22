/**
 * What Grafana does to a raw InfluxQL query before InfluxDB sees it, so that tests run exactly those
 * queries against a real influxd.
 *
 * 1. In the browser, template variables are replaced (TemplateSrv.replace, public/app/features/templating/
 *    template_srv.ts, with its variable syntax `$name`, `${name}`, `${name:format}`, `[[name]]`). A value
 *    with an explicit format goes through the format registry: `regex` gives the regex-escaped value, or
 *    `(a|b)` for several (docs: variables/variable-syntax, "Advanced variable format options"). Without a
 *    format, the InfluxDB datasource's interpolateQueryExpr (public/app/plugins/datasource/influxdb/
 *    datasource.ts) formats it: a single-valued variable is kept as is when it is a number (influxRegularEscape),
 *    a multi-valued one becomes `(a|b)` (docs: "Formatting multi-value variables"). `$__interval` and
 *    `$__interval_ms` are scoped variables of the request, `${__from}` and `${__to}` global ones. A panel
 *    repeated by a variable (`repeat`) is one copy per selected value, the variable scoped to that value.
 * 2. On the server, pkg/tsdb/influxdb/models/query.go `Build` replaces `$timeFilter` with
 *    `time >= <from>ms and time <= <to>ms`, then `$interval`, `$__interval_ms` and `$__interval`, the
 *    interval written by gtime.FormatInterval.
 *
 * The interval is the range divided by the maximum number of points, at least the panel's (or else the
 * datasource's) minimum interval, rounded by gtime.RoundInterval (grafana-plugin-sdk-go; the same table
 * as the browser's rangeutil).
 */

export interface VariableValue {
  /** The selected values; "All" without a custom all value selects every option. */
  values: string[];
  multi: boolean;
  includeAll: boolean;
}

export interface QueryContext {
  from: number;
  to: number;
  intervalMs: number;
  variables: ReadonlyMap<string, VariableValue>;
}

/** TemplateSrv's variable syntax: $name | [[name:format]] | ${name.fieldPath:format}. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

/** kbn.regexEscape. */
function regexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

function formatRegex(values: string[]): string {
  const escaped = values.map(regexEscape);
  return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
}

/** The InfluxDB datasource's formatting of a variable used without an explicit format. */
function formatForInflux(variable: VariableValue): string {
  if (!variable.multi && !variable.includeAll) {
    const value = variable.values[0];
    return Number.isNaN(parseFloat(value)) ? regexEscape(value) : value;
  }
  return formatRegex(variable.values);
}

/** Step 1: template variables, as the browser replaces them. Unknown names are left in place. */
export function replaceVariables(text: string, context: QueryContext): string {
  const scoped: Record<string, string> = {
    __interval: formatInterval(context.intervalMs),
    __interval_ms: String(context.intervalMs),
    // Global variables: the dashboard's time range in epoch ms (docs: variables/add-template-variables,
    // "Global variables").
    __from: String(context.from),
    __to: String(context.to),
  };
  return text.replace(
    VARIABLE,
    (
      match,
      plain?: string,
      bracket?: string,
      bracketFormat?: string,
      braced?: string,
      _path?: string,
      bracedFormat?: string,
    ) => {
      const name = plain ?? bracket ?? braced ?? '';
      const format = bracketFormat ?? bracedFormat;
      if (name in scoped) return scoped[name];
      const variable = context.variables.get(name);
      if (!variable) return match;
      if (format === undefined) return formatForInflux(variable);
      if (format === 'regex') return formatRegex(variable.values);
      throw new Error(`variable format '${format}' of ${match} is not one the dashboards use (regex)`);
    },
  );
}

/** Steps 1 and 2: the InfluxQL that reaches InfluxDB. */
export function interpolateQuery(query: string, context: QueryContext): string {
  const interval = formatInterval(context.intervalMs);
  return replaceVariables(query, context)
    .replaceAll('$timeFilter', `time >= ${context.from}ms and time <= ${context.to}ms`)
    .replaceAll('$interval', interval)
    .replaceAll('$__interval_ms', String(context.intervalMs))
    .replaceAll('$__interval', interval);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

/** gtime.FormatInterval. */
export function formatInterval(ms: number): string {
  if (ms >= YEAR) return `${Math.floor(ms / YEAR)}y`;
  if (ms >= DAY) return `${Math.floor(ms / DAY)}d`;
  if (ms >= HOUR) return `${Math.floor(ms / HOUR)}h`;
  if (ms >= MINUTE) return `${Math.floor(ms / MINUTE)}m`;
  if (ms >= SECOND) return `${Math.floor(ms / SECOND)}s`;
  return `${ms}ms`;
}

/** gtime.RoundInterval: upper bound of each step (ms) → the rounded interval. */
const ROUNDING: [number, number][] = [
  [10, 1],
  [15, 10],
  [35, 20],
  [75, 50],
  [150, 100],
  [350, 200],
  [750, 500],
  [1500, SECOND],
  [3500, 2 * SECOND],
  [7500, 5 * SECOND],
  [12_500, 10 * SECOND],
  [17_500, 15 * SECOND],
  [25_000, 20 * SECOND],
  [45_000, 30 * SECOND],
  [90_000, MINUTE],
  [210_000, 2 * MINUTE],
  [450_000, 5 * MINUTE],
  [750_000, 10 * MINUTE],
  [1_050_000, 15 * MINUTE],
  [1_500_000, 20 * MINUTE],
  [2_700_000, 30 * MINUTE],
  [5_400_000, HOUR],
  [9_000_000, 2 * HOUR],
  [16_200_000, 3 * HOUR],
  [32_400_000, 6 * HOUR],
  [86_400_000, 12 * HOUR],
  [172_800_000, DAY],
  [604_800_000, DAY],
  [1_814_400_000, 7 * DAY],
];

export function roundInterval(ms: number): number {
  for (const [bound, rounded] of ROUNDING) if (ms <= bound) return rounded;
  return ms < 3_628_800_000 ? 30 * DAY : YEAR;
}

/** Grafana's duration strings (`10s`, `15m`, `1h`, `7d`, `2w`); months and years are not fixed lengths. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!match) throw new Error(`'${text}' is not a duration such as 30s, 15m, 1h, 7d or 2w`);
  const unit = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}

/** The request interval of a panel (pkg/tsdb/intervalv2 Calculate). */
export function intervalFor(from: number, to: number, minInterval: string, maxDataPoints: number): number {
  const calculated = Math.floor((to - from) / maxDataPoints);
  const low = parseDuration(minInterval);
  return roundInterval(calculated < low ? low : calculated);
}
