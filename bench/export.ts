import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { silentLogger } from '../core/logger';
import { Exporter } from '../controller/exports/exporter';
import type { ExportTerritory } from '../controller/exports/selection';
import { InfluxQueryClient } from '../drivers/influx/query';
import { startInflux } from '../test/helpers/influxd';
import { writeLines } from '../test/helpers/influxLoad';

/**
 * A year of 15-minute data for 500 points (17.5 M values) from a real influxd 1.6.7 to CSV, through the
 * service's export path (Exporter → InfluxQueryClient's chunked /query → RowFormatter → a stream with
 * backpressure, as GET /api/exports sends it), against the floor: a bare chunked /query read that
 * parses each chunk and discards its rows. Each is run in a child process of its own, which reports its
 * time and its peak RSS (VmHWM) above its RSS before the read (idle). Loading the data goes straight to
 * influxd's /write in large batches and is not measured.
 *
 *   npm run bench -- export [--points 500] [--days 365] [--chunk-size 10000] [--rounds 3]
 *
 * The data is loaded once, then each round runs the floor and the export in turn (so both meet the
 * same state of influxd's caches and of the machine); the figures are the best round's, and every
 * round is printed for the spread.
 *
 * Targets (issue #16): streamed, peak RSS < 150 MB above idle, >= 500,000 rows/s. The last line is one
 * JSON object: {"rows", "rows_per_s", "peak_rss_mb", "floor_rows_per_s", "floor_peak_rss_mb", "ratio"}.
 */

const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: '500' },
    days: { type: 'string', default: '365' },
    'chunk-size': { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    // Internal: the child's part.
    phase: { type: 'string' },
    url: { type: 'string' },
  },
});

const DATABASE = 'export';
const COMMUNE = 'bench';
const POINTS_PER_BUILDING = 10;
const QUARTER_MS = 900_000;
const START = Date.parse('2025-01-01T00:00:00+01:00');
const TIME_ZONE = 'Europe/Paris';

interface PhaseResult {
  rows: number;
  bytes: number;
  seconds: number;
  idleRssMb: number;
  peakRssMb: number;
}

const points = Number(args.points);
const days = Number(args.days);
const chunkSize = Number(args['chunk-size']);
const END = START + days * 96 * QUARTER_MS;

function territory(): ExportTerritory & { site: { timezone: string } } {
  const buildings = Array.from({ length: Math.ceil(points / POINTS_PER_BUILDING) }, (_, b) => ({
    id: `b${b}`,
    commune: COMMUNE,
    points: Array.from({ length: POINTS_PER_BUILDING }, (_, p) => ({
      id: `p${p}`,
      measurement: 'sensor' as const,
    })),
  }));
  return { site: { timezone: TIME_ZONE }, communes: [{ id: COMMUNE }], zones: [], buildings };
}

/** Line protocol in batches of one point's year, two requests at a time. */
async function load(directUrl: string): Promise<void> {
  const perPoint = days * 96;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let point = next++; point < points; point = next++) {
      const prefix = `sensor,commune=${COMMUNE},building=b${Math.floor(point / POINTS_PER_BUILDING)},point=p${point % POINTS_PER_BUILDING},quantity=temperature,room=-,unit=°C value=`;
      const lines = new Array<string>(perPoint);
      for (let i = 0; i < perPoint; i++)
        lines[i] = `${prefix}${(((point * 7 + i) % 400) - 100) / 8} ${START + i * QUARTER_MS}`;
      await writeLines(directUrl, DATABASE, lines);
    }
  };
  await Promise.all([worker(), worker()]);
}

/** VmRSS and VmHWM (the peak since start) of this process, in MB. */
function memoryMb(): { rss: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** The service's path: what GET /api/exports does, into a sink that takes bytes as fast as they come. */
async function oursPhase(url: string): Promise<Omit<PhaseResult, 'idleRssMb' | 'peakRssMb'>> {
  const reader = new InfluxQueryClient({ url, bucket: DATABASE, chunkSize, timeoutMs: 600_000 });
  const exporter = new Exporter({ config: territory(), reader, logger: silentLogger });
  let bytes = 0;
  let newlines = 0;
  const started = process.hrtime.bigint();
  const stream = await exporter.open(
    {
      kind: 'commune',
      id: COMMUNE,
      from: new Date(START).toISOString(),
      to: new Date(END).toISOString(),
      format: 'csv',
    },
    { user: 'bench', role: 'energy-manager', communes: [COMMUNE], via: 'cli', from: 'bench' },
  );
  await pipeline(
    Readable.from(stream.body, { objectMode: false, highWaterMark: 256 * 1024 }),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
        done();
      },
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  reader.close();
  // The header is a line, not a row.
  return { rows: newlines - 1, bytes, seconds };
}

/** The floor: the same query, chunked, each chunk parsed and its rows counted and dropped. */
async function floorPhase(url: string): Promise<Omit<PhaseResult, 'idleRssMb' | 'peakRssMb'>> {
  const query = `SELECT "value" FROM "sensor" WHERE "commune" = '${COMMUNE}' AND time >= ${START}ms AND time < ${END}ms GROUP BY *`;
  const params = new URLSearchParams({
    db: DATABASE,
    q: query,
    epoch: 'ms',
    chunked: 'true',
    chunk_size: String(chunkSize),
  });
  const started = process.hrtime.bigint();
  let rows = 0;
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    http
      .get(`${url}/query?${params.toString()}`, (response) => {
        let parts: Buffer[] = [];
        const take = (line: Buffer): void => {
          const document = JSON.parse(line.toString('utf8')) as {
            results: { series?: { values: unknown[][] }[] }[];
          };
          for (const result of document.results)
            for (const series of result.series ?? []) rows += series.values.length;
        };
        response.on('data', (data: Buffer) => {
          bytes += data.length;
          let start = 0;
          for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
            parts.push(data.subarray(start, nl));
            take(Buffer.concat(parts));
            parts = [];
            start = nl + 1;
          }
          if (start < data.length) parts.push(data.subarray(start));
        });
        response.on('end', resolve);
        response.on('error', reject);
      })
      .on('error', reject);
  });
  return { rows, bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function child(phase: string, url: string): Promise<void> {
  const idle = memoryMb().rss;
  const result = phase === 'ours' ? await oursPhase(url) : await floorPhase(url);
  const result2: PhaseResult = { ...result, idleRssMb: idle, peakRssMb: memoryMb().peak };
  process.send?.(result2);
}

function runChild(phase: 'ours' | 'floor', url: string): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const worker = fork(
      __filename,
      [
        '--phase',
        phase,
        '--url',
        url,
        '--points',
        String(points),
        '--days',
        String(days),
        '--chunk-size',
        String(chunkSize),
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    let result: PhaseResult | undefined;
    worker.on('message', (message: PhaseResult) => (result = message));
    worker.on('error', reject);
    worker.on('exit', (code) =>
      result && code === 0 ? resolve(result) : reject(new Error(`${phase} phase exited with ${code}`)),
    );
  });
}

const round = (value: number, digits = 0): number => Number(value.toFixed(digits));

async function main(): Promise<void> {
  const influx = await startInflux({ database: DATABASE, startTimeoutMs: 60_000 });
  try {
    const loadStart = Date.now();
    await load(influx.directUrl);
    const values = points * days * 96;
    process.stdout.write(
      `loaded ${values} values (${points} points × ${days} days of 15-minute data) into influxd in ${round((Date.now() - loadStart) / 1000, 1)} s (not measured)\n`,
    );
    const floors: PhaseResult[] = [];
    const ours: PhaseResult[] = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      floors.push(await runChild('floor', influx.directUrl));
      ours.push(await runChild('ours', influx.directUrl));
    }
    const best = (runs: PhaseResult[]): PhaseResult =>
      runs.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
    const bestOurs = best(ours);
    const bestFloor = best(floors);
    const above = (r: PhaseResult): number => r.peakRssMb - r.idleRssMb;
    for (const [name, runs] of [
      ['floor (bare chunked /query, rows parsed and dropped)', floors],
      ['export to CSV (service path)', ours],
    ] as const)
      for (const r of runs)
        process.stdout.write(
          `${name}: ${r.rows} rows, ${round(r.bytes / 1e6)} MB in ${round(r.seconds, 2)} s = ${round(r.rows / r.seconds)} rows/s; RSS idle ${round(r.idleRssMb)} MB, peak ${round(r.peakRssMb)} MB (+${round(above(r))} MB)\n`,
        );
    if (bestOurs.rows !== values) throw new Error(`exported ${bestOurs.rows} rows, loaded ${values}`);
    const ratio = bestOurs.seconds / bestFloor.seconds;
    process.stdout.write(
      `export: ${round(bestOurs.rows / bestOurs.seconds)} rows/s (target >= 500,000), peak RSS +${round(Math.max(...ours.map(above)), 1)} MB above idle (target < 150); ${ratio.toFixed(2)}× the floor's time\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        rows: bestOurs.rows,
        rows_per_s: round(bestOurs.rows / bestOurs.seconds),
        peak_rss_mb: round(Math.max(...ours.map(above)), 1),
        floor_rows_per_s: round(bestFloor.rows / bestFloor.seconds),
        floor_peak_rss_mb: round(Math.max(...floors.map(above)), 1),
        ratio: round(ratio, 2),
      })}\n`,
    );
  } finally {
    await influx.stop();
  }
}

if (args.phase) {
  child(args.phase, args.url ?? '').catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = 1;
  });
}
