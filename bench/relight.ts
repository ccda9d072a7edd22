import { performance } from 'node:perf_hooks';
import { buildTerritory } from '../config/demoTerritory';
import { freePorts } from '../test/helpers/ports';
import { FarmProcess, LightingStack, option, percentile, round, workspace } from './support/lightingBench';

/**
 * Emergency relight of 10,000 luminaires on 100 Modbus segment controllers (simulators in a child
 * process): time from the relight command to every luminaire confirmed by read-back, through the
 * lighting runtime (arbiter, dispatcher, Modbus driver, progress tracking, state file written
 * concurrently), against the floor in the same run: bare modbus-serial, one connected client per
 * device, one write-multiple per device, all devices in parallel, then the read-back of the levels in
 * effect. Prints a summary, then one JSON line.
 *
 *   node dist/bench/relight.js [--runs 50] [--warmup 3] [--model]
 *
 * The p50 and p99 ratios to the floor are reported separately: with few runs the p99 is nearly the
 * slowest run of each side, and its ratio hides a median far from the floor.
 *
 * The controllers are LeanSegmentBank (bench/support/segmentFarm.ts: the register map, nothing computed
 * on a read), so that the simulator is not what is measured; `--model` uses the simulators' full model.
 */

const CONTROLLERS = 100;
const PER_CONTROLLER = 100;
const LEVEL_START = 1000;

async function main(): Promise<void> {
  const runs = option('runs', 50);
  const warmup = option('warmup', 3);
  const ports = await freePorts(CONTROLLERS);
  const ws = await workspace({
    ...buildTerritory({
      communes: 6,
      modbusControllers: CONTROLLERS,
      opcuaControllers: 0,
      luminairesPerController: PER_CONTROLLER,
      zonesPerController: 2,
      presenceSensorsPerZone: 0,
      buildings: false,
      alerts: false,
      modbusPorts: ports,
      opcuaPorts: [],
      mqttUrl: 'mqtt://127.0.0.1:1',
    }),
  });
  const farm = await FarmProcess.start(ws.configFile, !process.argv.includes('--model'));
  const stack = LightingStack.create(ws, ports, 'bench');
  const { runtime, clients } = stack;
  try {
    // The relight path does not touch MQTT.
    await stack.start(ports, { mqtt: false });
    const total = CONTROLLERS * PER_CONTROLLER;

    // A fresh relight each run (as an emergency call is), cleared afterwards, out of the measured time,
    // once the devices have confirmed the schedule's levels again.
    const ours = (level: number, run: number) => stack.timedRelight(level, run, total);
    const floor = async (level: number): Promise<{ ms: number; errors: number }> => {
      const values = new Array<number>(PER_CONTROLLER).fill(level);
      let errors = 0;
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (client) => {
          await client.writeRegisters(LEVEL_START, values);
          const back = await client.readInputRegisters(LEVEL_START, PER_CONTROLLER);
          for (const v of back.data) if (v !== level) errors++;
        }),
      );
      return { ms: performance.now() - t0, errors };
    };

    const oursMs: number[] = [];
    const ackMs: number[] = [];
    const floorMs: number[] = [];
    let errors = 0;
    for (let run = 0; run < warmup + runs; run++) {
      // Each pass moves every level, so that a read-back cannot pass on what was there; who goes first alternates.
      const a = run % 2 === 0 ? 100 : 60;
      const b = run % 2 === 0 ? 30 : 80;
      const pair =
        run % 2 === 0
          ? [async () => ours(a, run), async () => floor(b)]
          : [async () => floor(b), async () => ours(a, run)];
      for (const step of pair) {
        const result = await step();
        if (run < warmup) continue;
        if ('confirmedMs' in result) {
          oursMs.push(result.confirmedMs);
          ackMs.push(result.ackMs);
        } else floorMs.push(result.ms);
        errors += result.errors;
      }
    }

    const p50 = percentile(oursMs, 50);
    const p99 = percentile(oursMs, 99);
    const floorP50 = percentile(floorMs, 50);
    const floorP99 = percentile(floorMs, 99);
    const stats = runtime.stats().dispatch;
    console.log(
      `Emergency relight of ${total} luminaires on ${CONTROLLERS} Modbus segment controllers (simulators in a child process), ${runs} runs after ${warmup} warm-ups`,
    );
    console.log(
      `nocturne (command → every luminaire confirmed by read-back): p50 ${round(p50)} ms, p99 ${round(p99)} ms, max ${round(Math.max(...oursMs))} ms`,
    );
    console.log(
      `  acknowledged (state file fsynced, concurrently with the dispatch): p50 ${round(percentile(ackMs, 50))} ms, p99 ${round(percentile(ackMs, 99))} ms`,
    );
    console.log(
      `floor (bare modbus-serial, one write-multiple + one read per device, all in parallel): p50 ${round(floorP50)} ms, p99 ${round(floorP99)} ms`,
    );
    const p50Ratio = round(p50 / floorP50, 3);
    const p99Ratio = round(p99 / floorP99, 3);
    console.log(
      `ratios to the floor: p50 ${p50Ratio}, p99 ${p99Ratio} (targets: p99 <= 50 ms, both ratios <= 1.2); dispatch cycles ${stats.cycles}, retries ${stats.retries}, failed ${stats.failed}; wrong or missing read-backs: ${errors}`,
    );
    console.log(
      JSON.stringify({
        luminaires: total,
        p50_ms: round(p50),
        p99_ms: round(p99),
        floor_p50_ms: round(floorP50),
        floor_p99_ms: round(floorP99),
        p50_ratio: p50Ratio,
        p99_ratio: p99Ratio,
        runs,
        ack_p99_ms: round(percentile(ackMs, 99)),
        errors,
      }),
    );
    if (errors > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
    await farm.stop();
    await ws.remove();
  }
}

main().catch((error: unknown) => {
  console.error(`bench relight: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
