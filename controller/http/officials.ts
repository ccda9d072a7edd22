import type { Config } from '../../config/schema';
import type { Clock } from '../../core/clock';
import { formatCivilDate, nightOf, timeZone } from '../../core/localTime';
import type { LastYearLighting } from '../evaluation/lastYear';
import type { LightingService } from '../lighting/runtime/lightingService';
import { electricityPriceOn } from '../lighting/runtime/preview';
import { coversAny, type Actor } from '../scope';
import type { AlertService, EnergyService } from '../telemetry/services';
import { ApiError } from './errors';

/**
 * The elected officials' page of one commune, in figures they read at a glance: lights on now, the
 * lighting's energy and cost this month, open alerts, and the latest value of every sensor point (whose
 * 24-hour curve comes from GET /api/buildings/:id/points/:point/history). Figures the service does not
 * have are null, never estimated: last year's month is read from InfluxDB (LastYearLighting), so it is
 * null without InfluxDB or without records of that month.
 */

export interface OfficialsView {
  commune: string;
  name: string;
  at: number;
  lights: { on: number; total: number; powerW: number };
  energy: {
    /** Counted from: the start of the month, or later when the service started after it. */
    since: number;
    kWh: number;
    /** At the electricity tariff in force today; null without one. */
    eur: number | null;
    /**
     * The same period a year before: from the same local date and hour as `since` to `to` (now, a year
     * before), at today's tariff like this month: as in the monthly report, the € saved measure the
     * energy saved, not a change of price.
     */
    lastYear: { kWh: number; eur: number | null; to: number } | null;
    /** This month against the same period last year (kWh, €); null when either is not known. */
    savedKWh: number | null;
    savedEur: number | null;
  };
  alerts: { open: number; critical: number; warning: number };
  points: {
    building: string;
    buildingName?: string;
    id: string;
    name?: string;
    quantity: string;
    unit: string;
    value: number | boolean | undefined;
    at: number | undefined;
    stale: boolean;
  }[];
}

interface Baseline {
  month: string;
  since: number;
  wh: number;
}

export class OfficialsBoard {
  /** Per commune: the lighting energy counted by the service when its month's count began. */
  private readonly baselines = new Map<string, Baseline>();

  constructor(
    private readonly config: Pick<Config, 'communes' | 'tariffs' | 'site'>,
    private readonly services: { lighting: LightingService; energy: EnergyService; alerts: AlertService },
    private readonly clock: Clock,
    /** Absent without InfluxDB. */
    private readonly lastYear?: LastYearLighting,
  ) {}

  async view(commune: string, actor: Actor): Promise<OfficialsView> {
    const known = this.config.communes.find((c) => c.id === commune);
    if (!known)
      throw new ApiError(
        404,
        'not-found',
        `no commune '${commune}' (yours: ${this.config.communes
          .filter((c) => coversAny(actor.communes, [c.id]))
          .map((c) => c.id)
          .join(', ')})`,
      );
    if (!coversAny(actor.communes, [commune]))
      throw new ApiError(403, 'forbidden', `commune '${commune}' is outside yours`);
    const { lighting, energy, alerts } = this.services;
    const now = this.clock.now();
    const lights = { on: 0, total: 0, powerW: 0 };
    let wh = 0;
    for (const zone of lighting.zones(actor)) {
      if (zone.commune !== commune) continue;
      lights.powerW += zone.powerW;
      for (const l of lighting.zone(zone.id, actor).luminaireStates) {
        lights.total++;
        if ((l.inEffect?.level ?? l.level ?? 0) > 0) lights.on++;
        wh += l.energyWh;
      }
    }
    const today = formatCivilDate(nightOf(timeZone(this.config.site.timezone), now));
    const baseline = this.baselineFor(commune, today.slice(0, 7), now, wh);
    const kWh = (wh - baseline.wh) / 1000;
    const price = electricityPriceOn(this.config.tariffs, commune, today);
    const eur = price === undefined ? null : kWh * price;
    const lastYear = await this.lastYearOf(commune, baseline.since, now, price);
    const open = alerts.list(actor).filter((a) => a.commune === commune);
    return {
      commune,
      name: known.name,
      at: now,
      lights,
      energy: {
        since: baseline.since,
        kWh,
        eur,
        lastYear,
        savedKWh: lastYear === null ? null : lastYear.kWh - kWh,
        savedEur: lastYear === null || lastYear.eur === null || eur === null ? null : lastYear.eur - eur,
      },
      alerts: {
        open: open.length,
        critical: open.filter((a) => a.severity === 'critical').length,
        warning: open.filter((a) => a.severity === 'warning').length,
      },
      points: energy
        .buildings(actor)
        .filter((b) => b.commune === commune)
        .flatMap((b) =>
          b.points
            .filter((p) => p.measurement === 'sensor')
            .map((p) => ({
              building: b.id,
              buildingName: b.name,
              id: p.id,
              name: p.name,
              quantity: p.quantity,
              unit: p.unit,
              value: p.value,
              at: p.at,
              stale: p.stale,
            })),
        ),
    };
  }

  private async lastYearOf(
    commune: string,
    since: number,
    now: number,
    price: number | undefined,
  ): Promise<OfficialsView['energy']['lastYear']> {
    const found = await this.lastYear?.kWh(commune, since, now);
    if (!found) return null;
    return { kWh: found.kWh, eur: price === undefined ? null : found.kWh * price, to: found.to };
  }

  /**
   * The month's count starts with the first reading of the month: the energy the service has counted
   * so far (since it started) is the baseline. Its `since` says from when the figure holds.
   */
  private baselineFor(commune: string, month: string, now: number, wh: number): Baseline {
    const held = this.baselines.get(commune);
    if (held && held.month === month) return held;
    const fresh = { month, since: now, wh };
    this.baselines.set(commune, fresh);
    return fresh;
  }
}
