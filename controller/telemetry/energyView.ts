import type { BuildingConfig, Config } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { timeZone } from '../../core/localTime';
import { coversAny, type Actor } from '../scope';
import { AlertError, type BuildingView, type EnergyService, type PointView } from './services';

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
    const building = this.config.buildings.find((b) => b.id === id);
    if (!building) throw new AlertError('not-found', `no building '${id}'`);
    if (!coversAny(actor.communes, [building.commune]))
      throw new AlertError(
        'forbidden',
        `building '${id}' is in commune '${building.commune}', outside yours`,
      );
    return this.view(building, this.clock.now());
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
