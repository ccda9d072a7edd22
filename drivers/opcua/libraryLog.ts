import { stripVTControlCharacters, format } from 'node:util';
import { setErrorLogger, setWarningLogger } from 'node-opcua';
import type { Logger } from '../../core/logger';

/**
 * node-opcua writes its warnings and errors to the console through process-wide loggers. The composition
 * root calls this once so that they go through our Logger instead (e.g. namespace `drivers:opcua:lib`).
 */
export function routeOpcuaLibraryLogs(logger: Logger): void {
  const render = (args: unknown[]): string => stripVTControlCharacters(format(...args)).trim();
  // node-opcua calls these with its caller context first, then the message parts
  setWarningLogger((_context?: unknown, ...args: unknown[]) => logger.warn(render(args)));
  setErrorLogger((_context?: unknown, ...args: unknown[]) => logger.error(render(args)));
}
