import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import ModbusRTU from 'modbus-serial';
import { buildTerritory } from '../config/demoTerritory';
import { toYaml } from '../config/generateDemo';
import { freePorts } from '../test/helpers/ports';
import { startMosquitto } from '../test/helpers/mosquitto';
import { killProcess, startServiceProcess, type ServiceProcess } from '../test/helpers/serviceProcess';
import { FarmProcess, option, round, workspace, type Workspace } from './support/lightingBench';
import { cpuTicks, quiet, TICKS_PER_SECOND } from './support/quiet';

/**
 * Five shards of 100,000 luminaires on this machine, an emergency relight of everything. A shard is
 * exactly an instance that owns a set of communes: five service processes (`nocturne start`), each with
 * a territory of its own communes (two per instance, renamed so that no two instances share one), are
 * five shards. Each shard's Modbus segment controllers (LeanSegmentBank) run in a farm process of their
 * own. The relight is what an emergency user sends, once the instances are done starting (quiet): one
 * `POST /api/relights?waitMs=` per commune to its instance's HTTP API, all at once; measured from the
 * first request to the last answer saying every luminaire of its commune is confirmed by read-back, then
 * checked at the devices (every channel received the level). Each instance's peak RSS is read from
 * /proc (VmHWM), and the CPU time every process spent in the relight from /proc/<pid>/stat.
 *
 * Floor, in the same run: bare modbus-serial from this process, one connected client per controller,
 * the same level in as many write-multiples (123 registers each) and read-backs (125) as a controller's
 * channels take, all controllers at once; as the instances send them, a controller's writes are in
 * flight together, then its reads (the demo's controllers declare `concurrency: 4`).
 *
 *   node dist/bench/scale.js [--shards 5] [--luminaires 100000] [--per-controller 250]
 *
 * (--luminaires is per shard.) Prints a summary, then one JSON line.
 */

const LEVEL_START = 1000;
const SCHEDULE_LEVEL = 20;
const RELIGHT_LEVEL = 100;
/** The emergency services' demo token (config/demoTerritory.ts): role emergency, every commune. */
const EMERGENCY_TOKEN = 'demo-sdis57';
const ADMIN_TOKEN = 'demo-admin';
const COMMUNES_PER_SHARD = 2;

interface Shard {
  index: number;
  ws: Workspace;
  httpUrl: string;
  communes: string[];
  controllerPorts: number[];
  farm: FarmProcess;
  instance?: ServiceProcess;
}

async function main(): Promise<void> {
  const shardCount = option('shards', 5);
  const perShard = option('luminaires', 100_000);
  const perController = option('per-controller', 250);
  if (perShard % perController !== 0) throw new Error('--luminaires must be a multiple of --per-controller');
  const controllers = perShard / perController;
  const broker = await startMosquitto();
  const shards: Shard[] = [];
  try {
    for (let index = 0; index < shardCount; index++)
      shards.push(await setUpShard(index, controllers, perController, broker.url));
    const setupStart = performance.now();
    await Promise.all(shards.map(startInstance));
    console.log(
      `${shardCount} instances started, the schedule's level confirmed on their ${shardCount * perShard} luminaires, in ${round((performance.now() - setupStart) / 1000, 1)} s`,
    );
    for (const shard of shards) await shard.farm.writes(); // forget the start's writes
    const startedRss = await Promise.all(shards.map((s) => rssMb(s.instance!, 'VmRSS')));
    // From a steady state, as the floor: once started, an instance still records the start's levels
    // (500-900 ms of CPU over the five, measured), and this process collects the writes just parsed.
    await instancesQuiet(shards);

    // -- the relight of everything: every commune of every shard, at once, through each instance's API --
    const cpu = await CpuAccount.start(shards);
    const t0 = performance.now();
    const answers = await Promise.all(
      shards.flatMap((shard) => shard.communes.map(async (commune) => relightCommune(shard, commune))),
    );
    const relightCpu = await cpu.spent();
    const allConfirmedMs = Math.max(...answers.map((a) => a.at)) - t0;
    const confirmed = answers.reduce((n, a) => n + a.confirmed, 0);
    const total = shardCount * perShard;
    const rss = await Promise.all(shards.map((s) => rssMb(s.instance!)));
    const atDevices = await relitAtDevices(shards, perController);

    // -- the floor: the same level to the same devices, bare modbus-serial --
    // The instances write the relight's telemetry once it is confirmed: the floor is measured after.
    await instancesQuiet(shards);
    const floorAccount = await CpuAccount.start(shards);
    const floorMs = await floor(shards, perController);
    const floorCpu = await floorAccount.spent();

    const maxRss = Math.max(...rss);
    const ratio = round(allConfirmedMs / floorMs, 2);
    console.log(
      `${shardCount} shards (${shardCount} instances, each owning ${COMMUNES_PER_SHARD} communes of its own) × ${perShard} luminaires on ${controllers} Modbus controllers of ${perController} channels each, the controllers of each shard in a farm process of their own`,
    );
    console.log(
      `relight of everything (${answers.length} POST /api/relights?waitMs= at once, one per commune): every luminaire confirmed by its instance in ${round(allConfirmedMs, 0)} ms; confirmed ${confirmed} of ${total}; relit at the devices ${atDevices} of ${total} (target <= 2000 ms)`,
    );
    console.log(`  per commune: ${answers.map((a) => `${a.commune} ${round(a.at - t0, 0)} ms`).join(', ')}`);
    console.log(
      `peak RSS per instance (VmHWM): ${rss.map((mb) => `${round(mb, 0)} MB`).join(', ')} (target <= 400 MB); before the relight (VmRSS): ${startedRss.map((mb) => `${round(mb, 0)} MB`).join(', ')}`,
    );
    console.log(
      `floor (bare modbus-serial from one process, the write-multiples then the reads of each controller in flight together, all ${shardCount * controllers} at once): ${round(floorMs, 0)} ms; ratio ${ratio}`,
    );
    console.log(
      `CPU time spent (2 cores: ${round(2 * allConfirmedMs, 0)} ms of it in the relight's ${round(allConfirmedMs, 0)} ms): relight: instances ${relightCpu.instances} ms (${relightCpu.perInstance.join(', ')}), farms ${relightCpu.farms} ms, this process ${relightCpu.bench} ms; floor: this process ${floorCpu.bench} ms, farms ${floorCpu.farms} ms`,
    );
    console.log(
      JSON.stringify({
        luminaires: total,
        instances: shardCount,
        all_confirmed_ms: round(allConfirmedMs, 0),
        max_rss_mb: round(maxRss, 0),
        max_rss_before_relight_mb: round(Math.max(...startedRss), 0),
        floor_ms: round(floorMs, 0),
        ratio,
        confirmed,
        relit_at_devices: atDevices,
        cpu_ms: { instances: relightCpu.instances, farms: relightCpu.farms, bench: relightCpu.bench },
        floor_cpu_ms: { farms: floorCpu.farms, bench: floorCpu.bench },
      }),
    );
    if (confirmed !== total || atDevices !== total) process.exitCode = 1;
  } finally {
    await Promise.allSettled(shards.map((s) => killProcess(s.instance, 'SIGTERM')));
    await Promise.allSettled(shards.map((s) => s.farm.stop()));
    await Promise.allSettled(shards.map((s) => s.ws.remove()));
    await broker.stop();
  }
}

/** One shard: its territory (communes renamed to be its own), written to a temp dir, and its farm process. */
async function setUpShard(
  index: number,
  controllers: number,
  perController: number,
  mqttUrl: string,
): Promise<Shard> {
  const controllerPorts = await freePorts(controllers);
  const httpPort = await portBelowEphemeralRange(index);
  const input = buildTerritory({
    communes: COMMUNES_PER_SHARD,
    modbusControllers: controllers,
    opcuaControllers: 0,
    luminairesPerController: perController,
    zonesPerController: 2,
    presenceSensorsPerZone: 0,
    buildings: false,
    alerts: false,
    modbusPorts: controllerPorts,
    opcuaPorts: [],
    mqttUrl,
    httpPort,
  });
  const own = (commune: string): string => `${commune}-${index + 1}`;
  input.communes = (input.communes ?? []).map((c) => ({
    ...c,
    id: own(c.id),
    name: `${c.name} (${index + 1})`,
  }));
  for (const device of input.devices ?? []) if (device.commune) device.commune = own(device.commune);
  for (const zone of input.zones ?? []) zone.commune = own(zone.commune);
  // Only the users of every commune: the others name communes of the demo by their own ids.
  input.users = (input.users ?? []).filter((u) => u.communes.includes('*'));
  // A schedule that says the same all day, so that the relight changes every level at any hour.
  input.programs = [{ id: 'constant', steps: [{ at: '12:00', level: SCHEDULE_LEVEL }] }];
  input.calendars = (input.calendars ?? []).map((c) => ({ id: c.id, default: 'constant', rules: [] }));
  input.service = { ...input.service, instance: `nocturne-shard-${index + 1}`, log_level: 'warn' };
  input.mqtt = { ...input.mqtt, base_topic: `nocturne-shard-${index + 1}` };
  const ws = await workspace(input);
  input.service.state_dir = ws.dir;
  await writeFile(ws.configFile, toYaml(input));
  return {
    index,
    ws,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    communes: (input.communes ?? []).map((c) => c.id),
    controllerPorts,
    farm: await FarmProcess.start(ws.configFile, true),
  };
}

/**
 * A free port for an instance's API, below the ephemeral range: the instances open 2,000 outgoing
 * connections before their API listens, and one of them could take an ephemeral port chosen earlier.
 */
async function portBelowEphemeralRange(index: number): Promise<number> {
  const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'))
    .trim()
    .split(/\s+/)
    .map(Number);
  for (let port = low - 1 - ((process.pid * 7 + index * 101) % 8000); port > 1024; port--) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

/** Starts the shard's service and waits until its API answers and every luminaire has the schedule's level confirmed. */
async function startInstance(shard: Shard): Promise<void> {
  shard.instance = startServiceProcess(shard.ws.configFile);
  const deadline = performance.now() + 300_000;
  for (;;) {
    if (shard.instance.child.exitCode !== null)
      throw new Error(`shard ${shard.index + 1} exited:\n${shard.instance.output.join('').slice(-3000)}`);
    const zones = await fetch(`${shard.httpUrl}/api/zones`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
      .then(async (r) =>
        r.ok ? ((await r.json()) as { luminaires: number; confirmed: number }[]) : undefined,
      )
      .catch(() => undefined);
    if (zones && zones.length > 0 && zones.every((z) => z.confirmed === z.luminaires)) return;
    if (performance.now() > deadline)
      throw new Error(
        `shard ${shard.index + 1}: not ready after 300 s\n${shard.instance.output.join('').slice(-3000)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** One emergency relight of a commune through the instance's API; resolves when it answers confirmed (or not). */
async function relightCommune(
  shard: Shard,
  commune: string,
): Promise<{ commune: string; at: number; confirmed: number }> {
  const response = await fetch(`${shard.httpUrl}/api/relights?waitMs=60000`, {
    method: 'POST',
    headers: { authorization: `Bearer ${EMERGENCY_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      target: { commune },
      level: RELIGHT_LEVEL,
      reason: 'benchmark: relight of everything',
    }),
  });
  const at = performance.now();
  const body = (await response.json()) as { progress?: { total: number; confirmed: number; done: boolean } };
  if (response.status !== 201 || !body.progress)
    throw new Error(`relight of ${commune}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  if (!body.progress.done)
    console.log(`relight of ${commune}: not done after 60 s (${JSON.stringify(body.progress)})`);
  return { commune, at, confirmed: body.progress.confirmed };
}

/** Channels of every shard's controllers that received the relight's level since the start's writes were taken. */
async function relitAtDevices(shards: readonly Shard[], perController: number): Promise<number> {
  let count = 0;
  for (const shard of shards) {
    const relit = new Map<string, Set<number>>();
    for (const write of await shard.farm.writes())
      write.values.forEach((value, k) => {
        const channel = write.address + k - LEVEL_START;
        if (value !== RELIGHT_LEVEL || channel < 0 || channel >= perController) return;
        const channels = relit.get(write.device) ?? new Set<number>();
        relit.set(write.device, channels.add(channel));
      });
    for (const channels of relit.values()) count += channels.size;
  }
  return count;
}

/** Bare modbus-serial: the relight's level to every controller of every shard at once, each read back. */
async function floor(shards: readonly Shard[], perController: number): Promise<number> {
  const ports = shards.flatMap((s) => s.controllerPorts);
  const clients = ports.map(() => new ModbusRTU());
  try {
    await Promise.all(
      clients.map(async (client, i) => {
        await client.connectTCP('127.0.0.1', { port: ports[i] });
        client.setID(1);
        client.setTimeout(10_000);
      }),
    );
    const values = new Array<number>(perController).fill(RELIGHT_LEVEL);
    const offsets = (step: number): number[] =>
      Array.from({ length: Math.ceil(perController / step) }, (_, k) => k * step);
    const writeOffsets = offsets(123);
    const readOffsets = offsets(125);
    let wrong = 0;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (client) => {
        // One FC16 carries at most 123 registers: the level block in as many writes as it takes, in
        // flight together as the instances send them (the controllers take several requests at once).
        await Promise.all(
          writeOffsets.map((offset) =>
            client.writeRegisters(LEVEL_START + offset, values.slice(offset, offset + 123)),
          ),
        );
        const backs = await Promise.all(
          readOffsets.map((offset) =>
            client.readInputRegisters(LEVEL_START + offset, Math.min(125, perController - offset)),
          ),
        );
        for (const back of backs) wrong += back.data.filter((v) => v !== RELIGHT_LEVEL).length;
      }),
    );
    const ms = performance.now() - t0;
    if (wrong > 0) throw new Error(`floor: ${wrong} levels not read back`);
    return ms;
  } finally {
    await Promise.allSettled(clients.map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
  }
}

const instancePid = (shard: Shard): number => shard.instance!.child.pid!;

/** Waits until the instances have nothing left to do (bench/support/quiet.ts). */
const instancesQuiet = (shards: readonly Shard[]): Promise<void> =>
  quiet(() => Promise.resolve(shards.map(instancePid)));

/**
 * CPU time spent between `start()` and `spent()` by the instances, the farms and this process: with
 * every process on the same 2 cores, what the relight costs in all, beside how long it takes.
 */
class CpuAccount {
  private instances: number[] = [];
  private farms: number[] = [];
  private bench = process.cpuUsage();

  private constructor(private readonly shards: readonly Shard[]) {}

  static async start(shards: readonly Shard[]): Promise<CpuAccount> {
    const account = new CpuAccount(shards);
    [account.instances, account.farms] = await account.read();
    account.bench = process.cpuUsage();
    return account;
  }

  async spent(): Promise<{ instances: number; perInstance: number[]; farms: number; bench: number }> {
    const bench = process.cpuUsage(this.bench);
    const [instances, farms] = await this.read();
    const ms = (ticks: number): number => (ticks * 1000) / TICKS_PER_SECOND;
    const perInstance = instances.map((ticks, i) => ms(ticks - this.instances[i]));
    return {
      instances: perInstance.reduce((a, b) => a + b, 0),
      perInstance,
      farms: farms.reduce((sum, ticks, i) => sum + ms(ticks - this.farms[i]), 0),
      bench: Math.round((bench.user + bench.system) / 1000),
    };
  }

  private read(): Promise<[number[], number[]]> {
    return Promise.all([
      Promise.all(this.shards.map((s) => cpuTicks(instancePid(s)))),
      Promise.all(this.shards.map((s) => cpuTicks(s.farm.pid))),
    ]);
  }
}

/** The process's peak resident memory so far (VmHWM), or its current one (VmRSS), in MB. */
async function rssMb(instance: ServiceProcess, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): Promise<number> {
  const status = await readFile(path.join('/proc', String(instance.child.pid), 'status'), 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} for process ${instance.child.pid}`);
  return Number(kb) / 1024;
}

main().catch((error: unknown) => {
  console.error(`bench scale: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
