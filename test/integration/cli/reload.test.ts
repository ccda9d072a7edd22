import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toYaml } from '../../../config/generateDemo';
import { PROJECT_ROOT } from '../../../config/paths';
import { buildTerritory, sha256Hex } from '../../../config/demoTerritory';
import { freePorts } from '../../helpers/ports';

/**
 * SIGHUP on the running service (node bin/nocturne.js start): a bad file keeps the running configuration
 * with its errors logged, a good one replaces it in the same process, and SIGTERM still ends it cleanly.
 * Its segment controllers are left unreachable: the service starts and reloads without them.
 */

const CLI = path.join(PROJECT_ROOT, 'bin', 'nocturne.js');
const TOKEN = 'tok-reload-admin-5d1c7e';

describe('SIGHUP', () => {
  let dir: string;
  let child: ChildProcessWithoutNullStreams | undefined;
  let exited: Promise<number | null>;
  const output: string[] = [];

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  const waitForOutput = async (pattern: RegExp, from: number): Promise<number> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const index = output.findIndex((line, i) => i >= from && pattern.test(line));
      if (index >= 0) return index;
      if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('reloads a valid file, refuses an invalid one and keeps running, then stops cleanly', async () => {
    const [sc, mqtt, http] = await freePorts(3);
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-reload-'));
    const file = path.join(dir, 'territory.yaml');
    const input = buildTerritory({
      communes: 1,
      modbusPorts: [sc],
      opcuaPorts: [],
      luminairesPerController: 2,
      presenceSensorsPerZone: 0,
      buildings: false,
      embeddedMqttPort: mqtt,
      httpPort: http,
      stateDir: path.join(dir, 'var'),
      alerts: false,
    });
    input.users = [{ id: 'admin', role: 'admin', communes: ['*'], token_sha256: sha256Hex(TOKEN) }];
    input.service = { ...input.service, log_format: 'json', log_level: 'info' };
    const yaml = toYaml(input);
    await writeFile(file, yaml);
    const communeNames = async (): Promise<string[]> => {
      const response = await fetch(`http://127.0.0.1:${http}/api/communes`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { name: string }[]).map((c) => c.name);
    };

    child = spawn(process.execPath, [CLI, 'start', file], { cwd: PROJECT_ROOT });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    exited = new Promise((resolve) => child!.once('exit', (code) => resolve(code)));
    let seen = await waitForOutput(/nocturne started/, 0);
    expect(await communeNames()).toEqual(['Metz']);

    await writeFile(file, `${yaml}\nzones_typo: []\n`);
    child.kill('SIGHUP');
    seen = await waitForOutput(/configuration not reloaded \(1 error\(s\)\)/, seen);
    expect(output.slice(0, seen + 1).join('')).toMatch(
      /territory\.yaml:\d+:\d+ .*unknown field 'zones_typo'/,
    );
    expect(await communeNames()).toEqual(['Metz']);

    expect(yaml).toMatch(/name: Metz$/m);
    await writeFile(file, yaml.replace(/name: Metz$/m, 'name: Metz (rechargée)'));
    child.kill('SIGHUP');
    seen = await waitForOutput(/nocturne reloaded/, seen);
    expect(await communeNames()).toEqual(['Metz (rechargée)']);

    child.kill('SIGHUP');
    await waitForOutput(/configuration unchanged: nothing to reload/, seen);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(child.signalCode).toBeNull();
  }, 60_000);
});
