import path from 'node:path';
import { format } from 'node:util';
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '../core/logger';
import { ConfigError, formatIssue } from '../config/issues';
import { loadConfig } from '../config/load';
import { DEMO_CONFIG } from '../config/paths';
import { SIMULATOR_KINDS, Simulation, type SimulatorKind } from './simulation';

export const USAGE = `usage: node dist/simulators/main.js [config.yaml] [options]

Plays every device of the configuration whose host is loopback: Modbus and OPC UA segment controllers,
building points, presence sensors. Prints one JSON line {"ready":true,...} on stdout once all listen;
logs go to stderr. SIGTERM or SIGINT stops everything.

  config.yaml                          default: config/demo.yaml
  --presence-rate <detections/s>       over all sensors (default 1)
  --presence-rate-per-sensor <n/s>     per sensor, instead of --presence-rate
  --control-port <port>                control API on 127.0.0.1 (default 8081; 0: any free port)
  --only <modbus,opcua,presence,sensors>  run only these simulators
  --seed <n>                           seed of the building model and the arrivals (default 1)
  --serve-host <name,...>              also play devices configured at these hosts (e.g. a compose service)
  --listen <address>                   bind address for the devices of --serve-host (default 0.0.0.0)
  --ignore-sigint                      stop on SIGTERM only: for a parent that stops its service first
`;

export const DEFAULT_CONTROL_PORT = 8081;
const DEFAULT_PRESENCE_RATE = 1;
/** Give up on stopping cleanly after this long: the process must not hang its parent. */
const STOP_LIMIT_MS = 10_000;

interface Arguments {
  config: string;
  presenceRate?: number;
  presenceRatePerSensor?: number;
  controlPort: number;
  only: SimulatorKind[];
  seed: number;
  serveHosts: string[];
  listen?: string;
  ignoreSigint: boolean;
}

export function parseArguments(argv: string[]): Arguments {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'presence-rate': { type: 'string' },
      'presence-rate-per-sensor': { type: 'string' },
      'control-port': { type: 'string' },
      only: { type: 'string' },
      seed: { type: 'string' },
      'serve-host': { type: 'string' },
      listen: { type: 'string' },
      'ignore-sigint': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) throw new UsageError('');
  if (positionals.length > 1)
    throw new UsageError(`one configuration file at most (got ${positionals.join(' ')})`);
  const number = (name: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max)
      throw new UsageError(`--${name} must be a number from ${min} to ${max} (is '${text}')`);
    return value;
  };
  const only = (values.only ?? SIMULATOR_KINDS.join(',')).split(',').map((s) => s.trim());
  const unknown = only.filter((kind) => !(SIMULATOR_KINDS as readonly string[]).includes(kind));
  if (unknown.length > 0)
    throw new UsageError(`--only takes ${SIMULATOR_KINDS.join(', ')} (unknown: ${unknown.join(', ')})`);
  const perSensor = number('presence-rate-per-sensor', values['presence-rate-per-sensor'], 0, 10_000);
  const port = number('control-port', values['control-port'], 0, 65535);
  if (port !== undefined && !Number.isInteger(port))
    throw new UsageError(`--control-port must be an integer`);
  return {
    config: positionals[0] ?? DEMO_CONFIG,
    presenceRate:
      number('presence-rate', values['presence-rate'], 0, 100_000) ??
      (perSensor === undefined ? DEFAULT_PRESENCE_RATE : undefined),
    ...(perSensor !== undefined ? { presenceRatePerSensor: perSensor } : {}),
    controlPort: port ?? DEFAULT_CONTROL_PORT,
    only: only as SimulatorKind[],
    seed: number('seed', values.seed, 0, 2 ** 32 - 1) ?? 1,
    serveHosts: (values['serve-host'] ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== ''),
    ...(values.listen !== undefined ? { listen: values.listen } : {}),
    ignoreSigint: values['ignore-sigint'] === true,
  };
}

class UsageError extends Error {}

/**
 * Runs the simulators until SIGTERM or SIGINT; resolves with the exit code: 0 after a clean stop,
 * 1 when they could not start, 2 for bad arguments.
 */
export async function runSimulators(argv: string[]): Promise<number> {
  let args: Arguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(`${message ? `simulators: ${message}\n` : ''}${USAGE}`);
    return message ? 2 : 0;
  }

  let config;
  try {
    config = loadConfig(args.config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    return 1;
  }

  // Simulator logs go to stderr: stdout carries only the ready line that parent processes wait for.
  const logger = createLogger({
    level: config.service.log_level,
    format: 'json',
    destination: process.stderr,
  });
  if (args.only.includes('opcua') && config.devices.some((d) => d.protocol === 'opcua'))
    routeOpcuaLogs(logger.child('node-opcua'));
  const log = logger.child('simulators');
  const simulation = new Simulation(log);

  let stopRequested!: (signal: string) => void;
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  const abortStart = new AbortController();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      process.exit(1);
    }
    abortStart.abort(new Error(`${signal} before the simulators were ready`));
    stopRequested(signal);
  };
  // Ctrl-C reaches the whole process group; a parent that asks for it stops the devices after its service.
  const stopSignals: NodeJS.Signals[] = args.ignoreSigint ? ['SIGTERM'] : ['SIGTERM', 'SIGINT'];
  const ignoreSignal = (): void => undefined;
  for (const signal of stopSignals) process.on(signal, onSignal);
  if (args.ignoreSigint) process.on('SIGINT', ignoreSignal);

  let code = 0;
  try {
    const started = Date.now();
    const ready = await simulation.start(
      config,
      {
        only: args.only,
        ...(args.presenceRate !== undefined ? { presenceRate: args.presenceRate } : {}),
        ...(args.presenceRatePerSensor !== undefined
          ? { presenceRatePerSensor: args.presenceRatePerSensor }
          : {}),
        controlPort: args.controlPort,
        seed: args.seed,
        configDir: path.dirname(path.resolve(args.config)),
        serveHosts: args.serveHosts,
        ...(args.listen !== undefined ? { listen: args.listen } : {}),
      },
      abortStart.signal,
    );
    log.info(`ready in ${Date.now() - started} ms`, { ...ready });
    process.stdout.write(`${JSON.stringify({ ready: true, ...ready })}\n`);
    log.info(`${await stopSignal}: stopping`);
  } catch (error) {
    // Stopped on purpose before it was ready: a clean stop, not a failure.
    if (abortStart.signal.aborted) log.info((error as Error).message);
    else {
      log.error((error as Error).message);
      code = 1;
    }
  }
  stopping = true;
  await stopWithin(simulation, log);
  for (const signal of stopSignals) process.off(signal, onSignal);
  process.off('SIGINT', ignoreSignal);
  log.info('stopped');
  return code;
}

async function stopWithin(simulation: Simulation, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_LIMIT_MS)),
  );
  const outcome = await Promise.race([simulation.stop().then(() => 'stopped' as const), limit]);
  clearTimeout(timer);
  if (outcome === 'timeout') logger.error(`simulators did not stop within ${STOP_LIMIT_MS} ms`);
}

/**
 * node-opcua writes its warnings with console.log, on stdout: send them to the logger instead. Loaded
 * only when there are OPC UA devices: node-opcua takes half a second to load and a second of CPU to check
 * the RSA support of the runtime.
 */
function routeOpcuaLogs(logger: Logger): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { setErrorLogger, setWarningLogger } = require('node-opcua') as typeof import('node-opcua');
  const forward =
    (level: 'warn' | 'error') =>
    (_context: unknown, ...args: unknown[]): void =>
      logger[level](format(...args));
  setWarningLogger(forward('warn'));
  setErrorLogger(forward('error'));
}

if (require.main === module) {
  runSimulators(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Whatever a library leaves behind must not keep a stopped simulator alive.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (error: unknown) => {
      process.stderr.write(`simulators: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
