import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const SOURCE_DIRS = ['controller', 'drivers', 'config', 'simulators', 'bench'];

/** Tests that spawn the CLI, the simulators or the service run dist/: rebuild it when a source is newer. */
export default function globalSetup(): void {
  const marker = path.join(ROOT, 'dist', 'controller', 'cli.js');
  const builtAt = existsSync(marker) ? statSync(marker).mtimeMs : 0;
  if (SOURCE_DIRS.some((dir) => newestIn(path.join(ROOT, dir)) > builtAt)) {
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')],
      {
        stdio: 'inherit',
      },
    );
  }
}

function newestIn(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestIn(full));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json'))
      newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}
