import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Clock, Timer } from '../../core/clock';
import type { Component } from '../../core/lifecycle';
import { parseCivilDate, timeZone } from '../../core/localTime';
import type { Logger } from '../../core/logger';
import { writeFileAtomically } from '../../drivers/durableFile';
import type { LineSink } from '../../drivers/timeSeries';
import { UsageCounts, usageLine, usageVisibleTo, type UsageKind, type UsageRecord } from './usage';

const FILE_VERSION = 1;

export interface UsageLogDeps {
  stateDir: string;
  /** The site's time zone: a day is a local day. */
  timeZone: string;
  clock: Clock;
  logger: Logger;
  /** Where the daily `usage` points go (InfluxDB through the spool); absent: kept in the file only. */
  sink?: LineSink;
  /** How often the counts of the days that changed are written to InfluxDB. */
  periodMs: number;
}

/**
 * The usage counts (usage.ts) kept in `<state_dir>/usage.json`, written atomically after every change
 * (writes requested while one is under way are merged into the next), so that a restart loses nothing;
 * and written to InfluxDB as the `usage` measurement, one point per day, role, commune and kind with
 * the day's count so far, at local midnight (a later write of the same day overwrites it).
 */
export class UsageLog implements Component {
  readonly name = 'usage counts';
  private readonly file: string;
  private readonly counts: UsageCounts;
  private readonly midnight;
  /** Days counted since their last write to InfluxDB. */
  private readonly unsent = new Set<string>();
  private timer: Timer | undefined;
  private saving: Promise<void> | undefined;
  private saveAgain = false;
  private running = false;

  constructor(private readonly deps: UsageLogDeps) {
    this.file = path.join(deps.stateDir, 'usage.json');
    this.counts = new UsageCounts(deps.timeZone);
    this.midnight = timeZone(deps.timeZone);
  }

  async start(): Promise<void> {
    this.counts.restore(await this.load());
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    await this.send();
    await this.saving;
  }

  /** Counts one use by a token of `role` over `communes`; never throws (a failed save is logged). */
  record(user: { role: string; communes: readonly string[] }, kind: UsageKind): void {
    if (!this.running) return;
    this.unsent.add(this.counts.count(this.deps.clock.now(), user.role, user.communes, kind));
    this.save();
  }

  /** Records of days from `from` to `to` included that a scope may read. */
  records(scope: readonly string[], from?: string, to?: string): UsageRecord[] {
    return this.counts.records(from, to).filter((r) => usageVisibleTo(scope, r));
  }

  /** Resolves once every change so far is on disk. */
  async flush(): Promise<void> {
    while (this.saving) await this.saving;
  }

  private save(): void {
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    this.saving = (async () => {
      do {
        this.saveAgain = false;
        try {
          const body = { version: FILE_VERSION, records: this.counts.records() };
          await writeFileAtomically(this.file, `${JSON.stringify(body)}\n`);
        } catch (error) {
          this.deps.logger.error(`usage: cannot save ${this.file}: ${(error as Error).message}`);
        }
      } while (this.saveAgain);
      this.saving = undefined;
    })();
  }

  private schedule(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      void this.send().finally(() => {
        if (this.running) this.schedule();
      });
    }, this.deps.periodMs);
  }

  /** Writes the counts of the days that changed; on failure they stay to send next time. */
  private async send(): Promise<void> {
    const sink = this.deps.sink;
    if (!sink || this.unsent.size === 0) return;
    const days = [...this.unsent];
    this.unsent.clear();
    const lines = days.flatMap((day) =>
      this.counts.records(day, day).map((r) => usageLine(r, this.midnight)),
    );
    try {
      await sink.write(lines);
    } catch (error) {
      for (const day of days) this.unsent.add(day);
      this.deps.logger.warn(`usage: points not written, kept for the next try: ${(error as Error).message}`);
    }
  }

  /** The saved counts; an unreadable file is logged, kept aside and read as empty. */
  private async load(): Promise<UsageRecord[]> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`usage: cannot read ${this.file}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const data = JSON.parse(text) as { version?: unknown; records?: unknown };
      if (data.version !== FILE_VERSION || !Array.isArray(data.records))
        throw new Error(`expected {"version": ${FILE_VERSION}, "records": [...]}`);
      return data.records.filter(isUsageRecord);
    } catch (error) {
      const aside = `${this.file}.unreadable-${this.deps.clock.now()}`;
      this.deps.logger.error(
        `usage: ${this.file} is unreadable (${(error as Error).message}); kept as ${aside}, counting from zero`,
      );
      await fsp.rename(this.file, aside).catch(() => undefined);
      return [];
    }
  }
}

function isUsageRecord(value: unknown): value is UsageRecord {
  const r = value as Partial<UsageRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.day === 'string' &&
    parseCivilDate(r.day) !== undefined &&
    typeof r.role === 'string' &&
    typeof r.commune === 'string' &&
    typeof r.kind === 'string' &&
    Number.isInteger(r.count) &&
    (r.count ?? 0) > 0
  );
}
