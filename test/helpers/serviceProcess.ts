import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config/paths';

/**
 * The service as its own process (`node bin/nocturne.js start <config>`, from the build in dist/), for
 * tests that kill it: its output kept for failure messages.
 */

const CLI = path.join(PROJECT_ROOT, 'bin', 'nocturne.js');
const BUILT = path.join(PROJECT_ROOT, 'dist', 'controller', 'cli.js');

export interface ServiceProcess {
  child: ChildProcessWithoutNullStreams;
  output: string[];
  /** The exit code (null when ended by a signal). */
  exited: Promise<number | null>;
}

export function startServiceProcess(configFile: string): ServiceProcess {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: build with 'npx tsc -p .'`);
  const child = spawn(process.execPath, [CLI, 'start', configFile], { cwd: PROJECT_ROOT });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** Sends `signal` unless the process already ended, and waits for its end. */
export async function killProcess(
  running: ServiceProcess | undefined,
  signal: NodeJS.Signals,
): Promise<void> {
  if (!running || running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill(signal);
  await running.exited;
}
