import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/paths';
import { buildTerritory } from '../config/demoTerritory';
import { freePorts } from '../test/helpers/ports';
import { option, round, workspace } from './support/lightingBench';

/**
 * Resident memory of the whole service with a large lighting territory (DESIGN target: 100,000
 * luminaires in at most 400 MB). Generates the territory (1,000 Modbus segment controllers of 100
 * luminaires, one presence sensor per zone), starts `node bin/nocturne.js start <config>` (the
 * controllers are not simulated: their links keep retrying, as in the field with a network down),
 * samples its RSS from /proc for a while and prints the peak, then stops it with SIGTERM.
 *
 *   npm run bench -- memory [--controllers 1000] [--seconds 60]
 */

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

async function main(): Promise<void> {
  const controllers = option('controllers', 1000);
  const seconds = option('seconds', 60);
  const [http, broker, ...ports] = await freePorts(controllers + 2);
  const input = buildTerritory({
    communes: 6,
    modbusControllers: controllers,
    opcuaControllers: 0,
    luminairesPerController: 100,
    zonesPerController: 2,
    presenceSensorsPerZone: 1,
    buildings: false,
    alerts: false,
    modbusPorts: ports,
    opcuaPorts: [],
    httpPort: http,
    embeddedMqttPort: broker,
  });
  // state_dir stays relative ('./var/demo'): inside the temporary directory, removed at the end.
  input.service = { ...input.service, log_level: 'warn' };
  const ws = await workspace(input);
  const luminaires = ws.config.zones.reduce((n, z) => n + z.luminaires.length, 0);
  const child = spawn(
    process.execPath,
    [path.join(PROJECT_ROOT, 'bin', 'nocturne.js'), 'start', ws.configFile],
    {
      cwd: ws.dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = once(child, 'exit');
  let peak = 0;
  const samples: number[] = [];
  try {
    for (let t = 0; t < seconds * 4; t++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode})`);
      const rss = rssMb(child.pid!);
      samples.push(rss);
      peak = Math.max(peak, rss);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    await ws.remove();
  }
  const settled = samples.slice(-8);
  console.log(
    `service with ${luminaires} luminaires on ${controllers} segment controllers: RSS peak ${round(peak, 1)} MB, after ${seconds} s ${round(settled.reduce((a, b) => a + b, 0) / settled.length, 1)} MB (target <= 400 MB)`,
  );
  console.log(
    JSON.stringify({
      luminaires,
      controllers,
      rss_peak_mb: round(peak, 1),
      rss_end_mb: round(settled.at(-1) ?? Number.NaN, 1),
    }),
  );
}

main().catch((error: unknown) => {
  console.error(`lighting memory: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
