import { PointCatalog, rolloverOfBinding } from '../../../controller/telemetry/points';
import {
  EventTimeline,
  LightingLines,
  priceLines,
  deviceLine,
  eventLine,
  presenceLine,
  serviceLine,
} from '../../../controller/telemetry/lines';
import { HOUR, MINUTE, energyConfig, feed, luminaire, paris } from './fixtures';

const T = paris('2026-01-12', '10:00');

describe('PointCatalog', () => {
  const catalog = new PointCatalog(energyConfig());

  it('prepares a PointRef per point, labelled with its configuration entry', () => {
    const debit = catalog.bySource.get('ecole/debit')!;
    expect(debit.label).toBe("buildings[0].points[0] 'ecole/debit'");
    expect(debit.ref).toEqual({
      key: 'point:ecole/debit',
      label: debit.label,
      periodMs: 60_000,
      address: {
        protocol: 'modbus',
        table: 'holding',
        address: 0,
        type: 'int16',
        wordOrder: 'big',
        byteOrder: 'big',
        scale: 0.01,
        offset: 0,
      },
    });
    const temperature = catalog.bySource.get('ecole/temperature')!;
    expect(temperature.ref.address).toEqual({
      protocol: 'opcua',
      nodeId: 'ns=1;s=ecole.hall.Temperature',
      samplingMs: 5000,
    });
    expect(temperature.byException).toBe(true);
    expect(catalog.byDevice.get('gw')!.map((p) => p.source)).toEqual([
      'ecole/debit',
      'ecole/eau',
      'armoire/porte',
    ]);
  });

  it('makes a stale threshold of stale_factor periods, at least stale_min_s, unless the point sets its own', () => {
    expect(catalog.bySource.get('ecole/debit')!.staleAfterMs).toBe(180_000);
    expect(catalog.bySource.get('armoire/porte')!.staleAfterMs).toBe(60_000);
    const own = new PointCatalog(
      energyConfig([], {
        telemetry: { stale_factor: 5 },
      }),
    );
    expect(own.bySource.get('ecole/debit')!.staleAfterMs).toBe(300_000);
  });

  it('writes sensor lines with their tags, booleans as 0/1, and the quality', () => {
    const p = new PointCatalog(energyConfig());
    expect(feed(p.bySource.get('ecole/debit')!, 0.12, T)).toBe(
      `sensor,building=ecole,commune=metz,point=debit,quantity=water_flow,room=-,unit=m³/h value=0.12,quality="good" ${T}`,
    );
    expect(feed(p.bySource.get('ecole/lumiere')!, true, T, 'uncertain')).toBe(
      `sensor,building=ecole,commune=metz,point=lumiere,quantity=lights_on,room=hall value=1,quality="uncertain" ${T}`,
    );
    const bad = p.bySource.get('ecole/temperature')!;
    expect(feed(bad, null, T)).toBe(
      `sensor,building=ecole,commune=metz,point=temperature,quantity=temperature,room=hall,unit=°C quality="bad" ${T}`,
    );
    expect(bad.quality).toBe('bad');
  });

  it('writes meter lines with the index as read, and delta and rate from the second reading on', () => {
    const p = new PointCatalog(energyConfig()).bySource.get('ecole/eau')!;
    const series = 'meter,building=ecole,commune=metz,kind=water,meter=eau,unit=m³';
    expect(feed(p, 1234.5, T)).toBe(`${series} index=1234.5,quality="good" ${T}`);
    expect(feed(p, 1234.8, T + 15 * MINUTE)).toBe(
      `${series} index=1234.8,delta=0.3,rate=1.2,quality="good" ${T + 15 * MINUTE}`,
    );
    // A reset: the new index counts as consumed since; never a negative delta.
    expect(feed(p, 0.2, T + 30 * MINUTE)).toBe(
      `${series} index=0.2,delta=0.2,rate=0.8,quality="good" ${T + 30 * MINUTE}`,
    );
    expect(p.last24h(T + 30 * MINUTE)).toBeCloseTo(0.5, 9);
    expect(p.last24h(T + 25 * HOUR)).toBe(0);
  });

  it('flags an implausible meter jump bad instead of writing it as consumption', () => {
    const p = new PointCatalog(energyConfig([], { telemetry: { max_rates: { water: 10 } } })).bySource.get(
      'ecole/eau',
    )!;
    feed(p, 100, T);
    expect(feed(p, 4_000_000, T + MINUTE)).toBe(
      `meter,building=ecole,commune=metz,kind=water,meter=eau,unit=m³ index=4000000,quality="bad" ${T + MINUTE}`,
    );
  });

  it('knows where integer meters roll over', () => {
    const eau = catalog.bySource.get('ecole/eau')!;
    expect(eau.counter!.rollover).toBeCloseTo(4_294_967.296, 6);
    expect(
      rolloverOfBinding({ ...eau.config, modbus: { ...eau.config.modbus!, type: 'float32' } }),
    ).toBeUndefined();
  });

  it('sums 24 hours of consumption to the hour', () => {
    const p = new PointCatalog(energyConfig()).bySource.get('ecole/eau')!;
    for (let h = 0; h <= 30; h++) feed(p, 100 + h, T + h * HOUR);
    expect(p.last24h(T + 30 * HOUR)).toBe(24);
  });
});

describe('lines', () => {
  it('writes lighting rows with integers where the schema says int', () => {
    const lines = new LightingLines(300_000);
    expect(
      lines.line(
        luminaire('rue-001', {
          output: undefined,
          priority: 1,
          source: 'emergency',
          lampStatus: 1,
          estimated: true,
        }),
        T,
      ),
    ).toBe(
      `lighting,commune=metz,luminaire=rue-001,zone=rue source="emergency",estimated=true,level=100,in_effect=100,priority=1i,power_w=60,energy_wh=0,baseline_wh=0,burn_s=0,lamp_status=1i ${T}`,
    );
  });

  it('writes every change, and of the periodic snapshots one per luminaire and period', () => {
    const lines = new LightingLines(300_000);
    const snapshot = (at: number) =>
      lines.lines({ at, kind: 'snapshot', luminaires: [luminaire('rue-001'), luminaire('rue-002')] });
    expect(snapshot(T)).toHaveLength(2);
    expect(
      lines.lines({ at: T + 1000, kind: 'change', luminaires: [luminaire('rue-001', { level: 40 })] }),
    ).toHaveLength(1);
    expect(snapshot(T + 200_000)).toHaveLength(0);
    expect(snapshot(T + 300_000).map((l) => l.split(',')[2])).toEqual(['luminaire=rue-002']);
    expect(snapshot(T + 301_000)).toHaveLength(1);
  });

  it('gives events of one series distinct milliseconds, so none overwrites another', () => {
    const timeline = new EventTimeline();
    const tags = { commune: 'metz', kind: 'alert', severity: 'warning' };
    const fields = {
      message: 'Fuite "probable"\nà l’école',
      source: 'ecole/eau',
      actor: 'nocturne',
      state: 'raised',
      id: 'a-1',
      rule: 'fuite',
      alert: 'night-flow',
      value: 0.12,
    };
    const first = eventLine(timeline, tags, fields, T);
    const second = eventLine(timeline, tags, fields, T);
    const other = eventLine(timeline, { ...tags, severity: 'critical' }, fields, T);
    expect(first).toBe(
      `event,commune=metz,kind=alert,severity=warning message="Fuite \\"probable\\"\\nà l’école",source="ecole/eau",actor="nocturne",state="raised",id="a-1",rule="fuite",alert="night-flow",value=0.12 ${T}`,
    );
    expect(second.endsWith(` ${T + 1}`)).toBe(true);
    expect(other.endsWith(` ${T}`)).toBe(true);
    expect(
      presenceLine(timeline, {
        at: T,
        sensor: 's1',
        zone: 'rue',
        commune: 'metz',
        class: 'cyclist',
        level: 70,
        result: 'accepted',
      }),
    ).toBe(`presence,class=cyclist,commune=metz,sensor=s1,zone=rue count=1i,level=70,result="accepted" ${T}`);
  });

  it('writes device health as 2/1/0 with its counters, and the service figures', () => {
    expect(
      deviceLine(
        { id: 'gw', commune: undefined, protocol: 'modbus-tcp' },
        'degraded',
        { requests: 10, errors: 2, reconnects: 1 },
        T,
      ),
    ).toBe(
      `device,commune=-,device=gw,protocol=modbus-tcp health=1i,requests=10i,errors=2i,reconnects=1i ${T}`,
    );
    expect(
      serviceLine('nocturne', { alertsOpen: 2, samples: 10, badSamples: 1, lagMs: 12.5, written: 9 }, T),
    ).toBe(`service,instance=nocturne alerts_open=2i,written=9i,lag_ms=12.5,samples=10i,bad_samples=1i ${T}`);
    expect(
      serviceLine(
        'nocturne',
        { alertsOpen: 0, samples: 0, badSamples: 0, mqttReceived: 40, mqttMalformed: 3 },
        T,
      ),
    ).toBe(
      `service,instance=nocturne alerts_open=0i,mqtt_received=40i,mqtt_malformed=3i,samples=0i,bad_samples=0i ${T}`,
    );
  });

  it('writes the dated tariffs and emission factors at the first day they apply, site time', () => {
    const config = energyConfig([], {
      tariffs: [
        {
          quantity: 'electricity',
          unit: 'kWh',
          eur_per_unit: 0.2276,
          from: '2025-02-01',
          source: 'tarif bleu',
        },
      ],
      emission_factors: [
        {
          quantity: 'water',
          unit: 'm³',
          kg_co2e_per_unit: 0.132,
          from: '2022-07-01',
          year: 2022,
          source: 'ADEME',
        },
      ],
    });
    expect(priceLines(config)).toEqual([
      `tariff,commune=*,quantity=electricity,unit=kWh eur_per_unit=0.2276,source="tarif bleu" ${Date.parse('2025-02-01T00:00:00+01:00')}`,
      `emission_factor,quantity=water,unit=m³ kg_co2e_per_unit=0.132,source="ADEME",year=2022i ${Date.parse('2022-07-01T00:00:00+02:00')}`,
    ]);
  });
});
