import type {
  LightingCommandEvent,
  LightingDispatchFailed,
} from '../../../controller/lighting/runtime/events';
import { MINUTE, luminaire, paris, report } from '../energy/fixtures';
import { Harness, type Rules } from './harness';

const START = paris('2026-01-12', '21:00');

function command(
  at: number,
  state: LightingCommandEvent['state'],
  over: Partial<LightingCommandEvent> = {},
): LightingCommandEvent {
  return {
    at,
    kind: 'relight',
    id: 'pompiers-1',
    state,
    communes: ['metz'],
    severity: 'critical',
    message: `Emergency relight 'pompiers-1' ${state}`,
    source: 'zone rue',
    actor: 'sdis',
    via: 'mqtt',
    from: 'nocturne/request/relight',
    ...over,
  };
}

function dispatchFailed(at: number, luminaires: string[], over: Partial<LightingDispatchFailed> = {}) {
  return { at, deviceId: 'sc', commune: 'metz', luminaires, error: 'timeout', ...over };
}

const rules: Rules = [{ id: 'commande-non-appliquee', kind: 'lighting-command-failed' }];

/** A relight accepted, two of its luminaires failed by their device, then settled failed. */
function failedRelight(h: Harness): void {
  h.engine.observeCommand(command(h.clock.now(), 'accepted'));
  h.advance(MINUTE);
  h.engine.observeDispatchFailed(dispatchFailed(h.clock.now(), ['rue-001', 'rue-002']));
  h.engine.observeCommand(command(h.clock.now(), 'failed'));
}

describe('lighting-command-failed', () => {
  it('raises per command on a failed settlement, clears once every failed luminaire reads back its level', () => {
    const h = new Harness(rules, START);
    failedRelight(h);
    expect(h.kinds()).toEqual(['raised:relight/pompiers-1']);
    expect(h.changes[0].alert).toMatchObject({
      kind: 'lighting-command-failed',
      severity: 'critical',
      commune: 'metz',
      value: 2,
      message:
        "Rallumage d'urgence 'pompiers-1' (zone rue) : 2 luminaire(s) non confirmé(s) par les équipements (sc : timeout)",
    });
    h.advance(MINUTE);
    h.engine.observeLighting(
      report(h.clock.now(), [
        luminaire('rue-001', { level: 100, inEffect: 100, source: 'emergency' }),
        luminaire('rue-002', { level: 100, inEffect: 0, source: 'emergency' }),
      ]),
    );
    expect(h.open()).toHaveLength(1);
    h.advance(MINUTE);
    h.engine.observeLighting(
      report(h.clock.now(), [luminaire('rue-002', { level: 100, inEffect: 99, source: 'emergency' })]),
    );
    expect(h.kinds()).toEqual(['raised:relight/pompiers-1', 'cleared:relight/pompiers-1']);
  });

  it('clears when the command ends, and when the same command given again is confirmed', () => {
    const h = new Harness(rules, START);
    failedRelight(h);
    h.engine.acknowledge(h.open()[0].id, { user: 'astreinte', communes: ['*'] }, h.clock.now());
    h.advance(10 * MINUTE);
    expect(h.open().map((a) => a.state)).toEqual(['acknowledged']); // taken, not resolved
    h.engine.observeCommand(command(h.clock.now(), 'cleared'));
    expect(h.kinds()).toEqual([
      'raised:relight/pompiers-1',
      'acknowledged:relight/pompiers-1',
      'cleared:relight/pompiers-1',
    ]);

    const again = new Harness(rules, START);
    failedRelight(again);
    again.advance(MINUTE);
    again.engine.observeCommand(command(again.clock.now(), 'accepted')); // replaced
    expect(again.open()).toHaveLength(1);
    again.engine.observeCommand(command(again.clock.now(), 'confirmed'));
    expect(again.kinds()).toEqual(['raised:relight/pompiers-1', 'cleared:relight/pompiers-1']);
  });

  it('counts only the failures since the command was accepted, in its communes', () => {
    const h = new Harness(rules, START);
    h.engine.observeDispatchFailed(dispatchFailed(h.clock.now(), ['rue-003'])); // before the command
    h.advance(MINUTE);
    h.engine.observeCommand(command(h.clock.now(), 'accepted', { kind: 'override', id: 'travaux' }));
    h.advance(MINUTE);
    h.engine.observeDispatchFailed(dispatchFailed(h.clock.now(), ['rue-001']));
    h.engine.observeDispatchFailed(
      dispatchFailed(h.clock.now(), ['w-001'], { deviceId: 'sc-woippy', commune: 'woippy' }),
    );
    h.engine.observeCommand(command(h.clock.now(), 'failed', { kind: 'override', id: 'travaux' }));
    expect(h.changes[0].alert).toMatchObject({
      source: 'override/travaux',
      value: 1,
      message:
        "Forçage 'travaux' (zone rue) : 1 luminaire(s) non confirmé(s) par les équipements (sc : timeout)",
    });
    h.engine.observeLighting(report(h.clock.now(), [luminaire('rue-001')]));
    expect(h.kinds()).toEqual(['raised:override/travaux', 'cleared:override/travaux']);
  });

  it('without known failed luminaires, waits for the end of the command; read-backs do not clear it', () => {
    const h = new Harness(rules, START);
    h.engine.observeCommand(command(h.clock.now(), 'failed', { communes: ['metz', 'woippy'] }));
    expect(h.changes[0].alert).toMatchObject({
      commune: '*',
      message:
        "Rallumage d'urgence 'pompiers-1' (zone rue) : des luminaires n'ont pas confirmé le niveau commandé",
    });
    expect(h.changes[0].alert.value).toBeUndefined();
    h.engine.observeLighting(report(h.clock.now(), [luminaire('rue-001'), luminaire('rue-002')]));
    expect(h.open()).toHaveLength(1);
    h.engine.observeCommand(command(h.clock.now(), 'expired', { communes: ['metz', 'woippy'] }));
    expect(h.open()).toEqual([]);
  });

  it('keeps to its scope: the kinds of command and the communes, territory-wide commands included', () => {
    const h = new Harness(
      [
        {
          id: 'forcages-woippy',
          kind: 'lighting-command-failed',
          scope: { communes: ['woippy'], commands: ['override'] },
        },
      ],
      START,
    );
    h.engine.observeCommand(command(h.clock.now(), 'failed', { kind: 'override', id: 'metz-seul' }));
    h.engine.observeCommand(command(h.clock.now(), 'failed', { communes: ['woippy'] })); // a relight
    h.engine.observeCommand(command(h.clock.now(), 'failed', { kind: 'program', id: 'p' }));
    expect(h.changes).toEqual([]);
    h.engine.observeCommand(
      command(h.clock.now(), 'failed', { kind: 'override', id: 'partout', communes: ['*'] }),
    );
    expect(h.kinds()).toEqual(['raised:override/partout']);
    expect(h.changes[0].alert.commune).toBe('*');
  });

  it('raises a failure settled outside its window once the window opens, if still not covered', () => {
    const h = new Harness(
      [{ id: 'nuit', kind: 'lighting-command-failed', when: { from: '22:00', to: '06:00' } }],
      START,
    );
    failedRelight(h);
    expect(h.changes).toEqual([]);
    h.advanceTo(paris('2026-01-12', '22:00') + 10_000);
    expect(h.changes.map((c) => [c.change, c.alert.source, c.alert.value])).toEqual([
      ['raised', 'relight/pompiers-1', 2],
    ]);
  });
});
