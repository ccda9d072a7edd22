import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type InfluxHarness, type QueryRow, startInflux } from '../../helpers/influxd';
import { fillTelemetry, type TelemetryFixture } from '../../helpers/telemetryFixture';
import {
  dashboards,
  GRAFANA,
  panelQuery,
  resolveVariables as resolveDashboardVariables,
  variableQuery,
  type Dashboard,
  type DatasourceRef,
  type Panel,
  type Target,
} from './dashboardFiles';
import { interpolateQuery, type QueryContext, type VariableValue } from './grafanaInfluxql';

// Grafana cannot run here: its provisioning files are checked against the documented format
// (grafana.com/docs/grafana/latest/administration/provisioning), and every query of every dashboard is
// interpolated as Grafana does and run against a real influxd filled with days of simulated telemetry.

const DATASOURCES_DIR = path.join(GRAFANA, 'provisioning', 'datasources');
const PROVIDERS_DIR = path.join(GRAFANA, 'provisioning', 'dashboards');

const readYaml = (file: string): unknown => parseYaml(readFileSync(file, 'utf8')) as unknown;
const yamlFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(dir, f));

const provisionedDatasources = yamlFiles(DATASOURCES_DIR).flatMap(
  (file) => (readYaml(file) as { datasources: DatasourceRef[] }).datasources,
);

/** Every text of a dashboard where Grafana interpolates variables, with where it sits. */
function interpolatedTexts(dashboard: Dashboard): { where: string; text: string; alias: boolean }[] {
  const texts: { where: string; text: string; alias: boolean }[] = [];
  for (const panel of dashboard.panels) {
    texts.push({ where: `panel '${panel.title}' title`, text: panel.title, alias: false });
    if (panel.timeShift)
      texts.push({ where: `panel '${panel.title}' timeShift`, text: panel.timeShift, alias: false });
    for (const target of panel.targets ?? []) {
      texts.push({ where: `panel '${panel.title}' ${target.refId}`, text: target.query ?? '', alias: false });
      if (target.alias)
        texts.push({
          where: `panel '${panel.title}' ${target.refId} alias`,
          text: target.alias,
          alias: true,
        });
    }
  }
  for (const variable of dashboard.templating.list)
    if (variable.type === 'query')
      texts.push({ where: `variable '${variable.name}'`, text: variableQuery(variable), alias: false });
  for (const annotation of dashboard.annotations.list)
    if (annotation.target?.query)
      texts.push({ where: `annotation '${annotation.name}'`, text: annotation.target.query, alias: false });
  return texts;
}

/** Names referred to as $name, ${name…} or [[name…]]. */
function referencedNames(text: string): string[] {
  return [...text.matchAll(/\$(\w+)|\[\[(\w+)|\$\{(\w+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Grafana's own: the InfluxQL macros, the request's interval and the dashboard's time range. */
const BUILT_INS = new Set(['timeFilter', 'interval', '__interval', '__interval_ms', '__from', '__to']);

/**
 * Columns the outer SELECT returns: each item is `expression AS "alias"`, a field `"name"` or a tag
 * `"name"::tag`, so that legends and table headers read as intended.
 */
function selectedColumns(query: string): string[] {
  const text = query.trim();
  if (!/^SELECT\s/i.test(text)) return [];
  let depth = 0;
  let fromAt = -1;
  for (let i = 6; i < text.length && fromAt < 0; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && /^\sFROM\s/i.test(text.slice(i, i + 6))) fromAt = i;
  }
  if (fromAt < 0) throw new Error(`no FROM at the top level of: ${query}`);
  const items: string[] = [];
  depth = 0;
  let start = 6;
  const list = text.slice(0, fromAt);
  for (let i = 6; i <= list.length; i++) {
    const c = list[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    if (i === list.length || (c === ',' && depth === 0)) {
      items.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  return items.map((item) => {
    const column = /\sAS\s+"([^"]+)"$/i.exec(item) ?? /^"([^"]+)"(?:::(?:tag|field))?$/.exec(item);
    if (!column) throw new Error(`select item '${item}' has no alias (AS "…"): ${query}`);
    return column[1];
  });
}

describe('provisioning, against the format Grafana documents', () => {
  test('datasources: apiVersion 1, documented keys, an InfluxDB in InfluxQL whose secrets come from the environment', () => {
    const files = yamlFiles(DATASOURCES_DIR);
    expect(files.length).toBeGreaterThan(0);
    const documented = new Set([
      'name',
      'type',
      'access',
      'orgId',
      'uid',
      'url',
      'user',
      'database',
      'basicAuth',
      'basicAuthUser',
      'withCredentials',
      'isDefault',
      'jsonData',
      'secureJsonData',
      'version',
      'editable',
    ]);
    for (const file of files) {
      const doc = readYaml(file) as { apiVersion: number; datasources: Record<string, unknown>[] };
      expect({ file, apiVersion: doc.apiVersion }).toEqual({ file, apiVersion: 1 });
      expect(
        Object.keys(doc).filter(
          (k) => !['apiVersion', 'datasources', 'deleteDatasources', 'prune'].includes(k),
        ),
      ).toEqual([]);
      for (const ds of doc.datasources) {
        expect(Object.keys(ds).filter((k) => !documented.has(k))).toEqual([]);
        expect({ name: typeof ds.name, type: typeof ds.type, access: ds.access }).toEqual({
          name: 'string',
          type: 'string',
          access: 'proxy',
        });
      }
    }
    const influx = provisionedDatasources.find((ds) => ds.type === 'influxdb') as Record<string, unknown> & {
      jsonData: Record<string, unknown>;
      secureJsonData: Record<string, unknown>;
    };
    expect(influx).toMatchObject({
      uid: 'nocturne-influxdb',
      url: '$INFLUX_URL',
      jsonData: { version: 'InfluxQL', dbName: '$INFLUX_BUCKET', httpHeaderName1: 'Authorization' },
      secureJsonData: { httpHeaderValue1: 'Token $INFLUX_READ_TOKEN' },
    });
    // The deprecated top-level `database` would shadow jsonData.dbName.
    expect(influx).not.toHaveProperty('database');
    expect(provisionedDatasources.filter((ds) => (ds as { isDefault?: boolean }).isDefault)).toHaveLength(1);
  });

  test('dashboard provider: documented keys, file type, a path for the dashboards', () => {
    const documented = new Set([
      'name',
      'orgId',
      'folder',
      'folderUid',
      'type',
      'disableDeletion',
      'updateIntervalSeconds',
      'allowUiUpdates',
      'options',
    ]);
    const providers = yamlFiles(PROVIDERS_DIR).flatMap((file) => {
      const doc = readYaml(file) as { apiVersion: number; providers: Record<string, unknown>[] };
      expect(doc.apiVersion).toBe(1);
      return doc.providers;
    });
    expect(providers.length).toBeGreaterThan(0);
    for (const provider of providers) {
      expect(Object.keys(provider).filter((k) => !documented.has(k))).toEqual([]);
      expect({ name: typeof provider.name, type: provider.type }).toEqual({ name: 'string', type: 'file' });
      const options = provider.options as Record<string, unknown>;
      expect(Object.keys(options).filter((k) => !['path', 'foldersFromFilesStructure'].includes(k))).toEqual(
        [],
      );
      expect(options.path).toMatch(/^\//);
    }
    expect(new Set(providers.map((p) => p.name)).size).toBe(providers.length);
  });
});

describe('dashboards', () => {
  test('there are the four dashboards, with unique uids and titles', () => {
    expect(dashboards.map((d) => d.dashboard.uid)).toEqual([
      'nocturne-alerts',
      'nocturne-energy',
      'nocturne-lighting',
      'nocturne-territoire',
    ]);
    expect(new Set(dashboards.map((d) => d.dashboard.title)).size).toBe(dashboards.length);
  });

  describe.each(dashboards)('$file', ({ dashboard }) => {
    test('panel ids are unique', () => {
      const ids = dashboard.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    });

    test('every datasource reference resolves to a provisioned datasource', () => {
      const refs: { where: string; ref: DatasourceRef }[] = [];
      for (const panel of dashboard.panels) {
        if (panel.datasource) refs.push({ where: `panel '${panel.title}'`, ref: panel.datasource });
        for (const target of panel.targets ?? [])
          if (target.datasource)
            refs.push({ where: `panel '${panel.title}' ${target.refId}`, ref: target.datasource });
      }
      for (const variable of dashboard.templating.list)
        if (variable.datasource)
          refs.push({ where: `variable '${variable.name}'`, ref: variable.datasource });
      for (const annotation of dashboard.annotations.list)
        if (annotation.datasource && !annotation.builtIn)
          refs.push({ where: `annotation '${annotation.name}'`, ref: annotation.datasource });
      expect(refs.length).toBeGreaterThan(0);
      const unresolved = refs.filter(
        ({ ref }) => !provisionedDatasources.some((ds) => ds.uid === ref.uid && ds.type === ref.type),
      );
      expect(unresolved).toEqual([]);
    });

    test('every variable used is defined, and every variable defined is used', () => {
      const defined = new Set(dashboard.templating.list.map((v) => v.name));
      const used = new Set<string>();
      const undefinedUses: string[] = [];
      for (const { where, text, alias } of interpolatedTexts(dashboard)) {
        for (const name of referencedNames(text)) {
          // Aliases name series by their tags: $tag_<key>.
          if (alias && name.startsWith('tag_')) continue;
          if (defined.has(name)) used.add(name);
          else if (!BUILT_INS.has(name)) undefinedUses.push(`${where}: $${name}`);
        }
      }
      expect(undefinedUses).toEqual([]);
      expect([...defined].filter((name) => !used.has(name))).toEqual([]);
    });

    test('every query is raw InfluxQL with every selected column named', () => {
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          expect({ panel: panel.title, rawQuery: target.rawQuery }).toEqual({
            panel: panel.title,
            rawQuery: true,
          });
          expect(selectedColumns(target.query ?? '').length).toBeGreaterThan(0);
          // Functions InfluxDB 3 does not serve.
          expect(target.query).not.toMatch(/\b(INTEGRAL|SLIMIT|SOFFSET|SHOW SERIES)\b/i);
        }
      }
    });
  });
});

describe('every query against InfluxDB filled with simulated telemetry', () => {
  let influx: InfluxHarness;
  let fixture: TelemetryFixture;

  beforeAll(async () => {
    influx = await startInflux({ database: 'nocturne' });
    fixture = await fillTelemetry(influx);
  }, 60_000);

  afterAll(async () => {
    await influx?.stop();
  });

  function resolveVariables(
    dashboard: Dashboard,
    from: number,
    to: number,
  ): Promise<Map<string, VariableValue>> {
    return resolveDashboardVariables(influx, dashboard, from, to);
  }

  async function run(dashboard: Dashboard, panel: Panel, target: Target): Promise<QueryRow[]> {
    const variables = await resolveVariables(dashboard, fixture.from, fixture.to);
    const query = panelQuery(panel, target, fixture, variables);
    expect(query).not.toMatch(/\$\w|\$\{|\[\[/);
    return influx.query(query);
  }

  const cases = dashboards.flatMap(({ file, dashboard }) =>
    dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({
        name: `${file} '${panel.title}' ${target.refId}`,
        dashboard,
        panel,
        target,
      })),
    ),
  );

  test.each(cases)('$name returns series with its columns', async ({ dashboard, panel, target }) => {
    const rows = await run(dashboard, panel, target);
    expect(rows.length).toBeGreaterThan(0);
    for (const column of ['time', ...selectedColumns(target.query ?? '')]) {
      const filled = rows.filter((row) => row.values[column] !== null && row.values[column] !== undefined);
      expect({ column, filled: filled.length > 0 }).toEqual({ column, filled: true });
    }
    for (const [, key] of (target.alias ?? '').matchAll(/\$tag_(\w+)/g))
      expect({ key, tagged: rows.every((row) => row.tags[key] !== undefined) }).toEqual({
        key,
        tagged: true,
      });
  });

  const variableCases = dashboards.flatMap(({ file, dashboard }) =>
    dashboard.templating.list
      .filter((v) => v.type === 'query')
      .map((variable) => ({ name: `${file} $${variable.name}`, dashboard, variable })),
  );

  test.each(variableCases)('variable $name lists values', async ({ dashboard, variable }) => {
    const variables = await resolveVariables(dashboard, fixture.from, fixture.to);
    expect(variables.get(variable.name)!.values.length).toBeGreaterThan(0);
  });

  const annotationCases = dashboards.flatMap(({ file, dashboard }) =>
    dashboard.annotations.list
      .filter((a) => a.target?.query)
      .map((annotation) => ({ name: `${file} '${annotation.name}'`, dashboard, annotation })),
  );

  test.each(annotationCases)(
    'annotation $name returns events with its text and tags',
    async ({ dashboard, annotation }) => {
      const variables = await resolveVariables(dashboard, fixture.from, fixture.to);
      const context: QueryContext = { from: fixture.from, to: fixture.to, intervalMs: 60_000, variables };
      const rows = await influx.query(interpolateQuery(annotation.target!.query!, context));
      expect(rows.length).toBeGreaterThan(0);
      const columns = [
        annotation.target!.textColumn!,
        ...(annotation.target!.tagsColumn ?? '').split(','),
      ].filter(Boolean);
      for (const column of columns)
        expect(rows.every((row) => typeof row.values[column] === 'string')).toBe(true);
    },
  );

  // What the panels must show of the incidents the simulated days contain.

  function panelTarget(uid: string, title: string): { dashboard: Dashboard; panel: Panel; target: Target } {
    const dashboard = dashboards.find((d) => d.dashboard.uid === uid)!.dashboard;
    const panel = dashboard.panels.find((p) => p.title === title);
    if (!panel) throw new Error(`${uid} has no panel '${title}'`);
    return { dashboard, panel, target: panel.targets![0] };
  }

  async function runPanel(uid: string, title: string): Promise<QueryRow[]> {
    const { dashboard, panel, target } = panelTarget(uid, title);
    return run(dashboard, panel, target);
  }

  test('the night water flow shows the leak, and only there', async () => {
    const rows = await runPanel('nocturne-energy', "Débit d'eau nocturne minimal par bâtiment (m³/h)");
    const leakDays = rows.filter(
      (r) =>
        r.tags.building === fixture.incidents.leakBuilding &&
        (r.values.time as number) > fixture.incidents.leakFrom,
    );
    expect(leakDays.length).toBeGreaterThan(3);
    for (const row of leakDays) expect(row.values['m³/h']).toBeGreaterThan(0.1);
    const elsewhere = rows.filter((r) => r.tags.building !== fixture.incidents.leakBuilding);
    expect(elsewhere.length).toBeGreaterThan(0);
    for (const row of elsewhere) expect(row.values['m³/h']).toBeLessThan(0.01);
  });

  test('the daily electricity per building adds up to the meters', async () => {
    const rows = await runPanel('nocturne-energy', 'Électricité par jour et par bâtiment (kWh)');
    const total = rows.reduce((sum, r) => sum + (r.values.kWh as number), 0);
    const [first, last] = [
      await influx.query(
        `SELECT FIRST("index") FROM "meter" WHERE "kind" = 'electricity' GROUP BY "building"`,
      ),
      await influx.query(
        `SELECT LAST("index") FROM "meter" WHERE "kind" = 'electricity' GROUP BY "building"`,
      ),
    ];
    const span =
      last.reduce((sum, r) => sum + (r.values.last as number), 0) -
      first.reduce((sum, r) => sum + (r.values.first as number), 0);
    // The first local day has no previous day to take a difference from.
    expect(total).toBeGreaterThan(span * 0.8);
    expect(total).toBeLessThanOrEqual(span + 1e-6);
  });

  test('who decides shows the emergency relight on its zone', async () => {
    const rows = await runPanel('nocturne-lighting', 'Qui décide du niveau');
    const { relightZone, relightFrom, relightTo } = fixture.incidents;
    const relit = rows.filter((r) => r.values.priorité === 1);
    expect(relit.length).toBeGreaterThan(0);
    for (const row of relit) {
      expect(row.tags.zone).toBe(relightZone);
      expect(row.values.time as number).toBeGreaterThanOrEqual(relightFrom - 15 * 60_000);
      expect(row.values.time as number).toBeLessThan(relightTo);
    }
  });

  test('the failed lamp, and only it, is listed', async () => {
    const rows = await runPanel('nocturne-lighting', 'Luminaires en panne');
    expect(rows.map((r) => [r.tags.luminaire, r.values.état])).toEqual([
      [fixture.incidents.failedLuminaire, 1],
    ]);
  });

  test('savings are the full-power reference minus the energy used, priced with the variables', async () => {
    const [row] = await runPanel('nocturne-lighting', 'Économies sur la période');
    const kwh = row.values.kWh as number;
    expect(kwh).toBeGreaterThan(0);
    expect(row.values['€']).toBeCloseTo(kwh * 0.2276, 6);
    expect(row.values['kg CO2e']).toBeCloseTo(kwh * 0.052, 6);
  });

  test('device health shows the outage of the OPC UA controller', async () => {
    const rows = await runPanel('nocturne-alerts', 'Santé des équipements');
    const down = new Set(rows.filter((r) => r.values.santé === 0).map((r) => r.tags.device));
    expect([...down]).toEqual([fixture.config.devices.find((d) => d.protocol === 'opcua' && d.lighting)!.id]);
  });

  test('the comparison panel reads the same duration, shifted', async () => {
    const { panel } = panelTarget('nocturne-energy', 'Électricité par bâtiment, ${comparaison:text} (kWh)');
    expect(panel.timeShift).toBe('$comparaison');
    const shifted = await runPanel('nocturne-energy', 'Électricité par bâtiment, ${comparaison:text} (kWh)');
    const current = await runPanel('nocturne-energy', 'Électricité par bâtiment, période choisie (kWh)');
    // The fixture starts 7 days after the shifted range begins: a week shorter, so less energy.
    const sum = (rows: QueryRow[]): number => rows.reduce((s, r) => s + (r.values.kWh as number), 0);
    expect(sum(shifted)).toBeGreaterThan(0);
    expect(sum(shifted)).toBeLessThan(sum(current) * 0.5);
  });
});
