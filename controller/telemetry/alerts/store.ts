import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeFileAtomically } from '../../../drivers/durableFile';
import type { Logger } from '../../../core/logger';
import type { AlertView } from '../services';
import { ALERT_TEXTS } from './texts';

const FILE_VERSION = 1;
const STATES = new Set(['raised', 'acknowledged', 'cleared']);

export function alertsStateFile(stateDir: string): string {
  return path.join(stateDir, 'alerts.json');
}

/**
 * Open and recently cleared alerts in `<state_dir>/alerts.json`, so that a restart neither raises an
 * open alert again nor forgets one, nor who acknowledged it. Written atomically (temp file, fsync,
 * rename, fsync of the folder); saves requested while one is under way are merged into the next. With
 * instances sharing the shard, each version is also written to etcd, where the standby copies it.
 */
export class AlertStore {
  private readonly file: string;
  private saving: Promise<void> | undefined;
  private pending: (() => AlertView[]) | undefined;
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(
    stateDir: string,
    private readonly logger: Logger,
    /** Writes a version where the standby reads it (controller/cluster/member.ts); absent alone. */
    private readonly replicate?: (text: string) => Promise<void>,
  ) {
    this.file = alertsStateFile(stateDir);
  }

  /** The alerts saved last time; an unreadable file is logged, kept aside and read as empty. */
  async load(): Promise<AlertView[]> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`alerts: cannot read ${this.file}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const data = JSON.parse(text) as { version?: unknown; alerts?: unknown };
      if (data.version !== FILE_VERSION || !Array.isArray(data.alerts))
        throw new Error(`expected {"version": ${FILE_VERSION}, "alerts": [...]}`);
      return data.alerts.filter(isAlertView).map(withCode);
    } catch (error) {
      const aside = `${this.file}.unreadable-${Date.now()}`;
      this.logger.error(
        `alerts: ${this.file} is unreadable (${(error as Error).message}); kept as ${aside}, starting without saved alerts`,
      );
      await fsp.rename(this.file, aside).catch(() => undefined);
      return [];
    }
  }

  /** Saves what `snapshot` returns when the write begins; resolves once that state is on disk. */
  save(snapshot: () => AlertView[]): Promise<void> {
    this.pending = snapshot;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.saving ??= this.loop();
    return done;
  }

  /** Waits for the saves under way. */
  async flush(): Promise<void> {
    await this.saving?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    while (this.pending) {
      const snapshot = this.pending;
      const waiters = this.waiters;
      this.pending = undefined;
      this.waiters = [];
      try {
        await this.write(snapshot());
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error as Error);
      }
    }
    this.saving = undefined;
  }

  private async write(alerts: AlertView[]): Promise<void> {
    const text = `${JSON.stringify({ version: FILE_VERSION, alerts }, null, 1)}\n`;
    await Promise.all([writeFileAtomically(this.file, text), this.replicate?.(text)]);
  }
}

/**
 * Alerts saved before texts had codes (or with a code this version does not know) keep their French
 * message as the text of the `rule-message` code, so that every alert has a code to show.
 */
function withCode(alert: AlertView): AlertView {
  const known = typeof alert.code === 'string' && Object.hasOwn(ALERT_TEXTS.fr, alert.code);
  const params = alert.params as unknown;
  return known && typeof params === 'object' && params !== null
    ? alert
    : { ...alert, code: 'rule-message', params: { text: alert.message } };
}

function isAlertView(value: unknown): value is AlertView {
  if (typeof value !== 'object' || value === null) return false;
  const a = value as Record<string, unknown>;
  return (
    typeof a.id === 'string' &&
    typeof a.rule === 'string' &&
    typeof a.kind === 'string' &&
    typeof a.source === 'string' &&
    typeof a.commune === 'string' &&
    typeof a.message === 'string' &&
    typeof a.raisedAt === 'number' &&
    typeof a.state === 'string' &&
    STATES.has(a.state) &&
    (a.state !== 'cleared' || typeof a.clearedAt === 'number')
  );
}
