import { DriverError, type Health } from '../../../drivers/driver';
import {
  INITIAL_LINK_STATE,
  isUsable,
  nextLinkState,
  type LinkEvent,
  type LinkState,
} from '../../../drivers/opcua/linkState';

const WHERE = "device 'bms' (opc.tcp://127.0.0.1:4840)";
const unreachable = new DriverError('disconnected', 'unreachable');
const refusedCredentials = new DriverError('security', 'BadUserAccessDenied');

/** Runs events from `state` and lists what the driver would emit. */
function run(
  events: LinkEvent[],
  state: LinkState = INITIAL_LINK_STATE,
): { state: LinkState; emitted: string[] } {
  const emitted: string[] = [];
  for (const event of events) {
    const transition = nextLinkState(state, event, WHERE);
    state = transition.state;
    if (transition.healthChanged) {
      const { health, error } = transition.healthChanged;
      emitted.push(error ? `health ${health} (${error.code})` : `health ${health}`);
    }
    if (transition.connected) emitted.push(`connected reconnect=${transition.connected.reconnect}`);
  }
  return { state, emitted };
}

describe('OPC UA link state', () => {
  it('reports an absent server once, then the first connection', () => {
    const { state, emitted } = run([
      { type: 'opening' },
      { type: 'attemptFailed', error: unreachable },
      { type: 'attemptFailed', error: unreachable },
      { type: 'sessionReady' },
    ]);
    expect(emitted).toEqual(['health down (disconnected)', 'health up', 'connected reconnect=false']);
    expect(isUsable(state)).toBe(true);
  });

  it('goes degraded on a lost connection, down while attempts fail, up again with reconnect=true', () => {
    const connected = run([{ type: 'sessionReady' }]).state;
    const lost = run([{ type: 'connectionLost' }], connected);
    expect(lost.emitted).toEqual(['health degraded (disconnected)']);
    expect(isUsable(lost.state)).toBe(false);
    const { emitted } = run(
      [
        { type: 'attemptFailed', error: unreachable },
        { type: 'channelRestored' },
        { type: 'connectionReestablished' },
      ],
      lost.state,
    );
    expect(emitted).toEqual([
      'health down (disconnected)',
      'health degraded (disconnected)',
      'health up',
      'connected reconnect=true',
    ]);
  });

  it('reports a change of cause even when health stays down', () => {
    const { state, emitted } = run([
      { type: 'attemptFailed', error: unreachable },
      { type: 'refused', error: refusedCredentials },
    ]);
    expect(emitted).toEqual(['health down (disconnected)', 'health down (security)']);
    expect(state.phase).toBe('refused');
    // a fresh client after the refusal: its first session is not a reconnection
    expect(run([{ type: 'opening' }, { type: 'sessionReady' }], state).emitted).toEqual([
      'health up',
      'connected reconnect=false',
    ]);
  });

  it('is degraded while keep-alive reads fail, and usable all the while', () => {
    const connected = run([{ type: 'sessionReady' }]).state;
    const { state, emitted } = run(
      [{ type: 'keepAliveFailed' }, { type: 'keepAliveFailed' }, { type: 'keepAliveSucceeded' }],
      connected,
    );
    expect(emitted).toEqual(['health degraded (timeout)', 'health up']);
    expect(isUsable(state)).toBe(true);
  });

  it('ignores keep-alive news while reconnecting', () => {
    const reconnecting = run([{ type: 'sessionReady' }, { type: 'connectionLost' }]).state;
    expect(run([{ type: 'keepAliveSucceeded' }], reconnecting).emitted).toEqual([]);
  });

  it('goes down on a session closed by the server', () => {
    const connected = run([{ type: 'sessionReady' }]).state;
    const closed = new DriverError('disconnected', 'the server closed the session');
    const { state, emitted } = run([{ type: 'sessionClosed', error: closed }], connected);
    expect(emitted).toEqual(['health down (disconnected)']);
    expect(isUsable(state)).toBe(false);
  });

  it('is down once stopped, and deaf to late library events', () => {
    const connected = run([{ type: 'sessionReady' }]).state;
    const stopped = run([{ type: 'stopped' }], connected);
    expect(stopped.emitted).toEqual(['health down (stopped)']);
    const late = run(
      [{ type: 'connectionLost' }, { type: 'connectionReestablished' }, { type: 'stopped' }],
      stopped.state,
    );
    expect(late.emitted).toEqual([]);
    expect(late.state.health satisfies Health).toBe('down');
  });
});
