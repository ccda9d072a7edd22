import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePorts } from './ports';

/**
 * A three-member etcd cluster (Debian's /usr/bin/etcd 3.4) on 127.0.0.1, started by a test: client and
 * peer ports chosen per run, one temp data directory per member.
 *
 * ```ts
 * let etcd: EtcdCluster;
 * beforeAll(async () => { etcd = await startEtcdCluster(); });
 * afterAll(() => etcd.stop());
 * // etcd.endpoints = ['http://127.0.0.1:<port>', …]
 * ```
 *
 * `kill(i)` is SIGKILL of member i (the other two keep the quorum); `pause(i)`/`resume(i)` are
 * SIGSTOP/SIGCONT, a member that stops answering without closing its connections. `stop()` ends every
 * member (SIGCONT first) and deletes the temp directory.
 */
export interface EtcdClusterOptions {
  /** How long to wait for every member to report healthy. Default 15 s. */
  startTimeoutMs?: number;
}

const MEMBERS = 3;

export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-etcd-'));
  const ports = await freePorts(2 * MEMBERS);
  const cluster = new EtcdCluster(dir, ports.slice(0, MEMBERS), ports.slice(MEMBERS));
  try {
    await cluster.startAll(options.startTimeoutMs ?? 15_000);
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  child?: ChildProcess;
  exited?: Promise<void>;
  output: string;
}

export class EtcdCluster {
  readonly endpoints: string[];
  private readonly members: Member[];
  private stopped = false;
  private readonly killOnExit = (): void => {
    for (const member of this.members) member.child?.kill('SIGKILL');
  };

  constructor(
    readonly dir: string,
    clientPorts: number[],
    peerPorts: number[],
  ) {
    this.members = clientPorts.map((clientPort, i) => ({
      name: `m${i}`,
      clientPort,
      peerPort: peerPorts[i],
      output: '',
    }));
    this.endpoints = this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
    process.on('exit', this.killOnExit);
  }

  /** The members' logs (the last 50 KB of each). */
  log(): string {
    return this.members.map((m) => `--- ${m.name}\n${m.output}`).join('\n');
  }

  async startAll(timeoutMs: number): Promise<void> {
    const initialCluster = this.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
    for (const member of this.members) this.spawn(member, initialCluster);
    const deadline = Date.now() + timeoutMs;
    for (const member of this.members) {
      while (!(await healthy(member.clientPort))) {
        if (member.child === undefined)
          throw new Error(`etcd ${member.name} exited during start\n${this.log()}`);
        if (Date.now() > deadline) throw new Error(`etcd not healthy within ${timeoutMs} ms\n${this.log()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** SIGKILL of member i: its client endpoint stops answering; the other two keep the quorum. */
  async kill(i: number): Promise<void> {
    const member = this.members[i];
    member.child?.kill('SIGKILL');
    await member.exited;
  }

  /** SIGSTOP: the member holds its connections and answers nothing. */
  pause(i: number): void {
    this.members[i].child?.kill('SIGSTOP');
  }

  resume(i: number): void {
    this.members[i].child?.kill('SIGCONT');
  }

  /** Every member ended, the temp directory deleted; idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const member of this.members) {
      member.child?.kill('SIGCONT');
      member.child?.kill('SIGKILL');
    }
    await Promise.all(this.members.map((m) => m.exited ?? Promise.resolve()));
    process.off('exit', this.killOnExit);
    await rm(this.dir, { recursive: true, force: true });
  }

  private spawn(member: Member, initialCluster: string): void {
    const client = `http://127.0.0.1:${member.clientPort}`;
    const peer = `http://127.0.0.1:${member.peerPort}`;
    const child = spawn(
      '/usr/bin/etcd',
      [
        `--name=${member.name}`,
        `--data-dir=${path.join(this.dir, member.name)}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=nocturne-test-${this.members[0].clientPort}`,
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    member.child = child;
    const append = (chunk: Buffer): void => {
      member.output = (member.output + chunk.toString()).slice(-50_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    member.exited = new Promise((resolve) =>
      child.once('close', () => {
        if (member.child === child) member.child = undefined;
        resolve();
      }),
    );
  }
}

/** Whether the member answers `GET /health` with `"health":"true"`. */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/health', timeout: 1_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(body.includes('"health":"true"')));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
