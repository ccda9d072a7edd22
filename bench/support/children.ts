import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** Child processes of the benchmarks: each measured path runs alone in its process, so its CPU is its own. */

export /** Spawns a node script and resolves with the first stdout line that `ready` accepts. */
async function spawnReady(
  script: string,
  argv: string[],
  ready: (line: string) => boolean,
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, [...nodeFlags, script, ...argv], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit');
  const line = await Promise.race([
    new Promise<string>((resolve) =>
      lines.on('line', (text) => {
        if (ready(text)) resolve(text);
      }),
    ),
    exited.then(([code]) => {
      throw new Error(`${path.basename(script)} exited (${String(code)}) before it was ready`);
    }),
  ]);
  return { child, line };
}

export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}
