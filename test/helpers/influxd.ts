import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './ports';

/**
 * A throwaway InfluxDB for tests and benchmarks: Debian's influxd 1.6.7 on loopback with its data in a
 * temp dir, behind an nginx that offers the InfluxDB 2 write route InfluxDB 1.8+ has built in:
 *
 *   POST /api/v2/write?org=…&bucket=<db>[/<rp>]&precision=… → POST /write?db=<db>&rp=<rp>&precision=…
 *
 * (body passed through, gzip included: influxd 1.6.7 reads gzip bodies) plus /ping, /query and /health.
 * So the client writes to `url` exactly as it would to InfluxDB 1.8+, 2.x or 3.x. No jest API here, so
 * benchmarks can use it too.
 *
 *   const influx = await startInflux({ database: 'telemetry' });
 *   try { … await influx.query('SELECT COUNT(*) FROM meter GROUP BY *') … } finally { await influx.stop(); }
 */

export interface InfluxHarness {
  /** nginx: give this to the client, with `bucket` = the database. */
  readonly url: string;
  /** influxd's own 1.x HTTP API. */
  readonly directUrl: string;
  readonly database: string;
  /** Temp dir holding the configurations, data and logs; deleted by stop(). */
  readonly dir: string;
  /** Runs InfluxQL (timestamps in epoch ms); one row per series and time. Throws InfluxDB's error. */
  query(influxql: string, database?: string): Promise<QueryRow[]>;
  /** Stops influxd only, keeping its port and data: nginx then answers 502, as in an outage. */
  stopInfluxd(): Promise<void>;
  /** Starts influxd again on the same port with the same data. */
  startInfluxd(): Promise<void>;
  /** Stops both processes and deletes the temp dir; idempotent. */
  stop(): Promise<void>;
}

export interface QueryRow {
  measurement: string;
  tags: Record<string, string>;
  /** Column name → value, `time` included. */
  values: Record<string, unknown>;
}

export interface StartInfluxOptions {
  /** Created at start. */
  database: string;
  /** Readiness wait for each process. */
  startTimeoutMs?: number;
}

const INFLUXD = '/usr/bin/influxd';
const NGINX = '/usr/sbin/nginx';

export async function startInflux(options: StartInfluxOptions): Promise<InfluxHarness> {
  const harness = new InfluxProcesses(options);
  try {
    await harness.start();
    return harness;
  } catch (error) {
    await harness.stop();
    throw error;
  }
}

class InfluxProcesses implements InfluxHarness {
  url = '';
  directUrl = '';
  dir = '';
  readonly database: string;
  private influxd: ChildProcess | undefined;
  private nginx: ChildProcess | undefined;
  private stopped: Promise<void> | undefined;
  private readonly startTimeoutMs: number;
  /** Kills what is still running if the process exits without stop() (a crashed test run). */
  private readonly killOnExit = (): void => {
    for (const child of [this.nginx, this.influxd])
      if (child && child.exitCode === null) child.kill('SIGKILL');
  };

  constructor(options: StartInfluxOptions) {
    this.database = options.database;
    this.startTimeoutMs = options.startTimeoutMs ?? 20_000;
  }

  async start(): Promise<void> {
    process.on('exit', this.killOnExit);
    this.dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'nocturne-influx-'));
    const [httpPort, rpcPort, nginxPort] = await freePorts(3);
    this.directUrl = `http://127.0.0.1:${httpPort}`;
    this.url = `http://127.0.0.1:${nginxPort}`;
    await fsp.writeFile(this.influxdConfigFile(), influxdConfig(this.dir, httpPort, rpcPort));
    await fsp.mkdir(path.join(this.dir, 'nginx'));
    await fsp.writeFile(
      this.nginxConfigFile(),
      nginxConfig(path.join(this.dir, 'nginx'), nginxPort, httpPort),
    );
    await this.startInfluxd();
    await this.query(`CREATE DATABASE ${quoteIdentifier(this.database)}`);
    this.nginx = this.spawnLogged(
      NGINX,
      ['-c', this.nginxConfigFile(), '-p', path.join(this.dir, 'nginx')],
      'nginx',
    );
    await this.waitReady(this.nginx, `${this.url}/ping`, 'nginx');
  }

  async startInfluxd(): Promise<void> {
    if (this.influxd && this.influxd.exitCode === null) throw new Error('influxd is already running');
    this.influxd = this.spawnLogged(INFLUXD, ['-config', this.influxdConfigFile()], 'influxd');
    await this.waitReady(this.influxd, `${this.directUrl}/ping`, 'influxd');
  }

  async stopInfluxd(): Promise<void> {
    await terminate(this.influxd);
  }

  async query(influxql: string, database = this.database): Promise<QueryRow[]> {
    // POST: influxd refuses statements that change anything (CREATE, DROP) in a GET.
    const params = new URLSearchParams({ q: influxql, epoch: 'ms', db: database });
    const { status, body } = await request(`${this.directUrl}/query?${params.toString()}`, 'POST');
    let parsed: QueryResponse;
    try {
      parsed = JSON.parse(body) as QueryResponse;
    } catch {
      throw new Error(`InfluxQL '${influxql}': HTTP ${status}: ${body.slice(0, 500)}`);
    }
    if (status !== 200 || parsed.error) throw new Error(`InfluxQL '${influxql}': HTTP ${status}: ${body}`);
    const rows: QueryRow[] = [];
    for (const result of parsed.results ?? []) {
      if (result.error) throw new Error(`InfluxQL '${influxql}': ${result.error}`);
      for (const series of result.series ?? []) {
        for (const value of series.values ?? []) {
          rows.push({
            measurement: series.name,
            tags: series.tags ?? {},
            values: Object.fromEntries(series.columns.map((column, i) => [column, value[i]])),
          });
        }
      }
    }
    return rows;
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      for (const [name, child] of [
        ['nginx', this.nginx],
        ['influxd', this.influxd],
      ] as const) {
        try {
          await terminate(child);
        } catch (error) {
          process.stderr.write(`influx harness: stopping ${name} failed: ${(error as Error).message}\n`);
        }
      }
      process.off('exit', this.killOnExit);
      if (this.dir) await fsp.rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopped;
  }

  private influxdConfigFile(): string {
    return path.join(this.dir, 'influxd.conf');
  }

  private nginxConfigFile(): string {
    return path.join(this.dir, 'nginx', 'nginx.conf');
  }

  private spawnLogged(command: string, args: string[], name: string): ChildProcess {
    const log = openSync(path.join(this.dir, `${name}.log`), 'a');
    try {
      const child = spawn(command, args, { stdio: ['ignore', log, log] });
      child.on('error', () => undefined); // reported by waitReady through exitCode/log
      return child;
    } finally {
      closeSync(log);
    }
  }

  private async waitReady(child: ChildProcess, pingUrl: string, name: string): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        throw new Error(
          `${name} exited at start (${child.exitCode ?? child.signalCode}): ${await this.logTail(name)}`,
        );
      }
      const status = await httpStatus(pingUrl).catch(() => 0);
      if (status === 204) return;
      if (Date.now() > deadline) {
        throw new Error(`${name} not ready after ${this.startTimeoutMs} ms: ${await this.logTail(name)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async logTail(name: string): Promise<string> {
    const text = await fsp.readFile(path.join(this.dir, `${name}.log`), 'utf8').catch(() => '');
    return text.slice(-2000) || '(no output)';
  }
}

interface QueryResponse {
  error?: string;
  results?: {
    error?: string;
    series?: { name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }[];
  }[];
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function influxdConfig(dir: string, httpPort: number, rpcPort: number): string {
  // Debian's build reads `reporting-enabled`; upstream reads `reporting-disabled`. Unknown keys are ignored.
  return `reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${path.join(dir, 'meta')}"
  logging-enabled = false

[data]
  dir = "${path.join(dir, 'data')}"
  wal-dir = "${path.join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[[udp]]
  enabled = false

[[graphite]]
  enabled = false
`;
}

function nginxConfig(dir: string, port: number, influxdPort: number): string {
  // As root, nginx would switch its worker to `nobody`, which cannot use the temp dir.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `daemon off;
master_process on;
worker_processes 1;
${user}pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${path.join(dir, 'client_body')};
  proxy_temp_path ${path.join(dir, 'proxy')};
  fastcgi_temp_path ${path.join(dir, 'fastcgi')};
  uwsgi_temp_path ${path.join(dir, 'uwsgi')};
  scgi_temp_path ${path.join(dir, 'scgi')};
  client_max_body_size 0;
  client_body_buffer_size 32m;
  upstream influxd {
    server 127.0.0.1:${influxdPort};
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_connect_timeout 2s;
    # InfluxDB 1.8+'s compatibility route: bucket "db/rp" (encoded or not) → db and rp.
    location = /api/v2/write {
      set $db $arg_bucket;
      set $rp "";
      if ($arg_bucket ~ "^(.*?)(?:/|%2[Ff])(.*)$") {
        set $db $1;
        set $rp $2;
      }
      proxy_pass http://influxd/write?db=$db&rp=$rp&precision=$arg_precision;
    }
    location = /ping { proxy_pass http://influxd; }
    location = /query { proxy_pass http://influxd; }
    location = /health { proxy_pass http://influxd; }
    location / { return 404; }
  }
}
`;
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 5000);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}

function httpStatus(url: string): Promise<number> {
  return request(url, 'GET').then((response) => response.status);
}

/** One request on its own connection, so that nothing stays open afterwards. */
function request(url: string, method: 'GET' | 'POST'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 30 s`)));
    req.on('error', reject);
    req.end();
  });
}
