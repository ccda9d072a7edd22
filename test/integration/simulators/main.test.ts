import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import type Aedes from 'aedes';
import { createBroker } from 'aedes';
import { PROJECT_ROOT } from '../../../config/paths';
import type { SimulationState } from '../../../simulators/control';
import { control, testTerritory, writeTerritory } from './territory';

/**
 * The simulators as their own process, as the demo, the tests of the service and the benchmarks run
 * them: node dist/simulators/main.js <config> (dist/ is rebuilt by the global setup when sources change).
 */

const MAIN = path.join(PROJECT_ROOT, 'dist', 'simulators', 'main.js');

interface Ready {
  ready: true;
  modbus: number[];
  opcua: number[];
  control: number;
}

function simulators(args: string[]): ChildProcessWithoutNullStreams {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build with 'npx tsc -p .'`);
  return spawn(process.execPath, [MAIN, ...args], { cwd: PROJECT_ROOT });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('simulators process', () => {
  let remove: (() => Promise<void>) | undefined;
  let broker: { aedes: Aedes; server: Server } | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    if (broker) {
      const { aedes, server } = broker;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }
    await remove?.();
  });

  it('prints one ready line, answers the control API, publishes detections and exits 0 on SIGTERM', async () => {
    const territory = await testTerritory({ modbus: 1, opcua: 1, luminaires: 4, bmsOnOpcuaPort: true });
    const written = await writeTerritory(territory);
    remove = written.remove;

    const aedes = createBroker();
    const topics: string[] = [];
    aedes.on('publish', (packet, client) => {
      if (client) topics.push(packet.topic);
    });
    const server = createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(territory.ports.mqtt, '127.0.0.1', resolve));
    broker = { aedes, server };

    const proc = simulators([written.file, '--control-port', '0', '--presence-rate', '0']);
    child = proc;
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', () => stdout.includes('\n') && resolve());
      proc.once('exit', (code) => reject(new Error(`exited with ${code} before the ready line:\n${stderr}`)));
    });
    const ready = JSON.parse(stdout.trim()) as Ready;
    expect(ready).toEqual({
      ready: true,
      modbus: [territory.ports.modbus[0], territory.ports.meterGateway].sort((a, b) => a - b),
      opcua: territory.ports.opcua,
      control: expect.any(Number) as unknown,
    });

    const state = await control<SimulationState>(ready.control, 'GET', '/state');
    expect(state.body.devices.map((d) => d.id).sort()).toEqual(
      territory.config.devices.map((d) => d.id).sort(),
    );
    const sensor = territory.config.presence_sensors[0];
    for (let attempt = 0; ; attempt++) {
      const detection = await control(ready.control, 'POST', `/presence/${sensor.id}`, { class: 'vehicle' });
      if (detection.status === 200) break;
      // The simulator connects to the broker in the background.
      expect(detection.status).toBe(503);
      if (attempt > 50) throw new Error('the presence simulator never connected');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (let i = 0; i < 50 && !topics.includes(sensor.topic); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(topics).toContain(sensor.topic);

    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
    // stdout carries the ready line and nothing else: logs, node-opcua's included, go to stderr.
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('"msg":"stopped"');
  }, 60_000);

  it("with --ignore-sigint stays up on SIGINT (Ctrl-C reaches the demo's whole group) and stops on SIGTERM", async () => {
    const territory = await testTerritory({ modbus: 1, opcua: 0, luminaires: 4 });
    const written = await writeTerritory(territory);
    try {
      const proc = simulators([written.file, '--only', 'modbus', '--control-port', '0', '--ignore-sigint']);
      child = proc;
      let stdout = '';
      await new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('\n')) resolve();
        });
        proc.once('exit', (code) => reject(new Error(`exited with ${code} before the ready line`)));
      });
      const ready = JSON.parse(stdout.trim()) as Ready;
      proc.kill('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(proc.exitCode).toBeNull();
      expect((await control<SimulationState>(ready.control, 'GET', '/state')).status).toBe(200);
      proc.kill('SIGTERM');
      expect(await exited(proc)).toBe(0);
    } finally {
      await written.remove();
    }
  }, 60_000);

  it('exits 2 with the usage on bad arguments, 1 with located errors on a bad configuration', async () => {
    const usage = spawnSync(process.execPath, [MAIN, '--only', 'bacnet'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--only takes modbus, opcua, presence, sensors (unknown: bacnet)');
    expect(usage.stderr).toContain('usage: node dist/simulators/main.js');

    const territory = await testTerritory();
    const written = await writeTerritory(territory);
    await writeFile(written.file, territory.yaml.replace('level_max_raw: 100', 'level_max_raw: -1'));
    const bad = spawnSync(process.execPath, [MAIN, written.file], { encoding: 'utf8' });
    await written.remove();
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/territory\.yaml:\d+:\d+ register_maps\[0\]\.level_max_raw/);
    expect(bad.stdout).toBe('');
  });
});
