import { performance } from 'node:perf_hooks';
import type ModbusRTU from 'modbus-serial';
import { levelCurve } from '../config/deviceUnits';
import { buildTerritory } from '../config/demoTerritory';
import { libraryProfiles } from '../config/profiles';
import { channelAddress } from '../config/registers';
import type { RegisterMapConfig } from '../config/schema';
import { freePorts } from '../test/helpers/ports';
import { FarmProcess, LightingStack, option, percentile, round, workspace } from './support/lightingBench';

/**
 * DALI gateways driven through a shipped profile: `--gateways` (100) simulated gateways × 64 DALI
 * addresses, each playing the profile (its curve, records, group and broadcast registers) in a child
 * process, and an emergency relight of all: time from the command to every address confirmed by
 * read-back, and the Modbus requests it took, against the floor in the same run — bare modbus-serial,
 * one client per gateway, the fewest writes the map allows (its broadcast register, else one write per
 * run of contiguous level registers), then the read-back of every address's level, merged as the
 * driver merges reads. Prints a summary, then one JSON line.
 *
 *   npm run bench -- gateways [profile] [--gateways 100] [--runs 100] [--warmup 3]
 *
 * p99 by nearest rank: over the default 100 runs, the second worst. Target: p50 and p99 ≤ 1.3× the floor's.
 */

const ADDRESSES = 64;
const MAX_READ_REGISTERS = 125;
const MAX_READ_GAP = 8;

async function main(): Promise<void> {
  const profileId =
    process.argv.slice(2).find((a) => !a.startsWith('--') && !/^\d+$/.test(a)) ?? 'ecodim-dali-gw2';
  const profile = libraryProfiles().get(profileId);
  if (!profile)
    throw new Error(
      `no shipped profile '${profileId}' (shipped: ${[...libraryProfiles().keys()].join(', ')})`,
    );
  const gateways = option('gateways', 100);
  const runs = option('runs', 100);
  const warmup = option('warmup', 3);
  const ports = await freePorts(gateways);
  const input = buildTerritory({
    communes: 6,
    modbusControllers: gateways,
    opcuaControllers: 0,
    luminairesPerController: ADDRESSES,
    zonesPerController: 2,
    presenceSensorsPerZone: 0,
    buildings: false,
    alerts: false,
    modbusPorts: ports,
    opcuaPorts: [],
    mqttUrl: 'mqtt://127.0.0.1:1',
  });
  for (const device of input.devices ?? []) if (device.lighting) device.lighting.map = profileId;
  const ws = await workspace(input);
  // The simulators' model, which plays the profile; the lean bank knows only nocturne's own map.
  const farm = await FarmProcess.start(ws.configFile, false);
  const stack = LightingStack.create(ws, ports, 'bench');
  const { clients } = stack;
  const floorPlan = new FloorPlan(profile);
  try {
    await stack.start(ports, { mqtt: false });
    const total = gateways * ADDRESSES;

    const ours = async (level: number, run: number) => {
      const { confirmedMs: ms, requests, errors } = await stack.timedRelight(level, run, total);
      return { ms, requests, errors };
    };
    const floor = async (level: number): Promise<{ ms: number; requests: number; errors: number }> => {
      let errors = 0;
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (client) => {
          for (const values of await floorPlan.relight(client, level))
            for (const v of values) if (v !== floorPlan.raw(level)) errors++;
        }),
      );
      return { ms: performance.now() - t0, requests: floorPlan.requests * clients.length, errors };
    };

    const oursMs: number[] = [];
    const floorMs: number[] = [];
    let oursRequests = 0;
    let floorRequests = 0;
    const errors = { ours: 0, floor: 0 };
    for (let run = 0; run < warmup + runs; run++) {
      // Each pass moves every level (the schedule holds 70 %), so a read-back cannot pass on what was there.
      const a = run % 2 === 0 ? 100 : 60;
      const b = run % 2 === 0 ? 30 : 80;
      const pair =
        run % 2 === 0 ? [() => ours(a, run), () => floor(b)] : [() => floor(b), () => ours(a, run)];
      for (const [k, step] of pair.entries()) {
        const result = await step();
        const isOurs = (run % 2 === 0) === (k === 0);
        if (run < warmup) continue;
        (isOurs ? oursMs : floorMs).push(result.ms);
        if (isOurs) oursRequests = result.requests;
        else floorRequests = result.requests;
        errors[isOurs ? 'ours' : 'floor'] += result.errors;
      }
    }

    const p50 = percentile(oursMs, 50);
    const p99 = percentile(oursMs, 99);
    const floorP50 = percentile(floorMs, 50);
    const floorP99 = percentile(floorMs, 99);
    console.log(
      `Emergency relight of ${total} DALI addresses on ${gateways} gateways playing '${profileId}' (simulators in a child process), ${runs} runs after ${warmup} warm-ups`,
    );
    console.log(
      `nocturne (command → every address confirmed by read-back): p50 ${round(p50)} ms, p99 ${round(p99)} ms, ${oursRequests} Modbus requests`,
    );
    console.log(
      `floor (bare modbus-serial: ${floorPlan.describe()}, per gateway, all in parallel): p50 ${round(floorP50)} ms, p99 ${round(floorP99)} ms, ${floorRequests} requests`,
    );
    console.log(
      `ratios: p50 ${round(p50 / floorP50, 3)}, p99 ${round(p99 / floorP99, 3)} (target ≤ 1.3); luminaires not confirmed: ${errors.ours}; floor's wrong or missing read-backs: ${errors.floor}`,
    );
    console.log(
      JSON.stringify({
        profile: profileId,
        luminaires: total,
        p50_ms: round(p50),
        p99_ms: round(p99),
        floor_p50_ms: round(floorP50),
        floor_p99_ms: round(floorP99),
        p50_ratio: round(p50 / floorP50, 3),
        p99_ratio: round(p99 / floorP99, 3),
        requests: oursRequests,
        floor_requests: floorRequests,
        errors: errors.ours,
        floor_errors: errors.floor,
      }),
    );
    if (errors.ours + errors.floor > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
    await farm.stop();
    await ws.remove();
  }
}

/** The floor's requests for one gateway: the fewest writes the profile allows, then merged read-backs. */
class FloorPlan {
  readonly raw: (level: number) => number;
  private readonly writes: { address: number; count: number }[];
  private readonly reads: { table: 'holding' | 'input'; address: number; count: number; offsets: number[] }[];

  constructor(profile: RegisterMapConfig) {
    const curve = levelCurve(profile.level_curve, profile.level_max_raw, false);
    this.raw = (level) => Math.round(curve.toValue(level) / profile.commanded_level.scale);
    const levels = Array.from({ length: ADDRESSES }, (_, k) =>
      channelAddress(profile.commanded_level, k + 1),
    );
    this.writes = profile.broadcast_level
      ? [{ address: profile.broadcast_level.address, count: 1 }]
      : runsOf(levels, 0, MAX_READ_REGISTERS - 2).map((r) => ({ address: r.address, count: r.count }));
    const readBlock = profile.in_effect_level ?? profile.commanded_level;
    const table = readBlock.table === 'input' ? 'input' : 'holding';
    const addresses = Array.from({ length: ADDRESSES }, (_, k) => channelAddress(readBlock, k + 1));
    this.reads = runsOf(addresses, MAX_READ_GAP, MAX_READ_REGISTERS).map((r) => ({ table, ...r }));
  }

  get requests(): number {
    return this.writes.length + this.reads.length;
  }

  describe(): string {
    return `${this.writes.length} write(s) and ${this.reads.length} read(s)`;
  }

  /** Writes the level, then reads every address back: the values read, per read. */
  async relight(client: ModbusRTU, level: number): Promise<number[][]> {
    const raw = this.raw(level);
    for (const w of this.writes) await client.writeRegisters(w.address, new Array<number>(w.count).fill(raw));
    const out: number[][] = [];
    for (const r of this.reads) {
      const { data } =
        r.table === 'input'
          ? await client.readInputRegisters(r.address, r.count)
          : await client.readHoldingRegisters(r.address, r.count);
      out.push(r.offsets.map((o) => data[o]));
    }
    return out;
  }
}

/** Ascending addresses grouped into requests: gaps up to `maxGap` bridged, at most `limit` registers each. */
function runsOf(
  addresses: number[],
  maxGap: number,
  limit: number,
): { address: number; count: number; offsets: number[] }[] {
  const runs: { address: number; count: number; offsets: number[] }[] = [];
  for (const address of addresses) {
    const last = runs.at(-1);
    const end = last ? last.address + last.count : 0;
    if (last && address - end <= maxGap && address + 1 - last.address <= limit) {
      last.offsets.push(address - last.address);
      last.count = address + 1 - last.address;
    } else runs.push({ address, count: 1, offsets: [0] });
  }
  return runs;
}

main().catch((error: unknown) => {
  console.error(`bench gateways: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
