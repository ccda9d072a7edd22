import { DriverError, type DriverErrorCode, type Health } from '../driver';

/**
 * What the OPC UA link is doing, as node-opcua reports it, reduced to the Driver's health and
 * `connected` events. Pure: the driver feeds it the library's events and emits what comes out.
 */

export type LinkEvent =
  /** A new client begins connecting: at start, and after a refusal when the driver tries again. */
  | { type: 'opening' }
  /** A connection attempt failed and node-opcua will try again ('backoff', 'reconnection_attempt_has_failed'). */
  | { type: 'attemptFailed'; error: DriverError }
  /** The server refused the connection or the session (certificate, credentials): node-opcua gives up. */
  | { type: 'refused'; error: DriverError }
  /** A new session is created and activated. */
  | { type: 'sessionReady' }
  /** The secure channel broke; node-opcua reconnects ('connection_lost'). */
  | { type: 'connectionLost' }
  /** The secure channel is back; the session is being repaired ('after_reconnection'). */
  | { type: 'channelRestored' }
  /** Session, subscriptions and monitored items are repaired ('connection_reestablished'). */
  | { type: 'connectionReestablished' }
  /** The session keep-alive read failed ('keepalive_failure'). */
  | { type: 'keepAliveFailed' }
  /** The session keep-alive read succeeded ('keepalive'). */
  | { type: 'keepAliveSucceeded' }
  /** The server closed the session ('session_closed' we did not ask for). */
  | { type: 'sessionClosed'; error: DriverError }
  /** stop() was called. */
  | { type: 'stopped' };

export type LinkPhase = 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'stopped';

export interface LinkState {
  phase: LinkPhase;
  health: Health;
  /** Why health is not 'up': reported again when it changes, e.g. unreachable → credentials refused. */
  cause?: DriverErrorCode;
  /** A session was up before on this driver: the next one is a reconnection. */
  wasConnected: boolean;
}

export interface LinkTransition {
  state: LinkState;
  /** Set when health or its cause changes. */
  healthChanged?: { health: Health; error?: DriverError };
  /** Set when a session becomes usable. */
  connected?: { reconnect: boolean };
}

export const INITIAL_LINK_STATE: LinkState = { phase: 'connecting', health: 'down', wasConnected: false };

/** True when requests can be sent: a session is up, possibly with failing keep-alives. */
export function isUsable(state: LinkState): boolean {
  return state.phase === 'connected';
}

/** `where` names the device in the errors this produces. */
export function nextLinkState(state: LinkState, event: LinkEvent, where: string): LinkTransition {
  if (state.phase === 'stopped' && event.type !== 'stopped') return { state };
  switch (event.type) {
    case 'opening':
      return { state: { ...state, phase: 'connecting' } };
    case 'attemptFailed':
      if (state.phase === 'connected') return { state };
      return move(state, { ...state, health: 'down' }, event.error);
    case 'refused':
      return move(state, { ...state, phase: 'refused', health: 'down' }, event.error);
    case 'sessionReady':
    case 'connectionReestablished':
      return {
        ...move(state, { phase: 'connected', health: 'up', wasConnected: true }),
        connected: { reconnect: state.wasConnected },
      };
    case 'connectionLost':
      return move(
        state,
        { ...state, phase: 'reconnecting', health: 'degraded' },
        new DriverError('disconnected', `${where}: connection lost; reconnecting`),
      );
    case 'channelRestored':
      if (state.phase !== 'reconnecting') return { state };
      return move(
        state,
        { ...state, health: 'degraded' },
        new DriverError('disconnected', `${where}: connection restored; repairing the session`),
      );
    case 'keepAliveFailed':
      if (state.phase !== 'connected') return { state };
      return move(
        state,
        { ...state, health: 'degraded' },
        new DriverError('timeout', `${where}: the server does not answer keep-alive reads`),
      );
    case 'keepAliveSucceeded':
      if (state.phase !== 'connected') return { state };
      return move(state, { ...state, health: 'up' });
    case 'sessionClosed':
      return move(state, { ...state, phase: 'reconnecting', health: 'down' }, event.error);
    case 'stopped':
      if (state.phase === 'stopped') return { state };
      return move(
        state,
        { ...state, phase: 'stopped', health: 'down' },
        new DriverError('stopped', `${where}: stopped`),
      );
  }
}

function move(from: LinkState, to: LinkState, error?: DriverError): LinkTransition {
  const state: LinkState = { ...to, cause: to.health === 'up' ? undefined : error?.code };
  if (from.health === state.health && from.cause === state.cause) return { state };
  return { state, healthChanged: error ? { health: state.health, error } : { health: state.health } };
}
