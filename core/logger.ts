import pino from 'pino';
import pretty from 'pino-pretty';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Fields = Record<string, unknown>;

/** The one logging interface components receive; debug takes a thunk so hot paths pay nothing when it is off. */
export interface Logger {
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string | (() => string), fields?: Fields): void;
  /** A logger for a component, e.g. `drivers:modbus`; per-namespace levels apply by prefix. */
  child(namespace: string): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  format: 'json' | 'pretty';
  /** Levels per namespace prefix, e.g. { 'drivers:modbus': 'debug' }. */
  levels?: Record<string, LogLevel>;
  destination?: NodeJS.WritableStream;
}

/** Fields never written as they are: passwords, tokens, cookies, enrolment codes, at the top or one level down. */
const SECRET_FIELDS = ['password', 'token', 'authorization', 'cookie', 'code', 'csrf'].flatMap((f) => [
  f,
  `*.${f}`,
]);

export function createLogger(options: LoggerOptions): Logger {
  const stream =
    options.format === 'pretty'
      ? pretty({
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname',
          messageKey: 'msg',
          sync: true,
          singleLine: true,
          destination: options.destination ?? 1,
        })
      : (options.destination ?? process.stdout);
  const root = pino(
    {
      level: 'trace',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // No component logs these, but a field passed by mistake must not carry a secret to the log.
      redact: { paths: SECRET_FIELDS, censor: '[redacted]' },
    },
    stream,
  );
  return new PinoLogger(root, '', options.level, options.levels ?? {});
}

class PinoLogger implements Logger {
  private readonly logger: pino.Logger;
  private readonly threshold: number;

  constructor(
    private readonly root: pino.Logger,
    private readonly namespace: string,
    private readonly defaultLevel: LogLevel,
    private readonly levels: Record<string, LogLevel>,
  ) {
    this.logger = namespace ? root.child({ ns: namespace }) : root;
    this.threshold = pino.levels.values[levelFor(namespace, defaultLevel, levels)];
  }

  error(msg: string, fields?: Fields): void {
    this.emit('error', msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.emit('warn', msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.emit('info', msg, fields);
  }
  debug(msg: string | (() => string), fields?: Fields): void {
    if (pino.levels.values.debug < this.threshold) return;
    this.emit('debug', typeof msg === 'function' ? msg() : msg, fields);
  }
  child(namespace: string): Logger {
    const ns = this.namespace ? `${this.namespace}:${namespace}` : namespace;
    return new PinoLogger(this.root, ns, this.defaultLevel, this.levels);
  }

  private emit(level: 'error' | 'warn' | 'info' | 'debug', msg: string, fields?: Fields): void {
    if (pino.levels.values[level] < this.threshold) return;
    if (fields) this.logger[level](fields, msg);
    else this.logger[level](msg);
  }
}

function levelFor(namespace: string, fallback: LogLevel, levels: Record<string, LogLevel>): LogLevel {
  let best: string | undefined;
  for (const prefix of Object.keys(levels)) {
    if (
      (namespace === prefix || namespace.startsWith(`${prefix}:`)) &&
      (!best || prefix.length > best.length)
    )
      best = prefix;
  }
  return best === undefined ? fallback : levels[best];
}

/** For tests and tools that must stay quiet. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
