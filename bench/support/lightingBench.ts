import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { toYaml } from '../../config/generateDemo';
import { parseConfig } from '../../config/load';
import type { Config, ConfigInput } from '../../config/schema';
import type { Actor } from '../../controller/lighting/runtime/api';
import { READY_PREFIX, type WriteRecord } from './segmentFarm';

/** What the lighting benchmarks share: a territory written to a temp dir, and the segment farm as a child process. */

export const BENCH_ACTOR: Actor = {
  user: 'bench',
  role: 'admin',
  communes: ['*'],
  via: 'cli',
  from: 'bench',
};

export interface Workspace {
  dir: string;
  configFile: string;
  config: Config;
  remove(): Promise<void>;
}

export async function workspace(input: ConfigInput): Promise<Workspace> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-bench-'));
  const configFile = path.join(dir, 'territory.yaml');
  const yaml = toYaml(input);
  await writeFile(configFile, yaml);
  return {
    dir,
    configFile,
    config: parseConfig(yaml, configFile),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A helper process that speaks in lines: one request line on stdin, one answer line on stdout. */
export class LineChild {
  private readonly lines: Interface;
  private readonly waiting: ((line: string) => void)[] = [];

  private constructor(
    private readonly child: ChildProcess & { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream },
    private readonly exited: Promise<unknown>,
  ) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => this.waiting.shift()?.(line));
  }

  /** Starts `dist/bench/support/<script>.js` and waits for its line starting with `ready`. */
  static async start(script: string, args: string[], ready: string): Promise<LineChild> {
    const child = spawn(process.execPath, [path.join(__dirname, `${script}.js`), ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const helper = new LineChild(child, once(child, 'exit'));
    const line = await Promise.race([
      helper.next(),
      helper.exited.then(() => {
        throw new Error(`${script} exited before it was ready`);
      }),
    ]);
    if (!line.startsWith(ready)) throw new Error(`${script}: unexpected '${line}'`);
    return helper;
  }

  /** Sends a line and resolves with the answer line. */
  ask(line: string): Promise<string> {
    const answer = this.next();
    this.child.stdin.write(`${line}\n`);
    return answer;
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
    this.lines.close();
  }

  private next(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** The segment controllers in their own process (bench/support/segmentFarm.ts). */
export class FarmProcess {
  private constructor(private readonly child: LineChild) {}

  /** `lean`: LeanSegmentBank instead of the simulators' model (see segmentFarm.ts). */
  static async start(configFile: string, lean: boolean): Promise<FarmProcess> {
    return new FarmProcess(
      await LineChild.start('segmentFarm', lean ? [configFile, '--lean'] : [configFile], READY_PREFIX),
    );
  }

  async writes(): Promise<WriteRecord[]> {
    const line = await this.child.ask('WRITES');
    return JSON.parse(line.slice('WRITES '.length)) as WriteRecord[];
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

export function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} must be a number (got '${process.argv[i + 1]}')`);
  return value;
}
