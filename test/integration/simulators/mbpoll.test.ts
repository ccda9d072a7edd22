import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ManualClock } from '../../../core/clock';
import { silentLogger } from '../../../core/logger';
import { Simulation } from '../../../simulators/simulation';
import { testTerritory } from './territory';

/**
 * Debian's mbpoll, a Modbus client that is not ours, reads and writes a simulated segment controller
 * exactly as docs/register-map.md says: 0-based addresses with -0, 1-based references without.
 */

const run = promisify(execFile);
let port: number;
let clock: ManualClock;
let simulation: Simulation;

/** mbpoll once against the simulator; returns the values it printed, by reference. */
async function mbpoll(args: string[], values: string[] = []): Promise<Map<number, string>> {
  const { stdout } = await run('mbpoll', [
    '-m',
    'tcp',
    '-p',
    String(port),
    '-a',
    '1',
    '-1',
    // Generous: the simulator answers from this test's process, which a loaded machine can hold up.
    '-o',
    '5',
    ...args,
    '127.0.0.1',
    ...values,
  ]);
  const read = new Map<number, string>();
  for (const match of stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) read.set(Number(match[1]), match[2]);
  if (values.length === 0 && read.size === 0) throw new Error(`mbpoll printed no value:\n${stdout}`);
  return read;
}

const list = (read: Map<number, string>): string[] => [...read.values()];

beforeAll(async () => {
  const territory = await testTerritory({ modbus: 1, luminaires: 4 });
  port = territory.ports.modbus[0];
  clock = new ManualClock(Date.UTC(2026, 0, 19, 19));
  simulation = new Simulation(silentLogger, clock);
  await simulation.start(territory.config, { only: ['modbus'] });
});

afterAll(() => simulation.stop());

describe('mbpoll against a simulated segment controller', () => {
  it('reads the identification input registers IR 0-2 (references 1-3)', async () => {
    expect(list(await mbpoll(['-0', '-t', '3', '-r', '0', '-c', '3']))).toEqual(['1', '4', '1']);
    expect(list(await mbpoll(['-t', '3', '-r', '1', '-c', '3']))).toEqual(['1', '4', '1']);
  });

  it('writes commanded levels to HR 1000-1003, then reads them, the levels in effect and the power', async () => {
    await mbpoll(['-0', '-t', '4', '-r', '1000'], ['0', '40', '70', '100']);
    const commanded = await mbpoll(['-0', '-t', '4', '-r', '1000', '-c', '4']);
    expect([...commanded.keys()]).toEqual([1000, 1001, 1002, 1003]);
    expect(list(commanded)).toEqual(['0', '40', '70', '100']);
    expect(list(await mbpoll(['-0', '-t', '3', '-r', '1000', '-c', '4']))).toEqual(['0', '40', '70', '100']);
    // 1-based reference 1001 is address 1000.
    expect(list(await mbpoll(['-t', '3', '-r', '1001', '-c', '4']))).toEqual(['0', '40', '70', '100']);
    // Rated 35, 45, 60, 70 W, in 0.1 W: 0, 18 W, 42 W, 70 W.
    expect(list(await mbpoll(['-0', '-t', '3', '-r', '2000', '-c', '4']))).toEqual([
      '0',
      '180',
      '420',
      '700',
    ]);
  });

  it('reads the energy counters as 32-bit big-endian integers', async () => {
    await mbpoll(['-0', '-t', '4', '-r', '1000'], ['100', '100', '100', '100']);
    clock.advance(3_600_000);
    await mbpoll(['-0', '-t', '4', '-r', '10'], ['300']); // feed the watchdog after the hour
    expect(list(await mbpoll(['-0', '-t', '3:int', '-B', '-r', '3000', '-c', '4']))).toEqual([
      '35',
      '45',
      '60',
      '70',
    ]);
  });

  it('sets watchdog and fail-safe level at HR 10-11 and shows the fail-safe in effect after expiry', async () => {
    await mbpoll(['-0', '-t', '4', '-r', '10'], ['30', '25']);
    await mbpoll(['-0', '-t', '4', '-r', '1000'], ['90', '90', '90', '90']);
    clock.advance(30_000);
    expect(list(await mbpoll(['-0', '-t', '3', '-r', '1000', '-c', '4']))).toEqual(['25', '25', '25', '25']);
    expect(list(await mbpoll(['-0', '-t', '4', '-r', '1000', '-c', '4']))).toEqual(['90', '90', '90', '90']);
  });

  it('gets the documented exceptions: illegal data value above 100, illegal data address outside the map', async () => {
    await expect(mbpoll(['-0', '-t', '4', '-r', '1000'], ['101'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/Illegal data value/i) as unknown,
    });
    await expect(mbpoll(['-0', '-t', '4', '-r', '1500'], ['1'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/Illegal data address/i) as unknown,
    });
  });
});
