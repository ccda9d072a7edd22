import { ManualClock } from '../../../core/clock';
import type { AlertView } from '../../../controller/telemetry/services';
import { AlertEngine, type AlertChange } from '../../../controller/telemetry/alerts/engine';
import { PointCatalog, type CatalogPoint } from '../../../controller/telemetry/points';
import { Building } from '../../../config/schema/energy';
import type { Config } from '../../../config/schema';
import { energyConfig, feed } from '../energy/fixtures';

export type Rules = Parameters<typeof energyConfig>[0];

/**
 * The river station of the rate-of-change tests: a level sensor polled every minute, at the station's
 * own location (Brest, far west of the site: its sun sets about 40 minutes after Metz's).
 */
export const RIVER_STATION = Building.parse({
  id: 'pont',
  commune: 'metz',
  name: 'Station du pont des Morts',
  kind: 'river_station',
  location: { lat: 48.39, lon: -4.49 },
  points: [
    {
      id: 'niveau',
      name: 'Niveau de la Moselle',
      measurement: 'sensor',
      quantity: 'water_level',
      unit: 'm',
      device: 'gw',
      modbus: { address: 10, type: 'int16', scale: 0.01, period_s: 60 },
    },
  ],
});

/**
 * An alert engine on a manual clock, ticking every 10 s as the service does, every change recorded; the
 * site of test/unit/energy/fixtures.ts, plus `buildings`. Devices are up unless `downSince` says when
 * they went down.
 */
export class AlertHarness {
  readonly clock: ManualClock;
  readonly config: Config;
  readonly catalog: PointCatalog;
  readonly engine: AlertEngine;
  readonly changes: { alert: AlertView; change: AlertChange }[] = [];
  readonly downSince = new Map<string, number>();

  constructor(
    rules: Rules,
    start: number,
    options: { influx?: boolean; buildings?: Config['buildings'] } = {},
  ) {
    this.clock = new ManualClock(start);
    this.config = energyConfig(rules);
    this.config.buildings.push(...(options.buildings ?? []));
    this.catalog = new PointCatalog(this.config);
    for (const point of this.catalog.points) point.lastGoodAt = start;
    this.engine = new AlertEngine({
      config: this.config,
      catalog: this.catalog,
      deviceCommune: (id) => (id === 'sc' ? 'metz' : '*'),
      deviceDownSince: (id) => this.downSince.get(id),
      influxConfigured: options.influx ?? true,
      onChange: (alert, change) => this.changes.push({ alert, change }),
    });
  }

  point(source: string): CatalogPoint {
    return this.catalog.bySource.get(source)!;
  }

  /** A value read now (null: a bad one), the engine told as the sampler does. */
  feed(source: string, value: number | boolean | null): void {
    const point = this.point(source);
    feed(point, value, this.clock.now());
    if (point.watched) this.engine.observePoint(point, this.clock.now());
  }

  /** Time passes, with a tick every 10 s. */
  advance(ms: number): void {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(10_000, end - this.clock.now()));
      this.engine.tick(this.clock.now());
    }
  }

  /** Time passes until `at`. */
  advanceTo(at: number): void {
    this.advance(at - this.clock.now());
  }

  kinds(): string[] {
    return this.changes.map((c) => `${c.change}:${c.alert.source}`);
  }

  open(): AlertView[] {
    return this.engine.list(this.clock.now(), false);
  }
}

/** The alert harness with the river station. */
export class Harness extends AlertHarness {
  constructor(rules: Rules, start: number) {
    super(rules, start, { buildings: [RIVER_STATION] });
  }
}
