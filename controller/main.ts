import { ConfigError, formatIssue } from '../config/issues';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { systemClock } from './clock';
import { createLogger } from './logger';
import { Service } from './service';
import { summarize } from './summary';

export interface RunOptions {
  /** Readable logs in a terminal, whatever the configuration says (the demo). */
  prettyLogs?: boolean;
}

/**
 * Runs the service until SIGINT or SIGTERM, then stops it cleanly. Resolves with the exit code:
 * 0 after a clean stop, 1 when the configuration is invalid or the service cannot start.
 */
export async function runService(file: string, options: RunOptions = {}): Promise<number> {
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
  const service = new Service(config, { logger, clock: systemClock, configFile: file });
  const aborter = new AbortController();

  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      logger.info(`${signal} received, stopping`);
      aborter.abort(new Error(`${signal} during start`));
      void service.stop().then(() => {
        logger.info('stopped');
        resolve(0);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  try {
    await service.start(aborter.signal);
  } catch (error) {
    if (aborter.signal.aborted) return stopped;
    logger.error(`could not start: ${(error as Error).message}`);
    return 1;
  }
  logger.info(`nocturne started: ${summarize(config)}`, { config: file });
  return stopped;
}
