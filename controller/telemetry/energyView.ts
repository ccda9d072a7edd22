import type { BuildingConfig, Config } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { timeZone } from '../../core/localTime';
import { coversAny, type Actor } from '../scope';
import {
  AlertError,
  type BuildingView,
  type EnergyService,
  type PointHistoryView,
  type PointView,
} from './services';
import { BUCKET_MS, type PointHistory } from './pointHistory';

import type { DeviceBook } from './deviceBook';
import { OpeningHours } from './openingHours';
import type { PointCatalog } from './points';

/**
 * Buildings with their latest values, as the HTTP API and the console show them. Reads the sampler's
 * state (the catalog) as it is: nothing is queried from InfluxDB. `last24h` counts the consumption seen
 * since the service started, to the hour.
 */
export class EnergyView implements EnergyService {
  private readonly hours = new Map<string, OpeningHours>();

  constructor(
    private readonly config: Pick<Config, 'buildings' | 'site'>,
    private readonly catalog: PointCatalog,
    private readonly book: DeviceBook,
    private readonly clock: Clock,
    private readonly pointHistory: PointHistory,
  ) {
    const zone = timeZone(config.site.timezone);
    for (const building of config.buildings) this.hours.set(building.id, new OpeningHours(building, zone));
  }

  buildings(actor: Actor): BuildingView[] {
    const now = this.clock.now();
    return this.config.buildings
      .filter((b) => coversAny(actor.communes, [b.commune]))
      .map((b) => this.view(b, now));
  }

  building(id: string, actor: Actor): BuildingView {
    return this.view(this.visible(id, actor), this.clock.now());
  }

  history(buildingId: string, pointId: string, actor: Actor): PointHistoryView {
    const building = this.visible(buildingId, actor);
    const point = this.catalog.bySource.get(`${building.id}/${pointId}`);
    if (!point || point.isMeter)
      throw new AlertError(
        'not-found',
        `no sensor point '${pointId}' in building '${building.id}' (known: ${building.points
          .filter((p) => p.measurement === 'sensor')
          .map((p) => p.id)
          .join(', ')})`,
      );
    const now = this.clock.now();
    const { id, name, quantity, unit, room, value, at, stale } = this.view(building, now).points.find(
      (p) => p.id === pointId,
    )!;
    return {
      building: building.id,
      commune: building.commune,
      point: { id, name, quantity, unit, room, value, at, stale },
      bucketMs: BUCKET_MS,
      buckets: this.pointHistory.series(point.index, now),
    };
  }

  private visible(id: string, actor: Actor): BuildingConfig {
    const building = this.config.buildings.find((b) => b.id === id);
    if (!building) throw new AlertError('not-found', `no building '${id}'`);
    if (!coversAny(actor.communes, [building.commune]))
      throw new AlertError(
        'forbidden',
        `building '${id}' is in commune '${building.commune}', outside yours`,
      );
    return building;
  }

  private view(building: BuildingConfig, now: number): BuildingView {
    const points: PointView[] = building.points.map((config) => {
      const point = this.catalog.bySource.get(`${building.id}/${config.id}`)!;
      const view: PointView = {
        id: config.id,
        measurement: config.measurement,
        quantity: config.quantity,
        unit: config.unit,
        device: config.device,
        value: point.value,
        quality: point.quality,
        at: point.at,
        stale: point.isStale(now, this.book.downSince(config.device)),
      };
      if (config.name !== undefined) view.name = config.name;
      if (config.room !== undefined) view.room = config.room;
      if (point.isMeter) view.last24h = point.last24h(now);
      return view;
    });
    const view: BuildingView = {
      id: building.id,
      commune: building.commune,
      kind: building.kind,
      openNow: this.hours.get(building.id)!.isOpen(now),
      points,
    };
    if (building.name !== undefined) view.name = building.name;
    return view;
  }
}
