import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/paths';
import { buildTerritory } from '../config/demoTerritory';
import { freePorts } from '../test/helpers/ports';
import type { HeapSample } from './support/heapProbe';
import { FarmProcess, option, round, workspace } from './support/lightingBench';

/**
 * Memory of the whole service with a large lighting territory (DESIGN target: 100,000 luminaires in at
 * most 400 MB), while it talks to its devices. Generates the territory (1,000 Modbus segment controllers
 * of 100 luminaires, one presence sensor per zone), plays the controllers in a child process
 * (LeanSegmentBank), starts `node --expose-gc -r heapProbe.js bin/nocturne.js start <config>`, and keeps
 * it busy with emergency relights of everything over the HTTP API, each confirmed by read-back and then
 * cleared (four Modbus requests per controller). Every `--every` requests per controller it asks the
 * service to collect garbage and report the heap still in use (retained) and its RSS. What is held per
 * request (e.g. a library keeping the last transactions of every connection) shows as a retained heap
 * that grows with the requests; once warmed up (`--warmup` requests per controller: caches filled, code
 * optimised) it must stay flat: the slope is fitted over the checkpoints from there on.
 *
 *   npm run bench -- memory [--controllers 1000] [--requests 2000] [--every 200] [--warmup 100]
 */

const ADMIN = 'Bearer demo-admin';
/** A second user for the clears: the API limits requests per user and window. */
const EMERGENCY = 'Bearer demo-sdis57';

async function main(): Promise<void> {
  const controllers = option('controllers', 1000);
  const requestsPerController = option('requests', 2000);
  const every = option('every', 200);
  const warmup = option('warmup', 100);
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
  const farm = await FarmProcess.start(ws.configFile, true);
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '-r',
      path.join(__dirname, 'support', 'heapProbe.js'),
      path.join(PROJECT_ROOT, 'bin', 'nocturne.js'),
      'start',
      ws.configFile,
    ],
    { cwd: ws.dir, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${http}`;
  const api = async (method: string, route: string, token: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: { authorization: token, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return response.headers.get('content-type')?.includes('json') ? response.json() : response.text();
  };
  const heap = async (): Promise<HeapSample> => {
    const answer = once(child, 'message') as Promise<[HeapSample]>;
    child.send('heap');
    return (await answer)[0];
  };
  /** Modbus requests per controller so far, from the service's own counters (/metrics). */
  const requestsSoFar = async (): Promise<number> => {
    const text = (await api('GET', '/metrics', ADMIN)) as string;
    let sum = 0;
    for (const match of text.matchAll(/^nocturne_device_requests_total\{[^}]*\} (\d+)$/gm))
      sum += Number(match[1]);
    return sum / controllers;
  };
  const checkpoints: { minutes: number; requests: number; heapMb: number; rssMb: number }[] = [];
  const t0 = performance.now();
  try {
    for (let waited = 0; ; waited += 250) {
      if (child.exitCode !== null) throw new Error(`the service exited (${child.exitCode})`);
      if (waited > 120_000) throw new Error('the service did not answer on HTTP within 120 s');
      const up = await fetch(`${base}/api/health`).catch(() => undefined);
      if (up?.ok) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    let next = 0;
    for (let run = 0; ; run++) {
      const requests = await requestsSoFar();
      if (requests >= next) {
        const sample = await heap();
        checkpoints.push({
          minutes: (performance.now() - t0) / 60_000,
          requests: Math.round(requests),
          heapMb: sample.retainedHeapBytes / 2 ** 20,
          rssMb: sample.rssBytes / 2 ** 20,
        });
        const c = checkpoints.at(-1)!;
        console.log(
          `${c.requests} requests per controller: retained heap ${round(c.heapMb, 1)} MB, RSS ${round(c.rssMb, 1)} MB`,
        );
        if (requests >= requestsPerController) break;
        // One checkpoint at the end of the warm-up, then every `every` requests.
        next = Math.min(requestsPerController, requests < warmup ? warmup : requests + every);
      }
      const id = `bench-memory-${run}`;
      const body = { id, target: { all: true }, level: run % 2 === 0 ? 100 : 60, reason: 'benchmark' };
      await api('POST', '/api/relights?waitMs=30000', ADMIN, body);
      await api('DELETE', `/api/relights/${id}`, EMERGENCY);
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
    await farm.stop();
    await ws.remove();
  }
  const warm = checkpoints.filter((c) => c.requests >= warmup);
  const slope = slopePerMinute(warm);
  const last = checkpoints.at(-1)!;
  console.log(
    `service with ${luminaires} luminaires on ${controllers} segment controllers, ${last.requests} Modbus requests per controller in ${round(last.minutes, 1)} min: retained heap ${round(last.heapMb, 1)} MB (slope after warm-up ${round(slope, 2)} MB/min), RSS ${round(last.rssMb, 1)} MB (targets: retained heap flat after warm-up, RSS <= 400 MB)`,
  );
  console.log(
    JSON.stringify({
      luminaires,
      controllers,
      requests_per_controller: last.requests,
      rss_mb: round(last.rssMb, 1),
      retained_heap_mb: round(last.heapMb, 1),
      heap_slope_mb_per_min: round(slope, 2),
    }),
  );
}

/** Least-squares slope of the retained heap over time. */
function slopePerMinute(points: readonly { minutes: number; heapMb: number }[]): number {
  if (points.length < 2) return Number.NaN;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.minutes, 0) / n;
  const my = points.reduce((s, p) => s + p.heapMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.minutes - mx) * (p.heapMb - my);
    den += (p.minutes - mx) ** 2;
  }
  return num / den;
}

main().catch((error: unknown) => {
  console.error(`bench memory: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
