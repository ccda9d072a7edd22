import type { Config } from '../../config/schema';
import type { TargetSpec } from '../lighting/topology';

/**
 * Which commune a zone or luminaire belongs to, from the configuration (zones and luminaires do not
 * change while running): the communes the API lists, and those the audit log files under a calendar's
 * change and a refused relight, override or calendar assignment (refused before the runtime made a
 * record of it, so only the configuration can say where its target lies).
 */
export class CommuneIndex {
  private readonly zoneCommune = new Map<string, string>();
  private readonly luminaireCommune = new Map<string, string>();
  readonly communes: readonly { id: string; name: string }[];

  constructor(config: Pick<Config, 'zones' | 'communes'>) {
    for (const zone of config.zones) {
      this.zoneCommune.set(zone.id, zone.commune);
      for (const luminaire of zone.luminaires) this.luminaireCommune.set(luminaire.id, zone.commune);
    }
    this.communes = config.communes.map(({ id, name }) => ({ id, name }));
  }

  communeOfZone(zone: string): string | undefined {
    return this.zoneCommune.get(zone);
  }

  /** Communes a target reaches, as far as the configuration knows its parts ('*' for all). */
  communesOf(target: Partial<TargetSpec> | undefined): string[] {
    if (!target || typeof target !== 'object') return [];
    const spec = target as { all?: unknown; commune?: unknown; zone?: unknown; luminaires?: unknown };
    if (spec.all === true) return ['*'];
    if (typeof spec.commune === 'string') return [spec.commune];
    if (typeof spec.zone === 'string') return known([this.zoneCommune.get(spec.zone)]);
    if (Array.isArray(spec.luminaires))
      return known(
        spec.luminaires.map((id) => (typeof id === 'string' ? this.luminaireCommune.get(id) : undefined)),
      );
    return [];
  }
}

/** A target as an operator reads it in the audit log and the console. */
export function describeTarget(target: unknown): string {
  if (!target || typeof target !== 'object') return 'no target';
  const spec = target as { all?: unknown; commune?: unknown; zone?: unknown; luminaires?: unknown };
  if (spec.all === true) return 'all';
  if (typeof spec.commune === 'string') return `commune ${spec.commune}`;
  if (typeof spec.zone === 'string') return `zone ${spec.zone}`;
  if (Array.isArray(spec.luminaires)) {
    const ids = spec.luminaires.filter((id): id is string => typeof id === 'string');
    if (ids.length === 1) return `luminaire ${ids[0]}`;
    return `${ids.length} luminaires (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`;
  }
  return 'unrecognised target';
}

function known(communes: (string | undefined)[]): string[] {
  return [...new Set(communes.filter((c): c is string => c !== undefined))].sort();
}
