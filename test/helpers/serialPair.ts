import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServerSerial, type IServiceVector } from 'modbus-serial';
import type { RegisterBank } from '../../simulators/modbus/server';

/**
 * Serial links for RTU tests, made by Debian's socat: a pseudo-terminal pair (a null-modem cable),
 * or a TCP listener bridged to a pseudo-terminal (a serial device server in raw TCP mode).
 * Each helper returns a stop() that kills socat and removes its temp dir.
 */

export interface SocatLink {
  stop(): Promise<void>;
}

export interface SerialPair extends SocatLink {
  /** The two ends: open one with the driver, the other with the RTU server. */
  a: string;
  b: string;
}

export interface RtuOverTcpBridge extends SocatLink {
  /** The pseudo-terminal the RTU server opens; TCP clients of `port` reach it. */
  pty: string;
  port: number;
}

export async function startSerialPair(): Promise<SerialPair> {
  const dir = mkdtempSync(path.join(tmpdir(), 'nocturne-pty-'));
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const { socat } = spawnSocat([`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`]);
  const stop = stopper(socat, dir);
  try {
    await waitFor(socat, () => existsSync(a) && existsSync(b), 'the pty pair');
  } catch (error) {
    await stop();
    throw error;
  }
  return { a, b, stop };
}

/** socat opens the pty first, then listens on 127.0.0.1:port; it serves one TCP connection. */
export async function startRtuOverTcpBridge(port: number): Promise<RtuOverTcpBridge> {
  const dir = mkdtempSync(path.join(tmpdir(), 'nocturne-pty-'));
  const pty = path.join(dir, 'bus');
  const { socat, log } = spawnSocat([
    `pty,raw,echo=0,link=${pty}`,
    `tcp-listen:${port},bind=127.0.0.1,reuseaddr`,
  ]);
  const stop = stopper(socat, dir);
  try {
    await waitFor(socat, () => existsSync(pty) && log().includes('listening on'), 'the TCP listener');
  } catch (error) {
    await stop();
    throw error;
  }
  return { pty, port, stop };
}

export interface RtuServer {
  /** Requests answered or refused, as ModbusSimServer counts them. */
  readonly requests: number;
  stop(): Promise<void>;
}

/** A Modbus RTU slave on a serial path (a pty end), serving a register bank for every unit id. */
export async function startRtuServer(pathName: string, bank: RegisterBank): Promise<RtuServer> {
  let requests = 0;
  const answer = <T>(cb: (err: Error | null, value: T) => void, work: () => T): void => {
    requests++;
    try {
      cb(null, work());
    } catch (error) {
      const code = (error as { modbusErrorCode?: number }).modbusErrorCode ?? 4;
      cb(Object.assign(new Error((error as Error).message), { modbusErrorCode: code }), undefined as T);
    }
  };
  const vector: IServiceVector = {
    getMultipleHoldingRegisters: (
      addr: number,
      length: number,
      unitId: number,
      cb: (e: Error | null, v: number[]) => void,
    ) => answer(cb, () => bank.readRegisters('holding', addr, length, unitId)),
    getMultipleInputRegisters: (
      addr: number,
      length: number,
      unitId: number,
      cb: (e: Error | null, v: number[]) => void,
    ) => answer(cb, () => bank.readRegisters('input', addr, length, unitId)),
    // modbus-serial's server reads single registers through these, not the Multiple ones.
    getHoldingRegister: (addr: number, unitId: number, cb: (e: Error | null, v: number) => void) =>
      answer(cb, () => bank.readRegisters('holding', addr, 1, unitId)[0]),
    getInputRegister: (addr: number, unitId: number, cb: (e: Error | null, v: number) => void) =>
      answer(cb, () => bank.readRegisters('input', addr, 1, unitId)[0]),
    getCoil: (addr: number, unitId: number, cb: (e: Error | null, v: boolean) => void) =>
      answer(cb, () => bank.readBits('coil', addr, 1, unitId)[0]),
    getDiscreteInput: (addr: number, unitId: number, cb: (e: Error | null, v: boolean) => void) =>
      answer(cb, () => bank.readBits('discrete', addr, 1, unitId)[0]),
    setRegister: (addr: number, value: number, unitId: number, cb: (e: Error | null) => void) =>
      answer(cb, () => bank.writeRegisters(addr, [value], unitId)),
    setRegisterArray: (addr: number, values: number[], unitId: number, cb: (e: Error | null) => void) =>
      answer(cb, () => bank.writeRegisters(addr, values, unitId)),
    setCoil: (addr: number, value: boolean, unitId: number, cb: (e: Error | null) => void) =>
      answer(cb, () => bank.writeBits(addr, [value], unitId)),
  };
  const server = new ServerSerial(vector, { path: pathName, baudRate: 9600, parity: 'even', unitID: 255 });
  await once(server, 'initialized');
  return {
    get requests() {
      return requests;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** socat with its notices (-d -d) kept, to see when it listens and why it failed. */
function spawnSocat(addresses: string[]): { socat: ChildProcess; log: () => string } {
  const socat = spawn('socat', ['-d', '-d', ...addresses], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  socat.stderr?.on('data', (chunk: Buffer) => {
    if (log.length < 64_000) log += chunk.toString();
  });
  return { socat, log: () => log };
}

function stopper(socat: ChildProcess, dir: string): () => Promise<void> {
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= (async () => {
      if (socat.exitCode === null && socat.signalCode === null) {
        const exited = once(socat, 'exit');
        socat.kill('SIGTERM');
        await exited;
      }
      socat.stderr?.destroy();
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
}

async function waitFor(socat: ChildProcess, ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!ready()) {
    if (socat.exitCode !== null) throw new Error(`socat exited (${socat.exitCode}) before ${what} was ready`);
    if (Date.now() > deadline) throw new Error(`socat: ${what} not ready within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
