import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LightingStore,
  emptyState,
  parseState,
  type PersistedState,
} from '../../../../controller/lighting/runtime/store';
import { writeFileAtomically } from '../../../../drivers/durableFile';

describe('LightingStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-store-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const command = (id: string) => ({
    id,
    slot: 'emergency' as const,
    target: { zone: 'metz-rue-serpenoise' },
    level: 100,
    reason: 'fire',
    actor: 'sdis-57',
    via: 'mqtt' as const,
    from: 'nocturne/bridge/request/relight',
    acceptedAt: 1,
    start: 1,
    untilReleased: false,
  });

  it('starts empty, saves atomically and loads what it saved', async () => {
    let state: PersistedState = emptyState();
    const store = new LightingStore(dir, () => state);
    expect(await store.load()).toEqual({ kind: 'missing', state: emptyState() });
    state = { ...emptyState(), commands: [command('fire-1')], zoneCalendars: { 'metz-rue-x': 'fetes' } };
    await store.save();
    expect(await readdir(path.join(dir, 'lighting'))).toEqual(['state.json']);
    const loaded = await new LightingStore(dir, () => emptyState()).load();
    expect(loaded).toEqual({ kind: 'loaded', state });
  });

  it('shares one write among the saves made while a write is under way, each resolving after its state is on disk', async () => {
    let counter = 0;
    const store = new LightingStore(dir, () => ({ ...emptyState(), commands: [command(`c${++counter}`)] }));
    const first = store.save();
    const second = store.save();
    const third = store.save();
    await Promise.all([first, second, third]);
    // One write for the first call, one shared by the two that came while it ran.
    expect(counter).toBe(2);
    const saved = JSON.parse(await readFile(store.file, 'utf8')) as PersistedState;
    expect(saved.commands.map((c) => c.id)).toEqual(['c2']);
    await store.flushed();
  });

  it('rejects a save that cannot reach the disk, leaving the previous file whole', async () => {
    let state = { ...emptyState(), commands: [command('kept')] };
    const store = new LightingStore(dir, () => state);
    await store.save();
    // The directory becomes a file: the temporary file cannot be created.
    const blocked = new LightingStore(path.join(dir, 'lighting', 'state.json'), () => state);
    state = { ...emptyState(), commands: [command('lost')] };
    await expect(blocked.save()).rejects.toThrow();
    const loaded = await store.load();
    expect(loaded.kind === 'loaded' && loaded.state.commands.map((c) => c.id)).toEqual(['kept']);
  });

  it('moves an unreadable file aside and starts empty', async () => {
    await mkdir(path.join(dir, 'lighting'));
    await writeFile(path.join(dir, 'lighting', 'state.json'), '{"version": 1, "commands": [');
    const loaded = await new LightingStore(dir, () => emptyState()).load();
    expect(loaded.kind).toBe('corrupt');
    if (loaded.kind !== 'corrupt') return;
    expect(loaded.error).toMatch(/not JSON/);
    expect(loaded.state).toEqual(emptyState());
    expect((await readdir(path.join(dir, 'lighting'))).some((f) => f.startsWith('state.json.corrupt-'))).toBe(
      true,
    );
  });

  it('names what is wrong with a state of the wrong shape', () => {
    expect(parseState('[]')).toBe('not a JSON object');
    expect(parseState('{"version": 2}')).toBe('version 2 (expected 1)');
    expect(parseState(JSON.stringify({ ...emptyState(), commands: [{ id: 'x' }] }))).toBe(
      'commands[0] is not a command record',
    );
    expect(parseState(JSON.stringify({ ...emptyState(), programs: { put: [] } }))).toBe(
      "'programs' must have 'put' and 'deleted' lists",
    );
  });

  it('writes through a temporary file that it renames, leaving none behind', async () => {
    const file = path.join(dir, 'sub', 'x.json');
    await writeFileAtomically(file, 'one');
    await writeFileAtomically(file, 'two');
    expect(await readFile(file, 'utf8')).toBe('two');
    expect(await readdir(path.join(dir, 'sub'))).toEqual(['x.json']);
  });
});
