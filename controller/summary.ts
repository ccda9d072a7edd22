import type { Config } from '../config/schema';

/** One line saying what a configuration contains, as `nocturne validate` prints it. */
export function summarize(config: Config): string {
  const luminaires = config.zones.reduce((n, z) => n + z.luminaires.length, 0);
  const controllers = config.devices.filter((d) => d.lighting);
  const byProtocol = new Map<string, number>();
  for (const d of controllers) byProtocol.set(d.protocol, (byProtocol.get(d.protocol) ?? 0) + 1);
  const protocols = [...byProtocol].map(([p, n]) => `${n} ${p}`).join(', ');
  const points = config.buildings.reduce((n, b) => n + b.points.length, 0);
  return [
    `${config.communes.length} communes`,
    `${config.zones.length} zones`,
    `${luminaires} luminaires`,
    `${config.devices.length} devices (${controllers.length} segment controllers${protocols ? `: ${protocols}` : ''})`,
    `${config.buildings.length} buildings with ${points} points`,
    `${config.presence_sensors.length} presence sensors`,
    `${config.users.length} users`,
  ].join(', ');
}
