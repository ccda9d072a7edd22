import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { BuildingConfig, PointConfig } from '../../../config/schema';
import type { CounterStep } from '../../../controller/telemetry/counters';
import type { Quality } from '../../../drivers/driver';
import { PointCatalog } from '../../../controller/telemetry/points';
import { type InfluxHarness, type QueryRow, startInflux } from '../../helpers/influxd';
import { fillTelemetry, type TelemetryFixture } from '../../helpers/telemetryFixture';
import {
  DASHBOARDS_DIR,
  GRAFANA,
  MAX_DATA_POINTS,
  dashboardByUid,
  repeatedVariables,
  resolveVariables,
  runPanelQuery,
  variableQuery,
  type Panel,
  type Target,
} from './dashboardFiles';
import { interpolateQuery, intervalFor, type VariableValue } from './grafanaInfluxql';

// « Territoire » shows every building point quantity by quantity, with nothing of the territory written
// in its JSON: the variables come from SHOW TAG VALUES, the curves repeat by quantity and take their unit
// from the lines. A sensor of a quantity no one has seen before is written here exactly as the service
// writes it (the point catalog's lines, through the InfluxDB 2 write route) and must show up.

const UID = 'nocturne-territoire';
const FILE = path.join(DASHBOARDS_DIR, 'territoire.json');
const dashboard = dashboardByUid(UID);
const MINUTE = 60_000;

function panel(title: string): Panel {
  const found = dashboard.panels.find((p) => p.title === title);
  if (!found) throw new Error(`${UID} has no panel '${title}'`);
  return found;
}
function target(of: Panel, refId: string): Target {
  const found = of.targets?.find((t) => t.refId === refId);
  if (!found) throw new Error(`panel '${of.title}' has no query ${refId}`);
  return found;
}

const curves = panel('${quantity} par point');
const lastValues = panel('Dernière valeur de chaque point et son âge');
const openAlerts = panel('Alertes ouvertes par commune');

/** The query of the repeated panel whose result configures its fields (the unit). */
function configQuery(of: Panel): Target {
  const transformation = of.transformations?.find((t) => t.id === 'configFromData');
  if (!transformation) throw new Error(`panel '${of.title}' takes no configuration from its data`);
  return target(of, transformation.options.configRefId as string);
}

describe('territoire.json, as written', () => {
  test('commune, then quantity, then building: each filled from the data and chained on the ones before', () => {
    const byName = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect([...byName.keys()]).toEqual(['commune', 'quantity', 'building']);
    expect(variableQuery(byName.get('commune')!)).toBe('SHOW TAG VALUES FROM "sensor" WITH KEY = "commune"');
    expect(variableQuery(byName.get('quantity')!)).toMatch(
      /^SHOW TAG VALUES FROM "sensor" WITH KEY = "quantity" WHERE "commune" =~ \/\^\$\{commune:regex\}\$\/$/,
    );
    const building = variableQuery(byName.get('building')!);
    expect(building).toMatch(/^SHOW TAG VALUES FROM "sensor" WITH KEY = "building" WHERE /);
    expect(building).toContain('"commune" =~ /^${commune:regex}$/');
    expect(building).toContain('"quantity" =~ /^${quantity:regex}$/');
    // On All, without a custom all value and without stored options: a new value is selected as it appears.
    for (const variable of byName.values()) {
      expect({
        name: variable.name,
        type: variable.type,
        multi: variable.multi,
        includeAll: variable.includeAll,
        allValue: variable.allValue ?? null,
        current: variable.current?.value,
        options: variable.options,
      }).toEqual({
        name: variable.name,
        type: 'query',
        multi: true,
        includeAll: true,
        allValue: null,
        current: ['$__all'],
        options: [],
      });
    }
  });

  test('is provisioned: the provider loads the folder docker-compose mounts grafana/dashboards on', () => {
    const compose = parseYaml(readFileSync(path.join(GRAFANA, '..', 'docker-compose.yml'), 'utf8')) as {
      services: { grafana: { volumes: string[] } };
    };
    const mount = compose.services.grafana.volumes
      .map((v) => v.split(':'))
      .find(([source]) => source === './grafana/dashboards');
    const providers = readdirSync(path.join(GRAFANA, 'provisioning', 'dashboards'))
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap(
        (f) =>
          (
            parseYaml(readFileSync(path.join(GRAFANA, 'provisioning', 'dashboards', f), 'utf8')) as {
              providers: { options: { path: string } }[];
            }
          ).providers,
      );
    expect(mount).toBeDefined();
    expect(providers.map((p) => p.options.path)).toContain(mount![1]);
    expect(path.dirname(FILE)).toBe(DASHBOARDS_DIR);
  });

  test('the curves repeat by quantity and take their unit from the data, not from the JSON', () => {
    expect(curves.repeat).toBe('quantity');
    expect(curves.fieldConfig?.defaults).not.toHaveProperty('unit');
    const transformation = curves.transformations!.find((t) => t.id === 'configFromData')!;
    expect(transformation.options).toMatchObject({
      mappings: expect.arrayContaining([{ fieldName: 'unit', handlerKey: 'unit' }]) as unknown,
      applyTo: { id: 'byFrameRefID', options: 'A' },
    });
    expect(configQuery(curves).query).toMatch(
      /^SELECT LAST\("value"\) AS "valeur", "unit"::tag FROM "sensor"/,
    );
    // Only the repeated panel varies with the data: no quantity, unit or commune is written in the file.
    const text = readFileSync(FILE, 'utf8');
    for (const literal of ['temperature', '°C', 'metz', 'composter'])
      expect({ literal, found: text.includes(literal) }).toEqual({ literal, found: false });
  });
});

describe('territoire.json against InfluxDB filled with simulated telemetry', () => {
  let influx: InfluxHarness;
  let fixture: TelemetryFixture;

  beforeAll(async () => {
    influx = await startInflux({ database: 'nocturne' });
    fixture = await fillTelemetry(influx);
  }, 60_000);

  afterAll(async () => {
    await influx?.stop();
  });

  /** The sensor points of the fixture's configuration by quantity: 'building/point' → unit. */
  function sensorPoints(): Map<string, Map<string, string>> {
    const byQuantity = new Map<string, Map<string, string>>();
    for (const building of fixture.config.buildings)
      for (const point of building.points) {
        if (point.measurement !== 'sensor') continue;
        const points = byQuantity.get(point.quantity) ?? new Map<string, string>();
        points.set(`${building.id}/${point.id}`, point.unit);
        byQuantity.set(point.quantity, points);
      }
    return byQuantity;
  }

  function variables(to = fixture.to): Promise<Map<string, VariableValue>> {
    return resolveVariables(influx, dashboard, fixture.from, to);
  }

  /** Each copy of the repeated panel: its quantity, the rows of its curves and the unit it gets. */
  async function repeatedCurves(
    values: ReadonlyMap<string, VariableValue>,
  ): Promise<Map<string, { rows: QueryRow[]; units: unknown[] }>> {
    const copies = new Map<string, { rows: QueryRow[]; units: unknown[] }>();
    for (const copy of repeatedVariables(curves, values)) {
      const rows = await runPanelQuery(influx, curves, target(curves, 'A'), fixture, copy.variables);
      const config = await runPanelQuery(influx, curves, configQuery(curves), fixture, copy.variables);
      copies.set(copy.value!, { rows, units: config.map((row) => row.values.unit) });
    }
    return copies;
  }

  test('one panel per quantity, a curve per point of it, the unit its lines carry', async () => {
    const expected = sensorPoints();
    const values = await variables();
    expect(values.get('quantity')!.values.sort()).toEqual([...expected.keys()].sort());
    const copies = await repeatedCurves(values);
    expect([...copies.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [quantity, { rows, units }] of copies) {
      const points = expected.get(quantity)!;
      const drawn = new Set(rows.map((row) => `${row.tags.building}/${row.tags.point}`));
      expect({ quantity, drawn: [...drawn].sort() }).toEqual({ quantity, drawn: [...points.keys()].sort() });
      expect(rows.every((row) => typeof row.values.valeur === 'number')).toBe(true);
      // Points without a unit (lights on, door open) write no unit tag: the panel keeps plain numbers.
      const unit = [...points.values()][0];
      expect({ quantity, units }).toEqual({ quantity, units: unit === '' ? [] : [unit] });
    }
  });

  test('the table lists every point once, with its unit and its last good value', async () => {
    const rows = await runPanelQuery(influx, lastValues, target(lastValues, 'A'), fixture, await variables());
    const expected = new Map([...sensorPoints().values()].flatMap((points) => [...points]));
    const listed = rows.map((row): [string, string] => [
      `${row.tags.building}/${row.tags.point}`,
      row.tags.unit,
    ]);
    expect(new Map(listed)).toEqual(expected);
    expect(listed).toHaveLength(expected.size);
    for (const row of rows) expect(row.values.time as number).toBeGreaterThan(fixture.to - 20 * MINUTE);
  });

  test('open alerts per commune: raised and not cleared by the end of the period', async () => {
    const values = await variables();
    const open = async (to: number): Promise<Record<string, number>> => {
      const rows = await runPanelQuery(
        influx,
        openAlerts,
        target(openAlerts, 'A'),
        { from: fixture.from, to },
        values,
      );
      // What the panel keeps (filterByValue > 0).
      return Object.fromEntries(
        rows
          .filter((row) => (row.values.ouvertes as number) > 0)
          .map((row) => [`${row.tags.commune} ${row.tags.severity}`, row.values.ouvertes as number]),
      );
    };
    const leak = fixture.config.buildings.find((b) => b.id === fixture.incidents.leakBuilding)!;
    const lamp = fixture.config.zones.find((z) =>
      z.luminaires.some((l) => l.id === fixture.incidents.failedLuminaire),
    )!;
    // The leak (acknowledged, still open) and the failed lamp; the controller that came back is cleared.
    const atEnd = { [`${leak.commune} warning`]: 1 } as Record<string, number>;
    atEnd[`${lamp.commune} critical`] = (atEnd[`${lamp.commune} critical`] ?? 0) + 1;
    expect(await open(fixture.to)).toEqual(atEnd);

    // At every change of an alert, what the events up to then say.
    const events = await influx.query(
      `SELECT "state", "id" FROM "event" WHERE "kind" = 'alert' GROUP BY "commune", "severity"`,
    );
    const changes = [...new Set(events.map((e) => e.values.time as number))].sort((a, b) => a - b);
    expect(changes.length).toBeGreaterThan(3);
    for (const at of changes.flatMap((t) => [t - 1, t])) {
      const expected: Record<string, number> = {};
      for (const e of events) {
        if ((e.values.time as number) > at) continue;
        const key = `${e.tags.commune} ${e.tags.severity}`;
        const step = e.values.state === 'raised' ? 1 : e.values.state === 'cleared' ? -1 : 0;
        expected[key] = (expected[key] ?? 0) + step;
        if (expected[key] === 0) delete expected[key];
      }
      expect({ at, open: await open(at) }).toEqual({ at, open: expected });
    }
  });

  describe('a sensor of a quantity never seen before', () => {
    const QUANTITY = 'composter_temperature';
    const UNIT = '°C';
    let building: BuildingConfig;
    let point: PointConfig;
    const samples: { at: number; value: number | null; quality: Quality }[] = [];

    beforeAll(async () => {
      // Configured as any sensor, written by the point catalog as the service writes it.
      const base = fixture.config.buildings[0];
      const template = fixture.config.buildings
        .flatMap((b) => b.points)
        .find((p) => p.measurement === 'sensor' && p.modbus)!;
      point = {
        ...template,
        id: 'composteur-temperature',
        name: 'Température du composteur',
        quantity: QUANTITY,
        unit: UNIT,
        room: undefined,
      };
      building = {
        ...base,
        id: `${base.commune}-composteur-partage`,
        name: 'Composteur partagé',
        points: [point],
      };
      const catalog = new PointCatalog({ buildings: [building], telemetry: fixture.config.telemetry });
      const entry = catalog.points[0];
      const step: CounterStep = { event: 'first', delta: Number.NaN, rate: Number.NaN };
      // Six hours before the end of the range, every 10 minutes; then a doubtful value and a failed reading,
      // neither of which makes the point fresh again.
      for (let at = fixture.to - 6 * 60 * MINUTE; at < fixture.to - 20 * MINUTE; at += 10 * MINUTE)
        samples.push({ at, value: 45 + 10 * Math.sin(at / (90 * MINUTE)), quality: 'good' });
      samples.push({ at: fixture.to - 15 * MINUTE, value: 80, quality: 'uncertain' });
      samples.push({ at: fixture.to - 5 * MINUTE, value: null, quality: 'bad' });
      const lines = samples.map(({ at, value, quality }) =>
        entry.ingest({ key: entry.key, value, quality, time: at }, at, step),
      );
      expect(lines[0]).toMatch(/^sensor,building=.*,quantity=composter_temperature,.*unit=°C value=/);
      expect(lines.at(-1)).toMatch(/ quality="bad" \d+$/);
      await writeLines(influx, lines);
    });

    test('appears among the quantities, and its building among the buildings', async () => {
      const values = await variables();
      expect(values.get('quantity')!.values).toContain(QUANTITY);
      expect(values.get('building')!.values).toContain(building.id);
      // Chained: choosing another quantity leaves the composter out of the buildings.
      const temperature = new Map(values);
      temperature.set('quantity', { ...values.get('quantity')!, values: ['temperature'] });
      const buildings = await influx.query(
        interpolateQuery(variableQuery(dashboard.templating.list.find((v) => v.name === 'building')!), {
          from: fixture.from,
          to: fixture.to,
          intervalMs: MINUTE,
          variables: temperature,
        }),
      );
      expect(buildings.map((r) => r.values.value)).not.toContain(building.id);
    });

    test('gets its own panel, with its curve and its unit, and no other panel shows it', async () => {
      const copies = await repeatedCurves(await variables());
      const own = copies.get(QUANTITY)!;
      expect(own.units).toEqual([UNIT]);
      expect(new Set(own.rows.map((r) => `${r.tags.building}/${r.tags.point}`))).toEqual(
        new Set([`${building.id}/${point.id}`]),
      );
      // The mean of the samples of each interval of the request, at the interval's start.
      const interval = intervalFor(fixture.from, fixture.to, curves.interval ?? '1m', MAX_DATA_POINTS);
      const buckets = new Map<number, number[]>();
      for (const { at, value } of samples) {
        if (value === null) continue;
        const start = Math.floor(at / interval) * interval;
        buckets.set(start, [...(buckets.get(start) ?? []), value]);
      }
      const means = [...buckets].map(([time, values]) => ({
        time,
        valeur: values.reduce((a, b) => a + b, 0) / values.length,
      }));
      const drawn = own.rows.map((r) => ({
        time: r.values.time as number,
        valeur: r.values.valeur as number,
      }));
      expect(drawn.map((d) => d.time)).toEqual(means.map((m) => m.time));
      drawn.forEach((d, i) => expect(d.valeur).toBeCloseTo(means[i].valeur, 9));
      // 'temperature' is a substring of 'composter_temperature': the regex must be anchored.
      for (const [quantity, { rows }] of copies)
        if (quantity !== QUANTITY)
          expect({ quantity, composter: rows.some((r) => r.tags.building === building.id) }).toEqual({
            quantity,
            composter: false,
          });
    });

    test('is listed with its last good value and the age of that value, not of the failed reading', async () => {
      const rows = await runPanelQuery(
        influx,
        lastValues,
        target(lastValues, 'A'),
        fixture,
        await variables(),
      );
      const own = rows.filter((r) => r.tags.building === building.id);
      const lastGood = samples.filter((s) => s.quality === 'good').at(-1)!;
      expect(own.map((r) => ({ tags: r.tags, values: r.values }))).toEqual([
        {
          tags: {
            commune: building.commune,
            building: building.id,
            point: point.id,
            quantity: QUANTITY,
            unit: UNIT,
          },
          values: { time: lastGood.at, valeur: lastGood.value },
        },
      ]);
    });
  });
});

/** POST through the harness's InfluxDB 2 write route, as the service's writer does. */
function writeLines(influx: InfluxHarness, lines: string[]): Promise<void> {
  const url = `${influx.url}/api/v2/write?org=nocturne&bucket=${encodeURIComponent(influx.database)}&precision=ms`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (res.statusCode === 204) resolve();
        else reject(new Error(`write: HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(lines.join('\n'));
  });
}
