import { AlertError, type AlertView } from '../../../controller/telemetry/services';
import { alertId } from '../../../controller/telemetry/alerts/engine';
import type { LuminaireFaultChanged } from '../../../controller/lighting/runtime/events';
import { AlertHarness as Harness, type Rules } from '../alerts/harness';
import { HOUR, MINUTE, luminaire, paris, report } from './fixtures';

describe('threshold', () => {
  const rules: Rules = [
    {
      id: 'debit-fort',
      kind: 'threshold',
      scope: { points: ['ecole/debit'] },
      above: 3.5,
      hysteresis: 0.2,
      for_s: 300,
    },
  ];

  it('raises after the value stays above for for_s, holds within the hysteresis, clears below it', () => {
    const h = new Harness(rules, paris('2026-01-12', '10:00'));
    h.feed('ecole/debit', 4);
    h.advance(4 * MINUTE);
    expect(h.changes).toEqual([]);
    h.advance(MINUTE);
    expect(h.kinds()).toEqual(['raised:ecole/debit']);
    const raised = h.changes[0].alert;
    expect(raised).toMatchObject({
      rule: 'debit-fort',
      kind: 'threshold',
      severity: 'warning',
      commune: 'metz',
      value: 4,
      unit: 'm³/h',
      state: 'raised',
    });
    expect(raised.raisedAt).toBe(paris('2026-01-12', '10:05'));
    expect(raised.message).toBe('Débit d’eau (École Jules Ferry) : 4 m³/h, au-dessus du seuil de 3,5 m³/h');
    // The text as a code and its parameters, for a reader in another language.
    expect(raised).toMatchObject({
      code: 'threshold-above',
      params: { name: 'Débit d’eau', place: 'École Jules Ferry', value: 4, unit: 'm³/h', threshold: 3.5 },
    });

    h.feed('ecole/debit', 3.4); // inside the hysteresis band: still open
    h.advance(MINUTE);
    expect(h.open()).toHaveLength(1);
    h.feed('ecole/debit', 3.2);
    expect(h.kinds()).toEqual(['raised:ecole/debit', 'cleared:ecole/debit']);
    expect(h.changes[1].alert).toMatchObject({ id: raised.id, state: 'cleared', clearedAt: h.clock.now() });
  });

  it('keeps one open alert per source however often the condition repeats, and a new id after a clear', () => {
    const h = new Harness(rules, paris('2026-01-12', '10:00'));
    h.feed('ecole/debit', 5);
    h.advance(6 * MINUTE);
    for (let i = 0; i < 5; i++) {
      h.feed('ecole/debit', 6 + i);
      h.advance(MINUTE);
    }
    expect(h.kinds()).toEqual(['raised:ecole/debit']);
    h.feed('ecole/debit', 1);
    h.feed('ecole/debit', 5);
    h.advance(5 * MINUTE);
    expect(h.kinds()).toEqual(['raised:ecole/debit', 'cleared:ecole/debit', 'raised:ecole/debit']);
    expect(h.changes[2].alert.id).not.toBe(h.changes[0].alert.id);
  });

  it('forgets a condition that did not last for_s', () => {
    const h = new Harness(rules, paris('2026-01-12', '10:00'));
    h.feed('ecole/debit', 4);
    h.advance(4 * MINUTE);
    h.feed('ecole/debit', 3.45);
    h.advance(2 * MINUTE);
    h.feed('ecole/debit', 4);
    h.advance(4 * MINUTE);
    expect(h.changes).toEqual([]);
  });

  it('watches a band (below and above), and a meter by its rate per hour', () => {
    const h = new Harness(
      [
        { id: 'bande', kind: 'threshold', scope: { points: ['ecole/temperature'] }, below: 16, above: 26 },
        { id: 'conso-eau', kind: 'threshold', scope: { quantities: ['water'] }, above: 1 },
      ],
      paris('2026-01-12', '10:00'),
    );
    h.feed('ecole/temperature', 15);
    expect(h.changes[0].alert.message).toContain('en dessous du seuil de 16 °C');
    h.feed('ecole/temperature', 20);
    h.feed('ecole/eau', 100);
    h.advance(HOUR);
    h.feed('ecole/eau', 102); // 2 m³/h
    expect(h.kinds()).toEqual(['raised:ecole/temperature', 'cleared:ecole/temperature', 'raised:ecole/eau']);
    expect(h.changes[2].alert).toMatchObject({ value: 2, unit: 'm³/h' });
  });

  it('ignores bad values: they neither raise nor clear', () => {
    const h = new Harness(
      rules.map((r) => ({ ...r, for_s: 0 })),
      paris('2026-01-12', '10:00'),
    );
    h.feed('ecole/debit', 4);
    h.feed('ecole/debit', null);
    h.advance(MINUTE);
    expect(h.kinds()).toEqual(['raised:ecole/debit']);
  });

  it('fills the rule’s message template', () => {
    const h = new Harness(
      [
        {
          id: 'porte',
          kind: 'threshold',
          scope: { quantities: ['door_open'] },
          above: 0.5,
          message: 'Porte ouverte : {building} ({commune}, {value})',
        },
      ],
      paris('2026-01-12', '10:00'),
    );
    h.feed('armoire/porte', true);
    expect(h.changes[0].alert).toMatchObject({
      commune: 'woippy',
      message: 'Porte ouverte : armoire (woippy, 1)',
    });
  });
});

describe('night-flow', () => {
  const rules: Rules = [{ id: 'fuite', kind: 'night-flow', above: 0.05, for_s: 1800 }];

  it('raises when water flows all through the night window, stays open by day, clears when the flow stops', () => {
    const h = new Harness(rules, paris('2026-01-14', '00:30'));
    h.feed('ecole/debit', 0.12);
    h.advance(30 * MINUTE); // 01:00: the window opens
    expect(h.changes).toEqual([]);
    h.advance(29 * MINUTE);
    expect(h.changes).toEqual([]);
    h.advance(MINUTE + 10_000);
    expect(h.kinds()).toEqual(['raised:ecole/debit']);
    expect(h.changes[0].alert.message).toBe(
      'Débit nocturne de 0,12 m³/h à École Jules Ferry (Débit d’eau) entre 01:00 et 05:00 : fuite probable',
    );
    h.advance(6 * HOUR);
    h.feed('ecole/debit', 1.5); // daytime use
    expect(h.open()).toHaveLength(1);
    h.feed('ecole/debit', 0);
    expect(h.kinds()).toEqual(['raised:ecole/debit', 'cleared:ecole/debit']);
  });

  it('says nothing of the same flow outside the window or of a flow below the threshold', () => {
    const h = new Harness(rules, paris('2026-01-14', '06:00'));
    h.feed('ecole/debit', 0.12);
    h.advance(17 * HOUR); // until 23:00
    expect(h.changes).toEqual([]);
    h.feed('ecole/debit', 0.04);
    h.advance(6 * HOUR);
    expect(h.changes).toEqual([]);
  });

  it('reads a water meter by its rate, and a window crossing midnight', () => {
    const h = new Harness(
      [
        {
          id: 'fuite-compteur',
          kind: 'night-flow',
          scope: { quantities: ['water'] },
          from: '23:00',
          to: '02:00',
          above: 0.05,
          for_s: 0,
        },
      ],
      paris('2026-01-14', '23:30'),
    );
    h.feed('ecole/eau', 10);
    h.advance(HOUR);
    h.feed('ecole/eau', 10.1); // 0.1 m³/h at 00:30
    expect(h.kinds()).toEqual(['raised:ecole/eau']);
    expect(h.changes[0].alert.value).toBeCloseTo(0.1, 9);
  });
});

describe('outside-opening-hours', () => {
  const rules: Rules = [{ id: 'lumieres', kind: 'outside-opening-hours', grace_min: 30, for_s: 900 }];

  it('raises for lights on in a closed building and clears when the building opens', () => {
    const h = new Harness(rules, paris('2026-01-12', '16:00'));
    h.feed('ecole/lumiere', true);
    h.advance(2 * HOUR); // closes at 17:30, +30 min of grace: closed from 18:00
    expect(h.changes).toEqual([]);
    h.advance(15 * MINUTE);
    expect(h.kinds()).toEqual(['raised:ecole/lumiere']);
    expect(h.changes[0].alert.raisedAt).toBe(paris('2026-01-12', '18:15'));
    expect(h.changes[0].alert.message).toBe(
      "Éclairage intérieur : allumé hors des heures d'ouverture de École Jules Ferry",
    );
    h.advance(13 * HOUR); // 07:15: inside tomorrow's grace
    expect(h.kinds()).toEqual(['raised:ecole/lumiere']);
    h.advance(15 * MINUTE);
    expect(h.kinds()).toEqual(['raised:ecole/lumiere', 'cleared:ecole/lumiere']);
  });

  it('clears when the lights go off, and watches heating with a setback temperature', () => {
    const h = new Harness(
      [
        ...rules,
        {
          id: 'chauffage',
          kind: 'outside-opening-hours',
          scope: { quantities: ['temperature'] },
          above: 17,
          hysteresis: 0.5,
          grace_min: 120,
          for_s: 0,
        },
      ],
      paris('2026-01-17', '10:00'), // Saturday
    );
    h.feed('ecole/lumiere', true);
    h.feed('ecole/temperature', 19.5);
    h.advance(15 * MINUTE);
    expect(h.kinds().sort()).toEqual(['raised:ecole/lumiere', 'raised:ecole/temperature']);
    h.feed('ecole/lumiere', false);
    h.feed('ecole/temperature', 16.8); // within the hysteresis
    expect(h.kinds()).toContain('cleared:ecole/lumiere');
    expect(h.kinds()).not.toContain('cleared:ecole/temperature');
    h.feed('ecole/temperature', 16.4);
    expect(h.kinds()).toContain('cleared:ecole/temperature');
  });
});

describe('stale', () => {
  it('raises for a polled point without a good value for its periods, clears on the next good value', () => {
    const h = new Harness(
      [{ id: 'muet', kind: 'stale', scope: { points: ['ecole/debit'] } }],
      paris('2026-01-12', '10:00'),
    );
    h.feed('ecole/debit', 0.5);
    h.advance(3 * MINUTE); // 3 periods of 60 s: not yet beyond
    expect(h.changes).toEqual([]);
    h.feed('ecole/debit', null); // a bad value does not count
    h.advance(10_000);
    expect(h.kinds()).toEqual(['raised:ecole/debit']);
    expect(h.changes[0].alert.message).toBe(
      'Débit d’eau (École Jules Ferry) : aucune valeur valide depuis 3 min',
    );
    h.feed('ecole/debit', 0.4);
    expect(h.kinds()).toEqual(['raised:ecole/debit', 'cleared:ecole/debit']);
  });

  it('keeps a point reported by exception (OPC UA) fresh while its device is up, stale once it has been down long enough', () => {
    const h = new Harness(
      [{ id: 'muet', kind: 'stale', scope: { points: ['ecole/temperature'] }, after_s: 600 }],
      paris('2026-01-12', '10:00'),
    );
    h.feed('ecole/temperature', 19);
    h.advance(3 * HOUR);
    expect(h.changes).toEqual([]);
    h.downSince.set('bms', h.clock.now());
    h.advance(10 * MINUTE);
    expect(h.changes).toEqual([]);
    h.advance(20_000);
    expect(h.kinds()).toEqual(['raised:ecole/temperature']);
    h.downSince.delete('bms');
    h.advance(10_000);
    expect(h.kinds()).toEqual(['raised:ecole/temperature', 'cleared:ecole/temperature']);
  });
});

describe('lamp-by-day', () => {
  const rules: Rules = [{ id: 'jour', kind: 'lamp-by-day', for_s: 1800 }];

  it('raises one alert per zone for luminaires burning in daylight, clears when they go off', () => {
    const h = new Harness(rules, paris('2026-01-12', '11:00'));
    h.engine.observeLighting(
      report(h.clock.now(), [
        luminaire('rue-001'),
        luminaire('rue-002'),
        luminaire('rue-003', { output: 0, inEffect: 0, level: 0, powerW: 0 }),
      ]),
    );
    h.advance(29 * MINUTE);
    expect(h.changes).toEqual([]);
    h.advance(MINUTE);
    expect(h.kinds()).toEqual(['raised:rue']);
    expect(h.changes[0].alert).toMatchObject({ value: 2, commune: 'metz' });
    expect(h.changes[0].alert.message).toBe(
      '2 luminaire(s) allumé(s) en plein jour dans Rue Serpenoise (rue-001, rue-002)',
    );
    h.engine.observeLighting(
      report(h.clock.now(), [luminaire('rue-001', { output: 0, level: 0, inEffect: 0, powerW: 0 })]),
    );
    expect(h.kinds()).toEqual(['raised:rue']);
    h.engine.observeLighting(
      report(h.clock.now(), [luminaire('rue-002', { output: 0, level: 0, inEffect: 0, powerW: 0.4 })]),
    );
    expect(h.kinds()).toEqual(['raised:rue', 'cleared:rue']);
  });

  it('says nothing at night, nor of a relight or an override, but sees power drawn at output 0', () => {
    const night = new Harness(rules, paris('2026-01-12', '20:00'));
    night.engine.observeLighting(report(night.clock.now(), [luminaire('rue-001')]));
    night.advance(2 * HOUR);
    expect(night.changes).toEqual([]);

    const day = new Harness(rules, paris('2026-01-12', '11:00'));
    day.engine.observeLighting(
      report(day.clock.now(), [
        luminaire('rue-001', { source: 'emergency', priority: 1 }),
        luminaire('rue-002', { source: 'override', priority: 8 }),
        luminaire('rue-003', { level: 0, inEffect: 0, output: 0, powerW: 58 }),
      ]),
    );
    day.advance(HOUR);
    expect(day.changes.map((c) => c.alert.value)).toEqual([1]);
  });

  it('clears at dusk: burning is then expected', () => {
    const h = new Harness(rules, paris('2026-01-12', '15:00'));
    h.engine.observeLighting(report(h.clock.now(), [luminaire('rue-001')]));
    h.advance(HOUR);
    expect(h.kinds()).toEqual(['raised:rue']);
    h.advance(2 * HOUR); // 18:00, long after sunset in January
    expect(h.kinds()).toEqual(['raised:rue', 'cleared:rue']);
  });
});

describe('level-mismatch', () => {
  it('raises per zone for a luminaire whose commanded, in-effect and output levels disagree too long', () => {
    const h = new Harness(
      [{ id: 'desaccord', kind: 'level-mismatch', tolerance: 2, for_s: 600 }],
      paris('2026-01-12', '20:00'),
    );
    h.engine.observeLighting(
      report(h.clock.now(), [
        luminaire('rue-001', { level: 40, inEffect: 100, output: 100 }),
        luminaire('rue-002', { level: 40, inEffect: 41, output: 41 }), // within the tolerance
        luminaire('rue-003', { level: 40, inEffect: 40, output: 100 }),
      ]),
    );
    h.advance(9 * MINUTE);
    expect(h.changes).toEqual([]);
    h.advance(MINUTE);
    expect(h.kinds()).toEqual(['raised:rue']);
    expect(h.changes[0].alert.value).toBe(2);
    h.engine.observeLighting(
      report(h.clock.now(), [luminaire('rue-001', { level: 40, inEffect: 40, output: 40 })]),
    );
    expect(h.kinds()).toEqual(['raised:rue']);
    h.engine.observeLighting(
      report(h.clock.now(), [luminaire('rue-003', { level: 40, inEffect: 40, output: 40 })]),
    );
    expect(h.kinds()).toEqual(['raised:rue', 'cleared:rue']);
  });
});

describe('lamp-failure', () => {
  const fault = (
    at: number,
    kind: LuminaireFaultChanged['kind'],
    state: 'raised' | 'cleared',
  ): LuminaireFaultChanged => ({
    at,
    luminaire: 'rue-002',
    zone: 'rue',
    commune: 'metz',
    device: 'sc',
    channel: 2,
    kind,
    state,
    commanded: 100,
    inEffect: 100,
    powerW: 0,
    lampStatus: kind === 'lamp-failure' ? 1 : 0,
  });

  it('raises per luminaire for a fault lasting for_s, clears when every fault is gone', () => {
    const h = new Harness([{ id: 'panne', kind: 'lamp-failure', for_s: 60 }], paris('2026-01-12', '20:00'));
    h.engine.observeFault(fault(h.clock.now(), 'lamp-failure', 'raised'));
    h.engine.observeFault(fault(h.clock.now(), 'no-power', 'raised'));
    h.advance(MINUTE);
    expect(h.kinds()).toEqual(['raised:rue-002']);
    expect(h.changes[0].alert.message).toBe(
      'Luminaire rue-002 (Rue Serpenoise) : lampe en panne, commandé allumé, aucune puissance mesurée',
    );
    h.engine.observeFault(fault(h.clock.now(), 'lamp-failure', 'cleared'));
    expect(h.open()).toHaveLength(1);
    h.engine.observeFault(fault(h.clock.now(), 'no-power', 'cleared'));
    expect(h.kinds()).toEqual(['raised:rue-002', 'cleared:rue-002']);
  });

  it('ignores faults the rule does not list and luminaires out of scope', () => {
    const h = new Harness(
      [
        {
          id: 'panne',
          kind: 'lamp-failure',
          faults: ['driver-failure'],
          scope: { luminaires: ['rue-002'] },
          for_s: 0,
        },
      ],
      paris('2026-01-12', '20:00'),
    );
    h.engine.observeFault(fault(h.clock.now(), 'lamp-failure', 'raised'));
    h.engine.observeFault({ ...fault(h.clock.now(), 'driver-failure', 'raised'), luminaire: 'rue-001' });
    expect(h.changes).toEqual([]);
    h.engine.observeFault(fault(h.clock.now(), 'driver-failure', 'raised'));
    expect(h.kinds()).toEqual(['raised:rue-002']);
  });
});

describe('lamp-cycling', () => {
  it('raises for a lamp going on and off under a steady command, clears after a quiet window', () => {
    const h = new Harness(
      [{ id: 'clignote', kind: 'lamp-cycling', transitions: 4, window_s: 600 }],
      paris('2026-01-12', '20:00'),
    );
    const states = [100, 0, 100, 0, 100];
    for (const output of states) {
      h.engine.observeLighting(
        report(h.clock.now(), [luminaire('rue-001', { output, powerW: output === 0 ? 0 : 60 })]),
      );
      h.advance(MINUTE);
    }
    expect(h.kinds()).toEqual(['raised:rue-001']);
    expect(h.changes[0].alert.value).toBe(4);
    h.advance(9 * MINUTE);
    expect(h.kinds()).toEqual(['raised:rue-001']);
    h.advance(2 * MINUTE);
    expect(h.kinds()).toEqual(['raised:rue-001', 'cleared:rue-001']);
  });

  it('does not count changes that follow a change of command', () => {
    const h = new Harness(
      [{ id: 'clignote', kind: 'lamp-cycling', transitions: 2, window_s: 600 }],
      paris('2026-01-12', '20:00'),
    );
    for (const level of [100, 0, 100, 0]) {
      h.engine.observeLighting(
        report(h.clock.now(), [
          luminaire('rue-001', { level, inEffect: level, output: level, powerW: level ? 60 : 0 }),
        ]),
      );
      h.advance(MINUTE);
    }
    expect(h.changes).toEqual([]);
  });
});

describe('device-unreachable', () => {
  it('raises when a device stays down for for_s, not when degraded, and clears when it answers', () => {
    const h = new Harness(
      [{ id: 'injoignable', kind: 'device-unreachable', for_s: 60 }],
      paris('2026-01-12', '20:00'),
    );
    h.engine.observeDevice('sc', 'degraded', h.clock.now());
    h.advance(5 * MINUTE);
    expect(h.changes).toEqual([]);
    h.engine.observeDevice('sc', 'down', h.clock.now());
    h.advance(50_000);
    h.engine.observeDevice('sc', 'up', h.clock.now());
    h.engine.observeDevice('sc', 'down', h.clock.now());
    h.advance(MINUTE);
    expect(h.kinds()).toEqual(['raised:sc']);
    expect(h.changes[0].alert).toMatchObject({ severity: 'critical', commune: 'metz' });
    h.engine.observeDevice('sc', 'degraded', h.clock.now());
    expect(h.kinds()).toEqual(['raised:sc', 'cleared:sc']);
  });

  it('names the commune a device serves, or * for one serving several', () => {
    const h = new Harness(
      [{ id: 'injoignable', kind: 'device-unreachable', scope: { devices: ['gw'] }, for_s: 0 }],
      paris('2026-01-12', '20:00'),
    );
    h.engine.observeDevice('sc', 'down', h.clock.now());
    h.engine.observeDevice('gw', 'down', h.clock.now());
    expect(h.changes.map((c) => [c.alert.source, c.alert.commune])).toEqual([['gw', '*']]);
  });
});

describe('telemetry-storage', () => {
  const rules: Rules = [{ id: 'stockage', kind: 'telemetry-storage', for_s: 300, quiet_s: 3600 }];

  it('raises when InfluxDB stays down, clears when it is back', () => {
    const h = new Harness(rules, paris('2026-01-12', '20:00'));
    h.engine.observeTelemetry({ type: 'health', health: 'down' }, h.clock.now());
    h.advance(5 * MINUTE);
    expect(h.kinds()).toEqual(['raised:influx']);
    h.engine.observeTelemetry({ type: 'health', health: 'degraded' }, h.clock.now());
    expect(h.kinds()).toEqual(['raised:influx', 'cleared:influx']);
  });

  it('says nothing of InfluxDB when none is configured', () => {
    const h = new Harness(rules, paris('2026-01-12', '20:00'), { influx: false });
    h.engine.observeTelemetry({ type: 'health', health: 'down' }, h.clock.now());
    h.advance(HOUR);
    expect(h.changes).toEqual([]);
  });

  it('raises at once for dropped points, counts further drops in the same alert, clears after a quiet hour', () => {
    const h = new Harness(rules, paris('2026-01-12', '20:00'));
    h.engine.observeTelemetry({ type: 'dropped', points: 1200 }, h.clock.now());
    expect(h.kinds()).toEqual(['raised:spool']);
    expect(h.changes[0].alert.message).toBe(
      '1\u202f200 mesures perdues : spool plein (augmenter influx.spool_max_mb ou rétablir InfluxDB)',
    );
    h.advance(30 * MINUTE);
    h.engine.observeTelemetry({ type: 'dropped', points: 300 }, h.clock.now());
    h.engine.observeTelemetry({ type: 'quarantined', points: 2 }, h.clock.now());
    expect(h.open().map((a) => [a.source, a.value])).toEqual([
      ['quarantine', 2],
      ['spool', 1500],
    ]);
    h.advance(HOUR);
    expect(h.kinds()).toEqual(['raised:spool', 'raised:quarantine', 'cleared:spool', 'cleared:quarantine']);
  });
});

describe('lifecycle', () => {
  const rules: Rules = [{ id: 'porte', kind: 'threshold', scope: { quantities: ['door_open'] }, above: 0.5 }];
  const metz = { user: 'energie-metz', communes: ['metz'] };
  const woippy = { user: 'elu-woippy', communes: ['woippy'] };

  it('acknowledges an open alert once, for someone who may see it, and refuses a cleared one', () => {
    const h = new Harness(rules, paris('2026-01-12', '20:00'));
    h.feed('armoire/porte', true);
    const id = h.changes[0].alert.id;
    expect(() => h.engine.acknowledge(id, metz, h.clock.now())).toThrow(AlertError);
    expect(() => h.engine.acknowledge('nope', woippy, h.clock.now())).toThrow("no alert 'nope'");
    h.advance(MINUTE);
    const acknowledged = h.engine.acknowledge(id, woippy, h.clock.now());
    expect(acknowledged).toMatchObject({
      state: 'acknowledged',
      acknowledgedBy: 'elu-woippy',
      acknowledgedAt: h.clock.now(),
    });
    h.engine.acknowledge(id, { user: 'admin', communes: ['*'] }, h.clock.now() + 1);
    expect(h.kinds()).toEqual(['raised:armoire/porte', 'acknowledged:armoire/porte']);
    h.feed('armoire/porte', false);
    expect(h.changes[2].alert).toMatchObject({ state: 'cleared', acknowledgedBy: 'elu-woippy' });
    try {
      h.engine.acknowledge(id, woippy, h.clock.now());
      throw new Error('acknowledged a cleared alert');
    } catch (error) {
      expect(error).toMatchObject({ code: 'conflict' });
    }
  });

  it('lists open alerts, and recently cleared ones on request, for as long as keep_cleared_h', () => {
    const h = new Harness(rules, paris('2026-01-12', '20:00'));
    h.feed('armoire/porte', true);
    h.feed('armoire/porte', false);
    h.feed('armoire/porte', true);
    expect(h.engine.list(h.clock.now(), false).map((a) => a.state)).toEqual(['raised']);
    expect(h.engine.list(h.clock.now(), true).map((a) => a.state)).toEqual(['raised', 'cleared']);
    h.advance(25 * HOUR);
    expect(h.engine.list(h.clock.now(), true).map((a) => a.state)).toEqual(['raised']);
  });

  it('restores open alerts without raising them again, and closes those whose rule is gone', () => {
    const first = new Harness(rules, paris('2026-01-12', '20:00'));
    first.feed('armoire/porte', true);
    const saved = first.engine.snapshot(first.clock.now());
    const orphan: AlertView = { ...saved[0], id: 'old-1', rule: 'ancienne-regle', source: 'x' };

    const second = new Harness(rules, paris('2026-01-12', '21:00'));
    second.engine.restore([...saved, orphan], second.clock.now());
    expect(second.kinds()).toEqual(['cleared:x']);
    second.feed('armoire/porte', true);
    second.advance(MINUTE);
    expect(second.kinds()).toEqual(['cleared:x']);
    expect(second.open().map((a) => a.id)).toEqual([saved[0].id]);
    second.feed('armoire/porte', false);
    expect(second.kinds()).toEqual(['cleared:x', 'cleared:armoire/porte']);
    expect(second.changes[1].alert.id).toBe(saved[0].id);
  });

  it('makes ids fit for MQTT topics and URLs', () => {
    expect(alertId('fuite', 'metz-ecole/eau', Date.UTC(2026, 0, 12))).toMatch(
      /^fuite-[0-9a-f]{8}-[0-9a-z]+$/,
    );
  });

  it('leaves disabled rules out', () => {
    const h = new Harness([{ ...rules[0], enabled: false }], paris('2026-01-12', '20:00'));
    expect(h.point('armoire/porte').watched).toBe(false);
  });
});
