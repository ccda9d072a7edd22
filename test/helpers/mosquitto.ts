import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from './ports';

const run = promisify(execFile);

/**
 * Debian's mosquitto (/usr/sbin/mosquitto), started by a test on 127.0.0.1 with a temp directory for
 * its configuration, persistence, password file, ACL and certificates.
 *
 * ```ts
 * let broker: Mosquitto;
 * beforeAll(async () => { broker = await startMosquitto({ users: { alice: 's3cret' } }); });
 * afterAll(() => broker.stop());
 * // broker.url = 'mqtt://127.0.0.1:<port>'
 * ```
 *
 * Persistence is on: `restart()` (SIGTERM, then start on the same port) keeps retained messages,
 * persistent sessions and their queued QoS 1 messages; `restart({ keepState: false })` starts from
 * nothing, as a broker that lost its disk would. `kill()` is SIGKILL: clients see the connection die;
 * the broker stays down until `restart()`. `stop()` ends the broker and deletes the temp directory.
 */
export interface MosquittoOptions {
  /** Users allowed to connect, name → password. When given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** ACL file lines in mosquitto's syntax, e.g. ['user alice', 'topic readwrite nocturne/#']. */
  acl?: string[];
  /**
   * Adds a TLS listener on its own port. `true` generates, with the openssl CLI, a CA, a server
   * certificate for 127.0.0.1 and a client certificate; or pass existing files.
   */
  tls?: true | MosquittoTlsFiles;
  /** With `tls`, refuse TLS clients without a certificate signed by the CA. */
  requireClientCertificate?: boolean;
  /** More lines for mosquitto.conf. */
  extraConfig?: string[];
  /** How long to wait for the broker to accept connections. Default 5 s. */
  startTimeoutMs?: number;
}

export interface MosquittoTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface MosquittoTls {
  port: number;
  url: string;
  caFile: string;
  /** A client certificate and key signed by the CA, when the harness generated the certificates. */
  clientCertFile?: string;
  clientKeyFile?: string;
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-mosquitto-'));
  try {
    const [port, tlsPort] = await freePorts(2);
    const broker = new Mosquitto(
      dir,
      port,
      await prepare(dir, options, port, tlsPort),
      options.startTimeoutMs ?? 5000,
    );
    await broker.restart();
    return broker;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

export class Mosquitto {
  readonly host = '127.0.0.1';
  readonly url: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private output = '';
  private stopped = false;
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  constructor(
    /** Temp directory: mosquitto.conf, mosquitto.db, passwd, acl, certificates. */
    readonly dir: string,
    readonly port: number,
    private readonly setup: { configFile: string; tls?: MosquittoTls },
    private readonly startTimeoutMs: number,
  ) {
    this.url = `mqtt://127.0.0.1:${port}`;
  }

  /** The TLS listener, when asked for. */
  get tls(): MosquittoTls | undefined {
    return this.setup.tls;
  }

  running(): boolean {
    return this.child !== undefined;
  }

  /** The broker's log since it was first started (connections, refusals, errors). */
  log(): string {
    return this.output;
  }

  /** Stops the broker if it runs (SIGTERM, state saved) and starts it again on the same ports. */
  async restart(options: { keepState?: boolean } = {}): Promise<void> {
    if (this.stopped) throw new Error('mosquitto: restart() after stop()');
    await this.terminate('SIGTERM');
    if (options.keepState === false) await rm(path.join(this.dir, 'mosquitto.db'), { force: true });
    const child = spawn('/usr/sbin/mosquitto', ['-c', this.setup.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    process.on('exit', this.killOnExit);
    const append = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-100_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    // 'close' comes after 'exit' and the end of its output, or after 'error' when it could not spawn.
    const spawnFailure = new Promise<Error>((resolve) => child.once('error', resolve));
    this.exited = new Promise((resolve) =>
      child.once('close', () => {
        if (this.child === child) this.child = undefined;
        process.off('exit', this.killOnExit);
        resolve();
      }),
    );
    const exited = this.exited;
    const deadline = Date.now() + this.startTimeoutMs;
    const ports = [this.port, ...(this.tls ? [this.tls.port] : [])];
    for (;;) {
      if (!this.running()) {
        const error = await Promise.race([spawnFailure, exited.then(() => undefined)]);
        throw new Error(
          `mosquitto exited during start${error ? `: ${error.message}` : ''} (config ${this.setup.configFile})\n${this.output}`,
        );
      }
      if ((await Promise.all(ports.map(accepts))).every(Boolean)) return;
      if (Date.now() > deadline) {
        await this.terminate('SIGKILL');
        throw new Error(
          `mosquitto did not accept connections within ${this.startTimeoutMs} ms\n${this.output}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** SIGKILL: no state saved, clients' connections die. Start again with restart(). */
  async kill(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  /** Ends the broker and deletes its temp directory; idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.terminate('SIGTERM');
    await rm(this.dir, { recursive: true, force: true });
  }

  private async terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function prepare(
  dir: string,
  options: MosquittoOptions,
  port: number,
  tlsPort: number,
): Promise<{ configFile: string; tls?: MosquittoTls }> {
  const lines = [
    // As root, mosquitto would switch to the 'mosquitto' user, which cannot read the temp directory.
    `user ${userInfo().username}`,
    'persistence true',
    `persistence_location ${dir}/`,
    'persistence_file mosquitto.db',
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
  ];
  if (options.users) {
    const file = path.join(dir, 'passwd');
    let first = true;
    for (const [user, password] of Object.entries(options.users)) {
      await run(
        'mosquitto_passwd',
        first ? ['-b', '-c', file, user, password] : ['-b', file, user, password],
      );
      first = false;
    }
    lines.push('allow_anonymous false', `password_file ${file}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (options.acl) {
    const file = path.join(dir, 'acl');
    await writeFile(file, `${options.acl.join('\n')}\n`);
    lines.push(`acl_file ${file}`);
  }
  lines.push(...(options.extraConfig ?? []));
  lines.push(`listener ${port} 127.0.0.1`);

  let tls: MosquittoTls | undefined;
  if (options.tls) {
    const generated = options.tls === true ? await generateCertificates(dir) : undefined;
    const files = generated ?? (options.tls as MosquittoTlsFiles);
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${files.caFile}`,
      `certfile ${files.certFile}`,
      `keyfile ${files.keyFile}`,
      `require_certificate ${options.requireClientCertificate ? 'true' : 'false'}`,
    );
    tls = {
      port: tlsPort,
      url: `mqtts://127.0.0.1:${tlsPort}`,
      caFile: files.caFile,
      clientCertFile: generated?.clientCertFile,
      clientKeyFile: generated?.clientKeyFile,
    };
  }
  const configFile = path.join(dir, 'mosquitto.conf');
  await writeFile(configFile, `${lines.join('\n')}\n`);
  return { configFile, tls };
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all EC P-256, valid two days. */
async function generateCertificates(
  dir: string,
): Promise<MosquittoTlsFiles & { clientCertFile: string; clientKeyFile: string }> {
  const file = (name: string): string => path.join(dir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...newKey,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=nocturne test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const issue = async (name: string, subject: string, extensions: string): Promise<void> => {
    await writeFile(file(`${name}.ext`), extensions);
    await run('openssl', [
      'req',
      '-new',
      ...newKey,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      subject,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
    ]);
  };
  await issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await issue('client', '/CN=nocturne test client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
  };
}
