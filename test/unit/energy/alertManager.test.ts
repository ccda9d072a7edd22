import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bus } from '../../../controller/bus';
import { ManualClock } from '../../../core/clock';
import { DeviceRegistry } from '../../../controller/devices';
import type { AlertView } from '../../../controller/telemetry/services';
import { AlertManager } from '../../../controller/telemetry/alerts/manager';
import { PointCatalog } from '../../../controller/telemetry/points';
import type { LineSink } from '../../../drivers/timeSeries';
import type { Actor } from '../../../controller/scope';
import { silentLogger } from '../../../core/logger';
import type { Config } from '../../../config/schema';
import { MINUTE, energyConfig, feed, luminaire, paris, report } from './fixtures';

/** Keeps what it is given, as the spool would. */
class MemorySink implements LineSink {
  readonly lines: string[] = [];
  write(lines: readonly string[]): Promise<void> {
    this.lines.push(...lines);
    return Promise.resolve();
  }
}

const admin: Actor = { user: 'admin', role: 'admin', communes: ['*'], via: 'api', from: 'test' };
const woippy: Actor = { user: 'elu-woippy', role: 'viewer', communes: ['woippy'], via: 'api', from: 'test' };
const metz: Actor = {
  user: 'energie-metz',
  role: 'energy-manager',
  communes: ['metz'],
  via: 'api',
  from: 'test',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nocturne-alerts-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An alert manager on a manual clock with its state in `dir`; the sampler's part is played by `feed`. */
function manager(config: Config, clock: ManualClock, sink: MemorySink, bus = new Bus(silentLogger)) {
  const catalog = new PointCatalog(config);
  const alerts = new AlertManager({
    config,
    catalog,
    deviceCommune: () => '*',
    deviceDownSince: () => undefined,
    devices: new DeviceRegistry(config, { logger: silentLogger, clock, bus, configDir: dir, stateDir: dir }),
    storageHealth: () => 'up',
    sink,
    mqtt: undefined,
    bus,
    clock,
    logger: silentLogger,
    stateDir: dir,
    configDir: dir,
  });
  const read = (source: string, value: number | boolean): void => {
    const point = catalog.bySource.get(source)!;
    feed(point, value, clock.now());
    alerts.observePoint(point, clock.now());
  };
  return { alerts, read, bus };
}

const config = energyConfig([
  {
    id: 'porte',
    kind: 'threshold',
    severity: 'critical',
    scope: { quantities: ['door_open'] },
    above: 0.5,
    for_s: 60,
  },
]);

describe('AlertManager', () => {
  it('raises on its own ticks, writes every change as an event line, and tells subscribers in the commune', async () => {
    const clock = new ManualClock(paris('2026-01-12', '20:00'));
    const sink = new MemorySink();
    const { alerts, read, bus } = manager(config, clock, sink);
    const seenByWoippy: AlertView[] = [];
    const seenByMetz: AlertView[] = [];
    const onBus: AlertView[] = [];
    alerts.subscribe(woippy, (a) => seenByWoippy.push(a));
    alerts.subscribe(metz, (a) => seenByMetz.push(a));
    bus.on('alertChanged', {}, ({ alert }) => onBus.push(alert));
    await alerts.start();
    try {
      read('armoire/porte', true);
      clock.advance(MINUTE);
      expect(alerts.list(admin).map((a) => a.state)).toEqual(['raised']);
      const id = alerts.list(admin)[0].id;
      expect(alerts.list(metz)).toEqual([]);
      await alerts.acknowledge(id, woippy);
      clock.advance(MINUTE);
      read('armoire/porte', false);
      expect(seenByWoippy.map((a) => a.state)).toEqual(['raised', 'acknowledged', 'cleared']);
      expect(seenByMetz).toEqual([]);
      expect(onBus).toHaveLength(3);
      // The text's code and parameters go with the French message, for readers in another language.
      const text =
        'code="threshold-above",params="{\\"name\\":\\"porte\\",\\"place\\":\\"armoire\\",\\"unit\\":\\"\\",\\"value\\":1,\\"threshold\\":0.5}"';
      expect(sink.lines).toEqual([
        `event,commune=woippy,kind=alert,severity=critical message="porte (armoire) : 1, au-dessus du seuil de 0,5",source="armoire/porte",actor="nocturne",state="raised",id="${id}",rule="porte",alert="threshold",value=1,${text} ${paris('2026-01-12', '20:01')}`,
        `event,commune=woippy,kind=alert,severity=critical message="Pris en compte par elu-woippy : porte (armoire) : 1, au-dessus du seuil de 0,5",source="armoire/porte",actor="elu-woippy",state="acknowledged",id="${id}",rule="porte",alert="threshold",value=1,${text} ${paris('2026-01-12', '20:01') + 1}`,
        `event,commune=woippy,kind=alert,severity=critical message="Terminé : porte (armoire) : 1, au-dessus du seuil de 0,5",source="armoire/porte",actor="nocturne",state="cleared",id="${id}",rule="porte",alert="threshold",value=1,${text} ${paris('2026-01-12', '20:02')}`,
      ]);
      expect(alerts.stats()).toMatchObject({ open: 0, raised: 1, cleared: 1 });
    } finally {
      await alerts.stop();
    }
  });

  it('keeps open and acknowledged alerts across a restart: not raised again, not forgotten', async () => {
    const clock = new ManualClock(paris('2026-01-12', '20:00'));
    const sink = new MemorySink();
    const first = manager(config, clock, sink);
    await first.alerts.start();
    first.read('armoire/porte', true);
    clock.advance(MINUTE);
    const id = first.alerts.list(admin)[0].id;
    await first.alerts.acknowledge(id, admin);
    await first.alerts.stop();
    const saved = JSON.parse(await readFile(path.join(dir, 'alerts.json'), 'utf8')) as {
      alerts: AlertView[];
    };
    expect(saved.alerts).toMatchObject([{ id, state: 'acknowledged', acknowledgedBy: 'admin' }]);

    clock.advance(10 * MINUTE);
    const second = manager(config, clock, sink);
    await second.alerts.start();
    try {
      second.read('armoire/porte', true);
      clock.advance(5 * MINUTE);
      expect(second.alerts.list(admin)).toMatchObject([
        { id, state: 'acknowledged', acknowledgedBy: 'admin' },
      ]);
      expect(sink.lines.filter((l) => l.includes('state="raised"'))).toHaveLength(1);
      second.read('armoire/porte', false);
      expect(second.alerts.list(admin, { includeCleared: true })).toMatchObject([{ id, state: 'cleared' }]);
    } finally {
      await second.alerts.stop();
    }
  });

  it('restores an alert saved before texts had codes with its message as the text', async () => {
    const clock = new ManualClock(paris('2026-01-12', '20:00'));
    const older = {
      id: 'porte-1',
      rule: 'porte',
      kind: 'threshold',
      severity: 'critical',
      state: 'raised',
      commune: 'woippy',
      source: 'armoire/porte',
      message: 'porte (armoire) : 1, au-dessus du seuil de 0,5',
      raisedAt: clock.now() - MINUTE,
    };
    await writeFile(path.join(dir, 'alerts.json'), JSON.stringify({ version: 1, alerts: [older] }));
    const { alerts } = manager(config, clock, new MemorySink());
    await alerts.start();
    try {
      expect(alerts.list(admin)).toEqual([
        { ...older, code: 'rule-message', params: { text: older.message } },
      ]);
    } finally {
      await alerts.stop();
    }
  });

  it('refuses to acknowledge before start and starts afresh from an unreadable file, kept aside', async () => {
    const clock = new ManualClock(paris('2026-01-12', '20:00'));
    const { alerts } = manager(config, clock, new MemorySink());
    await expect(alerts.acknowledge('x', admin)).rejects.toMatchObject({ code: 'unavailable' });
    await writeFile(path.join(dir, 'alerts.json'), '{"version": 1, "alerts": [');
    await alerts.start();
    try {
      expect(alerts.list(admin)).toEqual([]);
    } finally {
      await alerts.stop();
    }
  });

  it('hears the lighting runtime’s commands and dispatch failures on the bus', async () => {
    const clock = new ManualClock(paris('2026-01-12', '20:00'));
    const sink = new MemorySink();
    const { alerts, bus } = manager(
      energyConfig([{ id: 'commande', kind: 'lighting-command-failed' }]),
      clock,
      sink,
    );
    await alerts.start();
    try {
      const event = {
        kind: 'relight' as const,
        id: 'pompiers-1',
        communes: ['metz'],
        severity: 'critical' as const,
        message: 'relight',
        source: 'zone rue',
        actor: 'sdis',
        via: 'mqtt',
        from: 'nocturne/request/relight',
      };
      bus.emit('lightingCommandChanged', { ...event, at: clock.now(), state: 'accepted' });
      clock.advance(MINUTE);
      bus.emit('lightingDispatchFailed', {
        at: clock.now(),
        deviceId: 'sc',
        commune: 'metz',
        luminaires: ['rue-001'],
        error: 'timeout',
      });
      bus.emit('lightingCommandChanged', { ...event, at: clock.now(), state: 'failed' });
      expect(alerts.list(admin)).toMatchObject([
        { kind: 'lighting-command-failed', source: 'relight/pompiers-1', commune: 'metz', value: 1 },
      ]);
      bus.emit('lightingReported', report(clock.now(), [luminaire('rue-001')]));
      expect(alerts.list(admin)).toEqual([]);
      expect(alerts.stats()).toMatchObject({ raised: 1, cleared: 1 });
    } finally {
      await alerts.stop();
    }
  });
});
