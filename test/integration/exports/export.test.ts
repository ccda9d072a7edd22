import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { silentLogger } from '../../../core/logger';
import { Exporter } from '../../../controller/exports/exporter';
import { runExportCommand } from '../../../controller/http/exportCommand';
import { InfluxQueryClient } from '../../../drivers/influx/query';
import { type InfluxHarness, startInflux } from '../../helpers/influxd';
import { writeLines } from '../../helpers/influxLoad';
import { freePort } from '../../helpers/ports';
import { EXPORTS_CONFIG, bearerOf, startTerritoryApi, type TerritoryApi } from './fixture';

// Known points in a real influxd, exported through the API and the CLI, and the files read back.

const QUARTER = 900_000;
/** Three days around the autumn change (2026-10-25 03:00 CEST → 02:00 CET), every quarter hour. */
const FROM = '2026-10-24';
const TO = '2026-10-27';
const START = Date.parse('2026-10-24T00:00:00+02:00');
const END = Date.parse('2026-10-27T00:00:00+01:00');

interface Written {
  time: number;
  point: string;
  field: string;
  value: number;
}

const written: Written[] = [];
let influx: InfluxHarness;
let reader: InfluxQueryClient;
let api: TerritoryApi;

beforeAll(async () => {
  influx = await startInflux({ database: 'telemetry' });
  const lines: string[] = [];
  let index = 5000;
  for (let t = START - 4 * QUARTER, i = 0; t < END + 4 * QUARTER; t += QUARTER, i++) {
    const temperature = Math.round((18 + Math.sin(i / 10) * 3) * 1000) / 1000;
    const delta = (i % 7) * 0.25;
    index += delta;
    lines.push(
      `sensor,commune=metz,building=mairie,room=salle-conseil,point=temp,quantity=temperature,unit=°C value=${temperature},quality="good" ${t}`,
      `meter,commune=metz,building=mairie,meter=elec,kind=electricity,unit=kWh index=${index},delta=${delta},quality="good" ${t}`,
      `meter,commune=montigny,building=gymnase,meter=elec,kind=electricity,unit=kWh index=${index * 2} ${t}`,
      `lighting,commune=metz,zone=rue-serpenoise,luminaire=serp-1 level=${i % 101},power_w=${(i % 101) * 0.4} ${t}`,
      `event,commune=metz,kind=command,severity=info actor="energie-metz",message="override" ${t}`,
    );
    if (t >= START && t < END) {
      written.push({ time: t, point: 'temp', field: 'value', value: temperature });
      written.push({ time: t, point: 'elec', field: 'index', value: index });
      written.push({ time: t, point: 'elec', field: 'delta', value: delta });
    }
  }
  await writeLines(influx.directUrl, 'telemetry', lines);
  // Small chunks, so that the export crosses many of them.
  reader = new InfluxQueryClient({ url: influx.url, bucket: 'telemetry', chunkSize: 37, timeoutMs: 5000 });
  api = await startTerritoryApi({
    exports: new Exporter({ config: EXPORTS_CONFIG, reader, logger: silentLogger }),
  });
});

afterAll(async () => {
  await api?.close();
  reader?.close();
  await influx?.stop();
});

function exportUrl(query: Record<string, string>): string {
  return `${api.url}/api/exports?${new URLSearchParams(query).toString()}`;
}

/** A French CSV read back: BOM, header, `;`, decimal comma, local times with offset. */
function readCsv(bytes: Buffer): { header: string[]; rows: Written[] } {
  // The bytes, not fetch's text(): a decoder drops the byte order mark this checks.
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const lines = bytes.subarray(3).toString('utf8').split('\r\n');
  expect(lines.pop()).toBe('');
  const header = lines.shift()!.split(';');
  const rows = lines.map((line) => {
    const cells = line.split(';');
    expect(cells).toHaveLength(8);
    expect(cells[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    expect(cells[7]).not.toContain('.');
    return {
      time: Date.parse(cells[0]),
      point: cells[3],
      field: cells[5],
      value: Number(cells[7].replace(',', '.')),
    };
  });
  return { header, rows };
}

const byKey = (a: Written, b: Written): number =>
  a.point.localeCompare(b.point) || a.field.localeCompare(b.field) || a.time - b.time;

describe('GET /api/exports against a real influxd', () => {
  it('exports a building as a French CSV whose values and times read back as written, across the autumn change', async () => {
    const response = await fetch(exportUrl({ kind: 'building', id: 'mairie', from: FROM, to: TO }), {
      headers: bearerOf('energie-metz'),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(
      'attachment; filename="nocturne-building-mairie.csv"',
    );
    const { header, rows } = readCsv(Buffer.from(await response.arrayBuffer()));
    expect(header).toEqual([
      'horodatage',
      'commune',
      'lieu',
      'point',
      'grandeur',
      'champ',
      'unité',
      'valeur',
    ]);
    expect([...rows].sort(byKey)).toEqual([...written].sort(byKey));
    // 3 days, one of 25 hours: 292 quarter hours, each with its own local time and offset.
    const temperatures = rows.filter((r) => r.point === 'temp');
    expect(temperatures).toHaveLength(292);
    const text = await (
      await fetch(exportUrl({ kind: 'point', id: 'mairie/temp', from: FROM, to: TO }), {
        headers: bearerOf('energie-metz'),
      })
    ).text();
    expect(text).toContain('\r\n2026-10-25T02:15:00+02:00;metz;mairie;temp;temperature;value;°C;');
    expect(text).toContain('\r\n2026-10-25T02:15:00+01:00;metz;mairie;temp;temperature;value;°C;');
  });

  it('exports a zone as NDJSON, with a period given as date-times with offset', async () => {
    const from = '2026-10-25T01:30:00+02:00';
    const to = '2026-10-25T02:30:00+01:00';
    const response = await fetch(
      exportUrl({ kind: 'zone', id: 'rue-serpenoise', from, to, format: 'ndjson' }),
      {
        headers: bearerOf('admin-all'),
      },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    const rows = (await response.text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { time: string; field: string; value: number; unit: string });
    // 02:30 CET is 2 hours after 01:30 CEST: 8 quarter hours, level and power each.
    expect(rows).toHaveLength(16);
    expect(rows[0]).toMatchObject({
      time: from,
      place: 'rue-serpenoise',
      point: 'serp-1',
      field: 'level',
      unit: '%',
    });
    expect(Date.parse(rows[rows.length - 1].time)).toBe(Date.parse(to) - QUARTER);
    expect(new Set(rows.map((r) => r.field))).toEqual(new Set(['level', 'power_w']));
  });

  it('keeps to the token’s role and communes, and says what is wrong with a request', async () => {
    const status = async (user: string, query: Record<string, string>): Promise<[number, string]> => {
      const response = await fetch(exportUrl(query), { headers: bearerOf(user) });
      return [response.status, ((await response.json()) as { message: string }).message];
    };
    const gymnase = { kind: 'building', id: 'gymnase', from: FROM, to: TO };
    expect(await status('energie-metz', gymnase)).toEqual([
      403,
      "building 'gymnase' belongs to montigny, outside your communes",
    ]);
    expect((await status('viewer-metz', { ...gymnase, id: 'mairie' }))[0]).toBe(403);
    expect((await fetch(exportUrl(gymnase), { headers: bearerOf('lm-montigny') })).status).toBe(200);
    expect(await status('admin-all', { ...gymnase, id: 'piscine' })).toEqual([
      404,
      "id: no building 'piscine'",
    ]);
    expect((await status('admin-all', { ...gymnase, from: '24/10/2026' }))[1]).toContain(
      "from: '24/10/2026' is not a date",
    );
    expect((await status('admin-all', { ...gymnase, kind: 'luminaire' }))[0]).toBe(400);
    expect((await fetch(exportUrl(gymnase))).status).toBe(401);
  });

  it('takes a one-use ticket instead of a header, for the console’s download link', async () => {
    const issued = await fetch(`${api.url}/api/events/ticket`, {
      method: 'POST',
      headers: bearerOf('energie-metz'),
    });
    const { ticket } = (await issued.json()) as { ticket: string };
    const url = exportUrl({ kind: 'point', id: 'mairie/temp', from: FROM, to: TO, ticket });
    const download = await fetch(url);
    expect(download.status).toBe(200);
    expect(readCsv(Buffer.from(await download.arrayBuffer())).rows).toHaveLength(292);
    expect((await fetch(url)).status).toBe(401);
  });

  it('answers 503 with the reason when InfluxDB cannot be reached, before any row is sent', async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const deadReader = new InfluxQueryClient({ url: deadUrl, bucket: 'telemetry' });
    const deadApi = await startTerritoryApi({
      exports: new Exporter({ config: EXPORTS_CONFIG, reader: deadReader, logger: silentLogger }),
    });
    try {
      const response = await fetch(
        `${deadApi.url}/api/exports?${new URLSearchParams({ kind: 'commune', id: 'metz', from: FROM, to: TO }).toString()}`,
        { headers: bearerOf('admin-all') },
      );
      expect(response.status).toBe(503);
      expect(((await response.json()) as { message: string }).message).toContain(
        `cannot query InfluxDB at ${deadUrl}`,
      );
    } finally {
      await deadApi.close();
      deadReader.close();
    }
  });
});

describe('nocturne export', () => {
  it('writes the same file as the API to --out, and to stdout without it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-export-cli-'));
    const errors: string[] = [];
    const io = {
      stdout: () => undefined,
      stderr: (text: string) => errors.push(text),
      env: { NOCTURNE_TOKEN: 'token-energie-metz-0123456789' },
    };
    try {
      const file = path.join(dir, 'mairie.csv');
      const args = ['building', 'mairie', '--from', FROM, '--to', TO, '--url', api.url];
      expect(await runExportCommand([...args, '--out', file], io, new PassThrough())).toBe(0);
      const { rows } = readCsv(await readFile(file));
      expect(rows.sort(byKey)).toEqual([...written].sort(byKey));

      const stdout = new PassThrough();
      const chunks: Buffer[] = [];
      stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      expect(await runExportCommand([...args, '--format', 'ndjson'], io, stdout)).toBe(0);
      expect(Buffer.concat(chunks).toString('utf8').trimEnd().split('\n')).toHaveLength(written.length);

      expect(
        await runExportCommand(
          ['building', 'gymnase', '--from', FROM, '--to', TO, '--url', api.url],
          io,
          stdout,
        ),
      ).toBe(4);
      expect(errors.join('')).toContain("403 forbidden: building 'gymnase' belongs to montigny");
      expect(await runExportCommand(['building', '--from', FROM, '--url', api.url], io, stdout)).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
