import { civilDate } from '../../../core/localTime';
import { eveningTwilight, morningTwilight } from '../../../core/sun';
import type { LuminaireFaultChanged } from '../../../controller/lighting/runtime/events';
import { HOUR, MINUTE, luminaire, paris, report } from '../energy/fixtures';
import { Harness, type Rules } from './harness';

const METZ = { lat: 49.12, lon: 6.18 };

function sunsetOf(y: number, m: number, d: number): number {
  const event = eveningTwilight(civilDate(y, m, d), METZ, 'official');
  if (!event.occurs) throw new Error('no sunset');
  return event.at;
}

function sunriseOf(y: number, m: number, d: number): number {
  const event = morningTwilight(civilDate(y, m, d), METZ, 'official');
  if (!event.occurs) throw new Error('no sunrise');
  return event.at;
}

describe('when: a door open between dusk and dawn', () => {
  const rules: Rules = [
    {
      id: 'porte-nuit',
      kind: 'threshold',
      scope: { quantities: ['door_open'] },
      above: 0.5,
      for_s: 60,
      when: { from: { sun: 'dusk' }, to: { sun: 'dawn' } },
    },
  ];

  it('says nothing by day, and raises once dusk comes on a door left open, without a new reading', () => {
    const h = new Harness(rules, paris('2026-01-12', '15:00'));
    h.feed('armoire/porte', true);
    const dusk = sunsetOf(2026, 1, 12);
    h.advanceTo(dusk - 10_000);
    expect(h.changes).toEqual([]);
    h.advanceTo(dusk + 2 * MINUTE);
    expect(h.kinds()).toEqual(['raised:armoire/porte']);
    const raisedAt = h.changes[0].alert.raisedAt;
    expect(raisedAt).toBeGreaterThanOrEqual(dusk + MINUTE);
    expect(raisedAt).toBeLessThanOrEqual(dusk + MINUTE + 10_000);
  });

  it('clears an alert raised at night by its own condition, after dawn too', () => {
    const h = new Harness(rules, paris('2026-01-12', '23:00'));
    h.feed('armoire/porte', true);
    h.advance(MINUTE);
    expect(h.kinds()).toEqual(['raised:armoire/porte']);
    h.advanceTo(sunriseOf(2026, 1, 13) + HOUR);
    expect(h.open()).toHaveLength(1); // dawn does not clear it: the door is still open
    h.feed('armoire/porte', false);
    expect(h.kinds()).toEqual(['raised:armoire/porte', 'cleared:armoire/porte']);
  });
});

describe('when: pending conditions and other kinds', () => {
  it('forgets a condition still pending when the window closes; it must hold for_s inside a window', () => {
    const h = new Harness(
      [
        {
          id: 'porte-22-6',
          kind: 'threshold',
          scope: { quantities: ['door_open'] },
          above: 0.5,
          for_s: 600,
          when: { from: '22:00', to: '06:00' },
        },
      ],
      paris('2026-01-13', '05:55'),
    );
    h.feed('armoire/porte', true);
    h.advanceTo(paris('2026-01-13', '21:59'));
    expect(h.changes).toEqual([]);
    h.advanceTo(paris('2026-01-13', '22:15'));
    expect(h.changes.map((c) => [c.change, c.alert.raisedAt])).toEqual([
      ['raised', paris('2026-01-13', '22:10')],
    ]);
  });

  it('gates a device unreachable to the weekend: down on Friday, raised on Saturday at 00:00 plus for_s', () => {
    const h = new Harness(
      [{ id: 'injoignable-we', kind: 'device-unreachable', for_s: 120, when: { weekdays: ['sat', 'sun'] } }],
      paris('2026-01-16', '20:00'),
    );
    h.engine.observeDevice('gw', 'down', h.clock.now());
    h.advanceTo(paris('2026-01-16', '23:59'));
    expect(h.changes).toEqual([]);
    h.advanceTo(paris('2026-01-17', '00:05'));
    expect(h.changes.map((c) => [c.change, c.alert.source, c.alert.raisedAt])).toEqual([
      ['raised', 'gw', paris('2026-01-17', '00:02')],
    ]);
    h.advanceTo(paris('2026-01-19', '10:00'));
    h.engine.observeDevice('gw', 'up', h.clock.now()); // Monday: clears all the same
    expect(h.kinds()).toEqual(['raised:gw', 'cleared:gw']);
  });

  it('gates a lamp failure seen outside the window until the window opens', () => {
    const fault: LuminaireFaultChanged = {
      at: paris('2026-01-12', '12:00'),
      luminaire: 'rue-002',
      zone: 'rue',
      commune: 'metz',
      device: 'sc',
      channel: 2,
      kind: 'lamp-failure',
      state: 'raised',
      commanded: 100,
      inEffect: 100,
      powerW: 0,
      lampStatus: 1,
    };
    const h = new Harness(
      [{ id: 'panne-soir', kind: 'lamp-failure', for_s: 0, when: { from: '18:00', to: '23:00' } }],
      fault.at,
    );
    h.engine.observeFault(fault);
    h.advanceTo(paris('2026-01-12', '17:59'));
    expect(h.changes).toEqual([]);
    h.advanceTo(paris('2026-01-12', '18:01'));
    expect(h.changes.map((c) => [c.change, c.alert.source, c.alert.raisedAt])).toEqual([
      ['raised', 'rue-002', paris('2026-01-12', '18:00')],
    ]);
  });

  it('gates a kind evaluated on every tick (stale) to the window', () => {
    const h = new Harness(
      [
        {
          id: 'muet-journee',
          kind: 'stale',
          scope: { points: ['ecole/debit'] },
          after_s: 600,
          when: { from: '08:00', to: '18:00' },
        },
      ],
      paris('2026-01-12', '19:00'),
    );
    h.advanceTo(paris('2026-01-13', '07:59'));
    expect(h.changes).toEqual([]);
    h.advanceTo(paris('2026-01-13', '08:01'));
    expect(h.changes.map((c) => [c.change, c.alert.source, c.alert.raisedAt])).toEqual([
      ['raised', 'ecole/debit', paris('2026-01-13', '08:00')],
    ]);
  });

  it('computes the sun at the building’s own location when it has one', () => {
    // The river station lies at Brest: its sun sets about 40 minutes after the site's (Metz).
    const h = new Harness(
      [
        {
          id: 'niveau-nuit',
          kind: 'threshold',
          scope: { points: ['pont/niveau'] },
          above: 1,
          when: { from: { sun: 'dusk' }, to: { sun: 'dawn' } },
        },
      ],
      paris('2026-01-12', '15:00'),
    );
    h.feed('pont/niveau', 2);
    h.advanceTo(sunsetOf(2026, 1, 12) + 20 * MINUTE);
    expect(h.changes).toEqual([]);
    h.advanceTo(sunsetOf(2026, 1, 12) + 60 * MINUTE);
    expect(h.kinds()).toEqual(['raised:pont/niveau']);
  });

  it('computes the sun at the zone’s location for zone and luminaire kinds', () => {
    const BREST = { lat: 48.39, lon: -4.49 };
    const fault: LuminaireFaultChanged = {
      at: paris('2026-01-12', '15:00'),
      luminaire: 'rue-001',
      zone: 'rue',
      commune: 'metz',
      device: 'sc',
      channel: 1,
      kind: 'lamp-failure',
      state: 'raised',
      commanded: 100,
      inEffect: 100,
      powerW: 0,
      lampStatus: 1,
    };
    const dark = { from: { sun: 'dusk' as const }, to: { sun: 'dawn' as const } };
    const h = new Harness(
      [
        { id: 'panne-nuit', kind: 'lamp-failure', for_s: 0, when: dark },
        { id: 'niveaux-nuit', kind: 'level-mismatch', for_s: 0, when: dark },
      ],
      fault.at,
    );
    h.config.zones[0].location = BREST; // the zone lies where the sun sets about 40 minutes later
    h.engine.observeFault(fault);
    h.engine.observeLighting(report(fault.at, [luminaire('rue-002', { level: 100, inEffect: 0 })]));
    h.advanceTo(sunsetOf(2026, 1, 12) + 20 * MINUTE);
    expect(h.changes).toEqual([]);
    h.advanceTo(sunsetOf(2026, 1, 12) + 60 * MINUTE);
    expect(h.kinds().sort()).toEqual(['raised:rue', 'raised:rue-001']);
  });

  it('raises a rate of change already beyond its limit when the window opens, without a new reading', () => {
    const h = new Harness(
      [
        {
          id: 'montee-nuit',
          kind: 'rate-of-change',
          scope: { points: ['pont/niveau'] },
          per_hour: 0.2,
          over_min: 30,
          when: { from: '22:00', to: '06:00' },
        },
      ],
      paris('2026-01-12', '21:00'),
    );
    h.feed('pont/niveau', 2);
    for (let i = 1; i <= 55; i++) {
      h.advance(MINUTE);
      h.feed('pont/niveau', 2 + i * 0.01); // 0.6 m/h, until 21:55
    }
    expect(h.changes).toEqual([]);
    h.advanceTo(paris('2026-01-12', '22:01'));
    expect(h.changes.map((c) => [c.change, c.alert.raisedAt])).toEqual([
      ['raised', paris('2026-01-12', '22:00')],
    ]);
  });

  it('raises InfluxDB down when the window opens, and nothing for points lost outside it', () => {
    const h = new Harness(
      [{ id: 'stockage-soir', kind: 'telemetry-storage', for_s: 300, when: { from: '18:00', to: '23:00' } }],
      paris('2026-01-12', '12:00'),
    );
    h.engine.observeTelemetry({ type: 'health', health: 'down' }, h.clock.now());
    h.engine.observeTelemetry({ type: 'dropped', points: 10 }, h.clock.now());
    h.advanceTo(paris('2026-01-12', '18:10'));
    expect(h.changes.map((c) => [c.change, c.alert.source, c.alert.raisedAt])).toEqual([
      ['raised', 'influx', paris('2026-01-12', '18:05')],
    ]);
  });
});
