import { isDeepStrictEqual } from 'node:util';
import { ConfigError, formatIssue } from '../config/issues';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { systemClock } from '../core/clock';
import { limitHeapGrowth } from '../core/heapGrowth';
import { createLogger, type Logger } from '../core/logger';
import { Service } from './service';
import { summarize } from './summary';

export interface RunOptions {
  /** Readable logs in a terminal, whatever the configuration says (the demo). */
  prettyLogs?: boolean;
}

/**
 * Runs the service until SIGINT or SIGTERM, then stops it cleanly. Resolves with the exit code:
 * 0 after a clean stop, 1 when the configuration is invalid or the service cannot start (again).
 *
 * SIGHUP reloads the configuration file: an invalid file is refused with every error logged and the
 * running service goes on untouched; a valid, changed one replaces it by a clean stop and a start,
 * which restores relights and overrides from the state file before anything else goes out. Should the
 * new configuration fail to start, the previous one is started again. Logging keeps the level and
 * format it started with.
 */
export async function runService(file: string, options: RunOptions = {}): Promise<number> {
  limitHeapGrowth();
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    return 1;
  }
  const logger = createLogger({
    level: config.service.log_level,
    format: options.prettyLogs ? 'pretty' : config.service.log_format,
  });
  // A cluster member that lost its shard leaves; its supervisor starts it again, as a standby. It
  // leaves even if the etcd client still retries a member that stopped answering (it would hold the
  // event loop open).
  const fenced = (reason: string): void => {
    stop(`cluster: ${reason}`, 1);
    void stopped.then(() => process.exit(1));
  };
  let service = new Service(config, { logger, clock: systemClock, configFile: file, fenced });
  const aborter = new AbortController();
  const started = service.start(aborter.signal);
  /** The start, reloads and the final stop run one after the other, never interleaved. */
  let work: Promise<unknown> = started.catch(() => undefined);
  let finish: (code: number) => void = () => undefined;
  const stopped = new Promise<number>((resolve) => (finish = resolve));

  const stop = (reason: string, code: number): void => {
    process.off('SIGINT', onStopSignal);
    process.off('SIGTERM', onStopSignal);
    process.off('SIGHUP', onReloadSignal);
    logger.info(`${reason}, stopping`);
    aborter.abort(new Error(`${reason} during start`));
    work = work.then(async () => {
      await service.stop();
      logger.info('stopped');
      finish(code);
    });
  };
  const onStopSignal = (signal: NodeJS.Signals): void => stop(`${signal} received`, 0);
  const onReloadSignal = (): void => {
    work = work.then(async () => {
      if (aborter.signal.aborted) return;
      const next = reloadedConfig(file, config, logger);
      if (!next) return;
      const replaced = await replaceService(next);
      if (replaced) return;
      logger.error('starting the previous configuration again');
      if (!(await replaceService(config))) stop('the previous configuration did not start either', 1);
    });
  };
  const replaceService = async (next: Config): Promise<boolean> => {
    await service.stop();
    service = new Service(next, { logger, clock: systemClock, configFile: file, fenced });
    try {
      await service.start(aborter.signal);
    } catch (error) {
      logger.error(`could not start: ${(error as Error).message}`);
      await service.stop();
      return false;
    }
    config = next;
    logger.info(`nocturne reloaded: ${summarize(next)}`, { config: file });
    return true;
  };
  process.on('SIGINT', onStopSignal);
  process.on('SIGTERM', onStopSignal);
  process.on('SIGHUP', onReloadSignal);

  try {
    await started;
  } catch (error) {
    if (aborter.signal.aborted) return stopped;
    process.off('SIGINT', onStopSignal);
    process.off('SIGTERM', onStopSignal);
    process.off('SIGHUP', onReloadSignal);
    logger.error(`could not start: ${(error as Error).message}`);
    return 1;
  }
  logger.info(`nocturne started: ${summarize(config)}`, { config: file });
  return stopped;
}

/** The file's configuration when it is valid and differs from the running one; otherwise says why not. */
function reloadedConfig(file: string, running: Config, logger: Logger): Config | undefined {
  logger.info(`SIGHUP received, reloading ${file}`);
  let next: Config;
  try {
    next = loadConfig(file);
  } catch (error) {
    const issues = error instanceof ConfigError ? error.issues.map(formatIssue) : [(error as Error).message];
    for (const issue of issues) logger.error(issue);
    logger.error(`configuration not reloaded (${issues.length} error(s)): the running one stays in force`);
    return undefined;
  }
  if (isDeepStrictEqual(next, running)) {
    logger.info('configuration unchanged: nothing to reload');
    return undefined;
  }
  return next;
}
