import type { DeviceConfig } from '../../config/schema';
import type { Health } from '../../drivers/driver';

export interface DeviceStatus {
  readonly config: DeviceConfig;
  /** Commune the device serves: its own, else the one all its points and luminaires are in, else '*'. */
  readonly commune: string;
  health: Health;
  /** When the device was last seen going down; undefined while it answers (up or degraded). */
  downSince: number | undefined;
  /** Health known from the driver or its events; false before the registry reported anything. */
  known: boolean;
}

/**
 * The health of every configured device as the bus reports it, for staleness, the device measurement,
 * alert rules and /health. Degraded counts as answering.
 */
export class DeviceBook {
  readonly devices = new Map<string, DeviceStatus>();

  constructor(
    config: { devices: readonly DeviceConfig[] },
    communes: ReadonlyMap<string, string>,
    now: number,
  ) {
    for (const device of config.devices) {
      this.devices.set(device.id, {
        config: device,
        commune: device.commune ?? communes.get(device.id) ?? '*',
        health: 'down',
        downSince: now,
        known: false,
      });
    }
  }

  /** Returns true when the health changed. */
  update(deviceId: string, health: Health, at: number): boolean {
    const status = this.devices.get(deviceId);
    if (!status) return false;
    const changed = !status.known || status.health !== health;
    status.known = true;
    if (health === 'down') status.downSince ??= at;
    else status.downSince = undefined;
    status.health = health;
    return changed;
  }

  downSince(deviceId: string): number | undefined {
    return this.devices.get(deviceId)?.downSince;
  }
}

/**
 * The commune of each device without one of its own: the single commune of the buildings and zones it
 * serves (a meter gateway of one town's buildings), or none when it serves several.
 */
export function servedCommunes(config: {
  devices: readonly DeviceConfig[];
  buildings: readonly { commune: string; points: readonly { device: string }[] }[];
  zones: readonly { commune: string; luminaires: readonly { device: string }[] }[];
}): Map<string, string> {
  const seen = new Map<string, Set<string>>();
  const add = (device: string, commune: string): void => {
    const set = seen.get(device) ?? new Set<string>();
    set.add(commune);
    seen.set(device, set);
  };
  for (const building of config.buildings)
    for (const point of building.points) add(point.device, building.commune);
  for (const zone of config.zones)
    for (const luminaire of zone.luminaires) add(luminaire.device, zone.commune);
  const out = new Map<string, string>();
  for (const [device, communes] of seen) if (communes.size === 1) out.set(device, [...communes][0]);
  return out;
}
