import { InfluxQueryClient, InfluxQueryError } from '../../../drivers/influx/query';
import type { SeriesPiece } from '../../../drivers/timeSeries';
import { type InfluxHarness, startInflux } from '../../helpers/influxd';
import { writeLines } from '../../helpers/influxLoad';
import { freePort } from '../../helpers/ports';

// Real influxd 1.6.7; /query reached both directly and through the nginx in front (as on InfluxDB 2.x).

const T0 = Date.UTC(2026, 10, 3, 0, 0, 0);
const STEP = 900_000;
const ROWS = 2500;

let influx: InfluxHarness;
const clients: InfluxQueryClient[] = [];

beforeAll(async () => {
  influx = await startInflux({ database: 'telemetry' });
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    lines.push(`sensor,point=t1,unit=°C value=${i / 4} ${T0 + i * STEP}`);
    lines.push(`sensor,point=t2,unit=°C value=${-i} ${T0 + i * STEP}`);
  }
  await writeLines(influx.directUrl, 'telemetry', lines);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await influx?.stop();
});

function client(options: { chunkSize?: number; bucket?: string; url?: string } = {}): InfluxQueryClient {
  const created = new InfluxQueryClient({
    url: options.url ?? influx.url,
    bucket: options.bucket ?? 'telemetry',
    chunkSize: options.chunkSize,
    timeoutMs: 5000,
  });
  clients.push(created);
  return created;
}

async function collect(pieces: AsyncIterable<SeriesPiece>): Promise<SeriesPiece[]> {
  const all: SeriesPiece[] = [];
  for await (const piece of pieces) all.push(piece);
  return all;
}

describe('InfluxQueryClient against influxd', () => {
  it('streams every row of every series in chunks of the size asked, times in ms', async () => {
    const pieces = await collect(
      client({ chunkSize: 300 }).query('SELECT "value" FROM "sensor" GROUP BY "point"'),
    );
    expect(Math.max(...pieces.map((p) => p.values.length))).toBe(300);
    const byPoint = new Map<string, unknown[][]>();
    for (const piece of pieces) {
      expect(piece.measurement).toBe('sensor');
      expect(piece.columns).toEqual(['time', 'value']);
      const rows = byPoint.get(piece.tags.point) ?? [];
      rows.push(...piece.values.map((row) => [...row]));
      byPoint.set(piece.tags.point, rows);
    }
    expect([...byPoint.keys()].sort()).toEqual(['t1', 't2']);
    const t1 = byPoint.get('t1')!;
    expect(t1).toHaveLength(ROWS);
    expect(t1[0]).toEqual([T0, 0]);
    expect(t1[ROWS - 1]).toEqual([T0 + (ROWS - 1) * STEP, (ROWS - 1) / 4]);
    expect(byPoint.get('t2')![7]).toEqual([T0 + 7 * STEP, -7]);
  });

  it('reads the retention policy from the bucket', async () => {
    const rows = await collect(
      client({ bucket: 'telemetry/autogen' }).query('SELECT COUNT("value") FROM "sensor"'),
    );
    expect(rows[0].values[0][1]).toBe(2 * ROWS);
    await expect(
      collect(client({ bucket: 'telemetry/none' }).query('SELECT "value" FROM "sensor"')),
    ).rejects.toThrow(/retention policy not found: none/);
  });

  it("reports InfluxDB's refusal of a query with its message", async () => {
    await expect(collect(client().query('SELEC nonsense'))).rejects.toThrow(InfluxQueryError);
    await expect(collect(client().query('SELEC nonsense'))).rejects.toThrow(/HTTP 400 .*error parsing query/);
    await expect(
      collect(client({ bucket: 'missing' }).query('SELECT "value" FROM "sensor"')),
    ).rejects.toThrow(/database not found: missing/);
  });

  it('stops reading when the caller stops, and the next query still works', async () => {
    const reader = client({ chunkSize: 100 });
    let seen = 0;
    for await (const piece of reader.query('SELECT "value" FROM "sensor"')) {
      seen += piece.values.length;
      if (seen >= 200) break;
    }
    expect(seen).toBe(200);
    const again = await collect(reader.query('SELECT COUNT("value") FROM "sensor"'));
    expect(again[0].values[0][1]).toBe(2 * ROWS);
  });

  it('names the server when InfluxDB cannot be reached', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await expect(collect(client({ url }).query('SELECT 1'))).rejects.toThrow(
      `cannot query InfluxDB at ${url}`,
    );
  });
});
