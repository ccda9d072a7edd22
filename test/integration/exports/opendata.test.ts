import { readdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import { AUDIT_ACTIONS } from '../../../controller/audit/entry';
import { OpenDataPublisher } from '../../../controller/opendata/publisher';
import { InfluxQueryClient } from '../../../drivers/influx/query';
import { type InfluxHarness, startInflux } from '../../helpers/influxd';
import { writeLines } from '../../helpers/influxLoad';
import { EXPORTS_CONFIG, bearerOf, startTerritoryApi, type TerritoryApi } from './fixture';

// Open data from a real influxd holding telemetry and, beside it, what must never be published: event
// points with actors and addresses, a point tagged with a person's name, rooms and luminaires; and an
// audit log with entries. Every file the catalogue lists is fetched without a token and scanned.

const QUARTER = 900_000;
/** Five complete days before 2026-10-28 (Europe/Paris), the autumn change (25 hours) among them. */
const NOW = Date.parse('2026-10-28T09:00:00+01:00');
const DAYS = ['2026-10-23', '2026-10-24', '2026-10-25', '2026-10-26', '2026-10-27'];
const START = Date.parse('2026-10-23T00:00:00+02:00');
const END = Date.parse('2026-10-28T00:00:00+01:00');

let influx: InfluxHarness;
let reader: InfluxQueryClient;
let api: TerritoryApi;
/** Hand-computed: per local day, the sum of the mairie's deltas; the zone's energy; temperatures. */
const expected = {
  mairieKwh: new Map<string, number>(),
  zoneKwh: new Map<string, number>(),
  zoneHours: new Map<string, number>(),
  temperatures: new Map<string, number[]>(),
};

const dayOf = (t: number): string =>
  new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Paris' }).format(new Date(t));

beforeAll(async () => {
  influx = await startInflux({ database: 'telemetry' });
  const lines: string[] = [];
  const energy = [0, 0];
  const burn = [0, 0];
  const perLuminaire = new Map<string, { first: number[]; last: number[] }>();
  for (let t = START, i = 0; t < END; t += QUARTER, i++) {
    const day = dayOf(t);
    const delta = (i % 5) * 0.5;
    const temperature = 15 + (i % 9);
    lines.push(
      `meter,commune=metz,building=mairie,meter=elec,kind=electricity,unit=kWh index=${1000 + i},delta=${delta},quality="good" ${t}`,
      `meter,commune=montigny,building=gymnase,meter=elec,kind=electricity,unit=kWh delta=1 ${t}`,
      `sensor,commune=metz,building=mairie,room=salle-conseil,point=temp,quantity=temperature,unit=°C value=${temperature} ${t}`,
      // Never published: a place that is no configured id, events with actors and addresses, the service.
      `meter,commune=metz,building=jeanne-dupont,meter=elec,kind=electricity,unit=kWh delta=99 ${t}`,
      `event,commune=metz,kind=command,severity=info actor="energie-metz",source="192.168.1.23",message="override by Jeanne Dupont from 2001:db8::7" ${t}`,
      `service,instance=nocturne written=${i}i ${t}`,
    );
    expected.mairieKwh.set(day, (expected.mairieKwh.get(day) ?? 0) + delta);
    expected.temperatures.set(day, [...(expected.temperatures.get(day) ?? []), temperature]);
    for (const [n, luminaire] of ['serp-1', 'serp-2'].entries()) {
      energy[n] += (n + 1) * 10;
      burn[n] += n === 0 ? 900 : 450;
      lines.push(
        `lighting,commune=metz,zone=rue-serpenoise,luminaire=${luminaire} level=50,energy_wh=${energy[n]},burn_s=${burn[n]} ${t}`,
      );
      const key = `${day}/${luminaire}`;
      const seen = perLuminaire.get(key) ?? { first: [energy[n], burn[n]], last: [0, 0] };
      seen.last = [energy[n], burn[n]];
      perLuminaire.set(key, seen);
    }
  }
  for (const [key, { first, last }] of perLuminaire) {
    const day = key.slice(0, 10);
    expected.zoneKwh.set(day, (expected.zoneKwh.get(day) ?? 0) + (last[0] - first[0]) / 1000);
    expected.zoneHours.set(day, (expected.zoneHours.get(day) ?? 0) + (last[1] - first[1]) / 3600 / 2);
  }
  await writeLines(influx.directUrl, 'telemetry', lines);
  reader = new InfluxQueryClient({ url: influx.url, bucket: 'telemetry', chunkSize: 7, timeoutMs: 5000 });
  api = await startTerritoryApi(
    {
      openData: new OpenDataPublisher({
        config: EXPORTS_CONFIG,
        reader,
        clock: new ManualClock(NOW),
        logger: silentLogger,
      }),
    },
    NOW,
  );
  // Audit entries, with actors and addresses, in the audit log beside it.
  for (const user of ['admin-all', 'energie-metz']) {
    // Refused (no expiry given) or not, a command is audited with its actor and address.
    const response = await fetch(`${api.url}/api/relights`, {
      method: 'POST',
      headers: { ...bearerOf(user), 'content-type': 'application/json' },
      body: JSON.stringify({ target: { zone: 'rue-serpenoise' }, reason: 'essai', level: 100 }),
    });
    expect(response.status).toBeGreaterThanOrEqual(200);
  }
});

afterAll(async () => {
  await api?.close();
  reader?.close();
  await influx?.stop();
});

interface Catalogue {
  '@type': string;
  'dcat:dataset': {
    'dct:identifier': string;
    'dct:title': string;
    'dct:license': { '@id': string };
    'dct:accrualPeriodicity': { '@id': string };
    'dct:spatial': { 'dct:title': string };
    'dct:temporal': { 'dcat:startDate': { '@value': string }; 'dcat:endDate': { '@value': string } };
    'dcat:distribution': { 'dcat:downloadURL': { '@id': string }; 'dcat:mediaType': string }[];
  }[];
}

async function catalogue(): Promise<{ text: string; json: Catalogue }> {
  const response = await fetch(`${api.url}/opendata`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/ld+json; charset=utf-8');
  const text = await response.text();
  return { text, json: JSON.parse(text) as Catalogue };
}

/** Every file the catalogue lists, fetched without a token. */
async function publishedFiles(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const { text, json } = await catalogue();
  files.set('/opendata', Buffer.from(text));
  for (const dataset of json['dcat:dataset'])
    for (const distribution of dataset['dcat:distribution']) {
      const response = await fetch(distribution['dcat:downloadURL']['@id']);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
      files.set(distribution['dcat:downloadURL']['@id'], Buffer.from(await response.arrayBuffer()));
    }
  return files;
}

function csvRows(bytes: Buffer): Record<string, string>[] {
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const [header, ...lines] = bytes.subarray(3).toString('utf8').trimEnd().split('\r\n');
  const names = header.split(';');
  return lines.map((line) => Object.fromEntries(line.split(';').map((cell, i) => [names[i], cell])));
}

const frenchNumber = (cell: string): number => Number(cell.replace(',', '.'));

describe('open data against a real influxd', () => {
  it('describes every dataset in DCAT-AP with its licence, frequency, coverage and two distributions', async () => {
    const { json } = await catalogue();
    expect(json['@type']).toBe('dcat:Catalog');
    const datasets = json['dcat:dataset'];
    expect(datasets.map((d) => d['dct:identifier'])).toEqual([
      'energie-batiments',
      'eclairage-zones',
      'environnement',
    ]);
    expect(datasets[0]['dct:license']['@id']).toBe(
      'https://www.etalab.gouv.fr/licence-ouverte-open-licence/',
    );
    expect(datasets[1]['dct:license']['@id']).toBe('https://opendatacommons.org/licenses/odbl/1-0/');
    expect(datasets[2]['dct:accrualPeriodicity']['@id']).toBe(
      'http://publications.europa.eu/resource/authority/frequency/WEEKLY',
    );
    expect(datasets[0]['dct:spatial']['dct:title']).toBe('Metz (57463), Montigny-lès-Metz (57480)');
    expect(datasets[1]['dct:spatial']['dct:title']).toBe('Metz (57463)');
    expect(datasets[0]['dct:temporal']['dcat:startDate']['@value']).toBe('2026-10-23');
    expect(datasets[0]['dct:temporal']['dcat:endDate']['@value']).toBe('2026-10-27');
    expect(
      datasets[0]['dcat:distribution'].map((d) => [d['dcat:downloadURL']['@id'], d['dcat:mediaType']]),
    ).toEqual([
      [`${api.url}/opendata/energie-batiments.csv`, 'text/csv'],
      [`${api.url}/opendata/energie-batiments.json`, 'application/json'],
    ]);
  });

  it('publishes daily consumption per building, local days included the 25-hour one', async () => {
    const rows = csvRows(
      Buffer.from(await (await fetch(`${api.url}/opendata/energie-batiments.csv`)).arrayBuffer()),
    );
    const mairie = rows.filter((r) => r.batiment === 'mairie');
    expect(mairie.map((r) => r.date)).toEqual(DAYS);
    for (const row of mairie) {
      expect(row).toMatchObject({ commune: 'metz', energie: 'electricity', unite: 'kWh' });
      expect(frenchNumber(row.consommation)).toBeCloseTo(expected.mairieKwh.get(row.date)!, 6);
    }
    // 100 quarter hours on the autumn change day, 1 kWh each.
    expect(rows.find((r) => r.batiment === 'gymnase' && r.date === '2026-10-25')?.consommation).toBe('100');
    expect(new Set(rows.map((r) => r.batiment))).toEqual(new Set(['mairie', 'gymnase']));
    const json = (await (await fetch(`${api.url}/opendata/energie-batiments.json`)).json()) as Record<
      string,
      unknown
    >[];
    expect(json).toHaveLength(rows.length);
    expect(json.find((row) => row.batiment === 'mairie')).toEqual({
      date: '2026-10-23',
      commune: 'metz',
      batiment: 'mairie',
      energie: 'electricity',
      unite: 'kWh',
      consommation: expected.mairieKwh.get('2026-10-23'),
    });
  });

  it('publishes lighting per zone and environment per site, never per luminaire or room', async () => {
    const zones = csvRows(
      Buffer.from(await (await fetch(`${api.url}/opendata/eclairage-zones.csv`)).arrayBuffer()),
    );
    expect(zones.map((r) => r.date)).toEqual(DAYS);
    for (const row of zones) {
      expect(row.zone).toBe('rue-serpenoise');
      expect(frenchNumber(row.energie_kwh)).toBeCloseTo(expected.zoneKwh.get(row.date)!, 6);
      expect(frenchNumber(row.heures_allumage)).toBeCloseTo(expected.zoneHours.get(row.date)!, 6);
    }
    const environment = csvRows(
      Buffer.from(await (await fetch(`${api.url}/opendata/environnement.csv`)).arrayBuffer()),
    );
    expect(Object.keys(environment[0])).toEqual([
      'date',
      'commune',
      'site',
      'grandeur',
      'unite',
      'moyenne',
      'minimum',
      'maximum',
      'mesures',
    ]);
    for (const row of environment) {
      const values = expected.temperatures.get(row.date)!;
      expect(frenchNumber(row.moyenne)).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
      expect(frenchNumber(row.minimum)).toBe(Math.min(...values));
      expect(frenchNumber(row.maximum)).toBe(Math.max(...values));
      expect(Number(row.mesures)).toBe(values.length);
    }
  });

  it('never publishes a person, a user id, a token hash, an address or an audit entry, in any file', async () => {
    // The scan finds them where they are: in the audit log and in what InfluxDB holds beside the telemetry.
    const auditText = await auditLogText(api);
    expect(leaks(auditText)).toEqual(expect.arrayContaining(['admin-all', 'relight', '127.0.0.1']));
    const events = await influx.query('SELECT * FROM "event" LIMIT 1');
    expect(leaks(JSON.stringify(events))).toEqual(
      expect.arrayContaining(['energie-metz', 'Jeanne Dupont', '192.168.1.23', '2001:db8::7']),
    );
    const files = await publishedFiles();
    expect(files.size).toBe(7);
    for (const [url, bytes] of files)
      expect({ url, leaks: leaks(bytes.toString('utf8')) }).toEqual({ url, leaks: [] });
  });

  it('answers 404 for a file not in the catalogue', async () => {
    for (const file of ['inconnu.csv', 'energie-batiments.xml', '..%2Faudit.csv', 'energie-batiments'])
      expect((await fetch(`${api.url}/opendata/${file}`)).status).toBe(404);
  });

  it('limits requests per address, as every request without a token', async () => {
    const limited = await startTerritoryApi({}, NOW, { requestsPerWindow: 3, rateWindowMs: 60_000 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${limited.url}/opendata`)).status);
      // No open-data service in this one: 503, then the limit.
      expect(statuses).toEqual([503, 503, 503, 429]);
    } finally {
      await limited.close();
    }
  });
});

/**
 * What must never be published, found in a text: the configured users' ids, names and token hashes,
 * audit action names, the names of places below a zone or a site (rooms, luminaires) and a person
 * written as a place, and any IPv4 or IPv6 address.
 */
function leaks(text: string): string[] {
  const forbidden = [
    ...EXPORTS_CONFIG.users.flatMap((u) => [u.id, u.name ?? '', u.token_sha256 ?? '']),
    ...AUDIT_ACTIONS,
    'jeanne-dupont',
    'salle-conseil',
    'serp-1',
    'serp-2',
    'actor',
  ].filter((word) => word !== '');
  const lower = text.toLowerCase();
  const words = forbidden.filter((word) => lower.includes(word.toLowerCase()));
  const addresses = (text.match(/[0-9A-Fa-f:.]{2,}/g) ?? []).filter((candidate) => isIP(candidate) !== 0);
  return [...words, ...addresses];
}

/** The audit log's files as text, to show it holds what the open data must not. */
async function auditLogText(territory: TerritoryApi): Promise<string> {
  const dir = territory.auditDir;
  const names = await readdir(dir);
  const texts = await Promise.all(
    names.map((name) => readFile(path.join(dir, name), 'utf8').catch(() => '')),
  );
  return texts.join('\n');
}
