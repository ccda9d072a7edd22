import { existsSync } from 'node:fs';
import path from 'node:path';

/** The package root, whether running from sources (ts-jest) or from dist/. */
export const PROJECT_ROOT = findPackageRoot(__dirname);
export const DEMO_CONFIG = path.join(PROJECT_ROOT, 'config', 'demo.yaml');

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}
