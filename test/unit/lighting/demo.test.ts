import path from 'node:path';
import { loadConfig } from '../../../config/load';
import { Arbiter } from '../../../controller/lighting/arbiter';
import { addDays, civilDate } from '../../../core/localTime';
import { checkProgram } from '../../../controller/lighting/schedule';
import { LightingTopology } from '../../../controller/lighting/topology';
import { ZoneSchedule } from '../../../controller/lighting/zoneSchedule';

describe('the demo configuration', () => {
  const config = loadConfig(path.join(__dirname, '..', '..', '..', 'config', 'demo.yaml'), { env: {} });

  it('has programs without night-order problems', () => {
    for (const program of config.programs)
      expect([program.id, checkProgram(program)]).toEqual([program.id, []]);
  });

  it('gives every luminaire a schedule level at any hour of a year', () => {
    const topology = LightingTopology.fromConfig(config);
    expect(topology.problems).toEqual([]);
    const arbiter = new Arbiter(topology);
    const programs = new Map(config.programs.map((p) => [p.id, p]));
    const calendars = new Map(config.calendars.map((c) => [c.id, c]));
    const schedules = topology.zones.map((zone) =>
      ZoneSchedule.create({
        zone: zone.id,
        calendar: calendars.get(zone.calendar)!,
        programs,
        location: zone.location ?? config.site.location,
        timeZone: zone.timeZone ?? config.site.timezone,
      }),
    );
    const programsSeen = new Set<string>();
    const failures: string[] = [];
    for (let night = civilDate(2026, 1, 1); night.year === 2026; night = addDays(night, 7)) {
      for (const hour of [14, 22, 26, 31]) {
        const t = Date.UTC(night.year, night.month - 1, night.day, hour);
        schedules.forEach((schedule, z) => {
          const state = schedule.at(t);
          programsSeen.add(state.program);
          const result = arbiter.applySchedule(z, state, t);
          if (!result.ok) failures.push(result.error);
        });
        for (let i = 0; i < topology.count; i++) {
          const level = arbiter.levelOf(i);
          if (!(level >= 0 && level <= 100))
            failures.push(`${topology.ids[i]} at ${new Date(t).toISOString()}: ${level}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(programsSeen.size).toBeGreaterThan(1);
  });
});
