import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFileAtomically } from '../../../drivers/durableFile';

describe('writeFileAtomically', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-durable-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('replaces the file whole and leaves nothing beside it', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomically(file, 'old');
    await writeFileAtomically(file, 'new');
    expect(await readFile(file, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('overwrites a temporary file a crash left behind, and creates missing directories', async () => {
    const file = path.join(dir, 'nested', 'state.json');
    await writeFileAtomically(file, 'first');
    await writeFile(`${file}.tmp`, 'half-written by a process that died');
    await writeFileAtomically(file, 'second');
    expect(await readFile(file, 'utf8')).toBe('second');
    expect(await readdir(path.dirname(file))).toEqual(['state.json']);
  });
});
