import type { AlertRuleConfig, Config, LuminaireConfig, ZoneConfig } from '../../../config/schema';
import type { CatalogPoint, PointCatalog } from '../points';

/** Which points, zones, luminaires or devices a rule watches, from its `scope` (every criterion given must match). */

type RuleOf<K extends AlertRuleConfig['kind']> = Extract<AlertRuleConfig, { kind: K }>;
type PointRule = RuleOf<'threshold' | 'outside-opening-hours' | 'stale' | 'night-flow'>;

/** Quantities a rule kind watches when its scope names neither points nor quantities. */
export const DEFAULT_QUANTITIES: Partial<Record<AlertRuleConfig['kind'], readonly string[]>> = {
  'outside-opening-hours': ['lights_on'],
  'night-flow': ['water_flow'],
};

export function pointsInScope(rule: PointRule, catalog: PointCatalog): CatalogPoint[] {
  const scope = rule.scope;
  const quantities =
    scope.quantities ?? (scope.points === undefined ? DEFAULT_QUANTITIES[rule.kind] : undefined);
  return catalog.points.filter(
    (p) =>
      (scope.communes === undefined || scope.communes.includes(p.commune)) &&
      (scope.buildings === undefined || scope.buildings.includes(p.buildingId)) &&
      (scope.points === undefined || scope.points.includes(p.source)) &&
      (quantities === undefined || quantities.includes(p.config.quantity)),
  );
}

export function zonesInScope(
  scope: { communes?: string[]; zones?: string[] },
  config: Pick<Config, 'zones'>,
): ZoneConfig[] {
  return config.zones.filter(
    (z) =>
      (scope.communes === undefined || scope.communes.includes(z.commune)) &&
      (scope.zones === undefined || scope.zones.includes(z.id)),
  );
}

export interface ScopedLuminaire {
  luminaire: LuminaireConfig;
  zone: ZoneConfig;
}

export function luminairesInScope(
  scope: { communes?: string[]; zones?: string[]; luminaires?: string[] },
  config: Pick<Config, 'zones'>,
): Map<string, ScopedLuminaire> {
  const out = new Map<string, ScopedLuminaire>();
  for (const zone of zonesInScope(scope, config))
    for (const luminaire of zone.luminaires)
      if (scope.luminaires === undefined || scope.luminaires.includes(luminaire.id))
        out.set(luminaire.id, { luminaire, zone });
  return out;
}

export function devicesInScope(
  scope: { communes?: string[]; devices?: string[] },
  config: Pick<Config, 'devices'>,
  communeOf: (deviceId: string) => string,
): Set<string> {
  return new Set(
    config.devices
      .filter(
        (d) =>
          (scope.communes === undefined || scope.communes.includes(communeOf(d.id))) &&
          (scope.devices === undefined || scope.devices.includes(d.id)),
      )
      .map((d) => d.id),
  );
}
