import { Bus } from '../../../controller/bus';
import { ManualClock } from '../../../core/clock';
import { DeviceRegistry } from '../../../controller/devices';
import { DeviceBook } from '../../../controller/telemetry/deviceBook';
import { PointCatalog, type CatalogPoint } from '../../../controller/telemetry/points';
import { Sampler } from '../../../controller/telemetry/sampler';
import type { LineSink } from '../../../drivers/timeSeries';
import { silentLogger } from '../../../core/logger';
import type { Sample } from '../../../drivers/driver';
import { energyConfig, paris } from './fixtures';

const T = paris('2026-01-12', '10:00');

/** The sampler's hot path on hand-made samples, as the drivers put them on the bus. */
async function sampler(sink: LineSink) {
  const config = energyConfig([
    { id: 'porte', kind: 'threshold', scope: { quantities: ['door_open'] }, above: 0.5 },
  ]);
  const clock = new ManualClock(T);
  const bus = new Bus(silentLogger);
  const catalog = new PointCatalog(config);
  catalog.bySource.get('armoire/porte')!.watched = true;
  const watched: string[] = [];
  const s = new Sampler({
    catalog,
    devices: new DeviceRegistry(config, { logger: silentLogger, clock, bus, configDir: '.', stateDir: '.' }),
    book: new DeviceBook(config, new Map(), T),
    sink,
    bus,
    clock,
    logger: silentLogger,
    maxClockSkewMs: 3_600_000,
    onWatched: (point: CatalogPoint) => watched.push(point.source),
  });
  await s.start();
  await s.ready();
  return { s, bus, watched, catalog };
}

describe('Sampler', () => {
  it('turns the samples of its points into lines, with the device time when it can be trusted', async () => {
    const written: string[][] = [];
    const { s, bus, watched } = await sampler({
      write: (lines) => {
        written.push([...lines]);
        return Promise.resolve();
      },
    });
    const samples: Sample[] = [
      { key: 'point:ecole/lumiere', value: true, quality: 'good', time: T, sourceTime: T - 1500 },
      {
        key: 'point:ecole/temperature',
        value: 19.5,
        quality: 'good',
        time: T,
        sourceTime: T - 2 * 3_600_000,
      },
      { key: 'lighting:sc/1/level', value: 40, quality: 'good', time: T },
      { key: 'point:ecole/debit', value: 0.5, quality: 'good', time: T },
    ];
    bus.emit('samplesReceived', { deviceId: 'bms', samples });
    bus.emit('samplesReceived', {
      deviceId: 'gw',
      samples: [{ key: 'point:armoire/porte', value: null, quality: 'bad', time: T }],
    });
    await s.stop();
    // The samples of one turn of the event loop, from both devices, in one write.
    expect(written).toEqual([
      [
        `sensor,building=ecole,commune=metz,point=lumiere,quantity=lights_on,room=hall value=1,quality="good" ${T - 1500}`,
        `sensor,building=ecole,commune=metz,point=temperature,quantity=temperature,room=hall,unit=°C value=19.5,quality="good" ${T}`,
        `sensor,building=armoire,commune=woippy,point=porte,quantity=door_open,room=- quality="bad" ${T}`,
      ],
    ]);
    // ecole/debit belongs to device gw, not bms: a sample under the wrong device is not taken.
    expect(s.stats()).toMatchObject({
      points: 5,
      samples: 3,
      badSamples: 1,
      skewedTimestamps: 1,
      lines: 3,
      lostLines: 0,
    });
    expect(watched).toEqual(['armoire/porte']);
  });

  it('writes the lines of each turn of the event loop together, and what is left at stop', async () => {
    const written: string[][] = [];
    const { s, bus } = await sampler({
      write: (lines) => {
        written.push([...lines]);
        return Promise.resolve();
      },
    });
    const debit = (value: number): void =>
      bus.emit('samplesReceived', {
        deviceId: 'gw',
        samples: [{ key: 'point:ecole/debit', value, quality: 'good', time: T }],
      });
    debit(1);
    debit(2);
    expect(written).toEqual([]); // handed over at the end of the turn, not per sample
    await new Promise((resolve) => setImmediate(resolve));
    debit(3);
    await new Promise((resolve) => setImmediate(resolve));
    debit(4);
    await s.stop();
    expect(written.map((lines) => lines.map((line) => line.split(' ')[1]))).toEqual([
      ['value=1,quality="good"', 'value=2,quality="good"'],
      ['value=3,quality="good"'],
      ['value=4,quality="good"'],
    ]);
    expect(s.stats().lines).toBe(4);
  });

  it('counts lines the spool refuses, and takes nothing once stopped', async () => {
    const { s, bus } = await sampler({ write: () => Promise.reject(new Error('disk full')) });
    bus.emit('samplesReceived', {
      deviceId: 'gw',
      samples: [{ key: 'point:ecole/debit', value: 1, quality: 'good', time: T }],
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(s.stats().lostLines).toBe(1);
    await s.stop();
    bus.emit('samplesReceived', {
      deviceId: 'gw',
      samples: [{ key: 'point:ecole/debit', value: 1, quality: 'good', time: T }],
    });
    expect(s.stats().samples).toBe(1);
  });
});
