import { InfluxDB } from '@influxdata/influxdb-client';
import type { InfluxWriter } from '../../drivers/influx/writer';

/**
 * Recorded lines pushed to InfluxDB as fast as it takes them, through our writer or the bare client,
 * measured alike: by bench/ingestPath.ts on synthetic lines, by bench/ingest.ts on lines the service made.
 */

/** Lines pushed but not yet acknowledged, beyond which the producer waits (both paths alike). */
const MAX_PENDING_BATCHES = 4;

/**
 * The recorded lines again and again, each pass shifted in time so that every point is new, with the
 * spacing of the original timestamps kept (several readings of one series never share a millisecond).
 */
export class Replay {
  private readonly prefixes: string[];
  private readonly offsets: number[];
  private readonly span: number;
  private index = 0;
  private pass = 0;

  constructor(
    lines: readonly string[],
    private readonly origin: number,
  ) {
    if (lines.length === 0) throw new Error('replay: no recorded lines');
    const times = lines.map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
    const first = times.reduce((a, b) => Math.min(a, b));
    this.prefixes = lines.map((line) => line.slice(0, line.lastIndexOf(' ') + 1));
    this.offsets = times.map((t) => t - first);
    this.span = this.offsets.reduce((a, b) => Math.max(a, b)) + 1000;
  }

  get size(): number {
    return this.prefixes.length;
  }

  next(count: number): string[] {
    const out = new Array<string>(count);
    for (let k = 0; k < count; k++) {
      out[k] = this.prefixes[this.index] + (this.origin + this.pass * this.span + this.offsets[this.index]);
      if (++this.index === this.prefixes.length) {
        this.index = 0;
        this.pass++;
      }
    }
    return out;
  }
}

export interface PhaseResult {
  points: number;
  seconds: number;
  cpuMs: number;
}

export interface IngestPath {
  push(lines: string[]): Promise<void> | undefined;
  acknowledged(): number;
  /** Sends what waits for a full batch. */
  flush(): Promise<void>;
}

const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

/**
 * Pushes chunks for `seconds` with a bounded number of unacknowledged points and measures points
 * acknowledged and CPU used within that window; what is pending at its end is drained outside it.
 */
export async function runPhase(
  target: IngestPath,
  replay: Replay,
  seconds: number,
  chunk: number,
  batch: number,
): Promise<PhaseResult> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const before = target.acknowledged();
  let produced = 0;
  const appends: Promise<void>[] = [];
  while (performance.now() < deadline) {
    const lines = replay.next(chunk);
    const appended = target.push(lines);
    if (appended) appends.push(appended);
    produced += lines.length;
    if (appends.length >= 16) await Promise.all(appends.splice(0));
    while (
      before + produced - target.acknowledged() > MAX_PENDING_BATCHES * batch &&
      performance.now() < deadline
    )
      await pause();
  }
  const used = process.cpuUsage(cpu);
  const result = {
    points: target.acknowledged() - before,
    seconds: (performance.now() - started) / 1000,
    cpuMs: (used.user + used.system) / 1000,
  };
  await Promise.all(appends);
  await target.flush();
  while (target.acknowledged() < before + produced) await pause();
  return result;
}

export function oursPath(writer: InfluxWriter): IngestPath {
  return {
    push: (lines) => writer.write(lines),
    acknowledged: () => writer.stats().written,
    // The writer sends a partial batch after flush_ms on its own.
    flush: () => Promise.resolve(),
  };
}

export function barePath(
  url: string,
  database: string,
  batch: number,
  flushMs: number,
): IngestPath & { close(): Promise<void> } {
  let acknowledged = 0;
  const writeApi = new InfluxDB({ url }).getWriteApi('', database, 'ms', {
    batchSize: batch,
    flushInterval: flushMs,
    gzipThreshold: 1000,
    writeSuccess: (lines) => {
      acknowledged += lines.length;
    },
  });
  return {
    push: (lines) => {
      writeApi.writeRecords(lines);
      return undefined;
    },
    acknowledged: () => acknowledged,
    flush: () => writeApi.flush(),
    close: () => writeApi.close(),
  };
}

export function addPhases(total: PhaseResult, more: PhaseResult): PhaseResult {
  return {
    points: total.points + more.points,
    seconds: total.seconds + more.seconds,
    cpuMs: total.cpuMs + more.cpuMs,
  };
}

export function describePhase(name: string, result: PhaseResult): string {
  const rate = result.points / result.seconds;
  const cpuPerPoint = (result.cpuMs * 1000) / result.points;
  return (
    `${name.padEnd(30)} ${result.points} points in ${result.seconds.toFixed(1)} s: ` +
    `${Math.round(rate)} points/s, ${cpuPerPoint.toFixed(2)} µs CPU/point, ` +
    `${((result.cpuMs / 1000 / result.seconds) * 100).toFixed(0)} % of one core`
  );
}
