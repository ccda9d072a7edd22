import type { SlotName } from '../slots';

/**
 * What the lighting runtime tells the rest of the service through the bus (controller/bus.ts):
 * rows for the `lighting`, `presence` and `event` measurements of docs/influx-schema.md, and the
 * facts the alert rules need (lamp failure, commanded/in-effect/measured disagreeing). Device
 * reachability is the drivers' `deviceHealthChanged`.
 */

/** One row of the `lighting` measurement. */
export interface LuminaireReport {
  luminaire: string;
  zone: string;
  commune: string;
  /** Level last commanded (TALQ "commanded"), %. */
  level: number | undefined;
  /** Level the device applies, read back, %. */
  inEffect: number | undefined;
  /** Actual output ramping with the fade, %, when the device reports it. */
  output: number | undefined;
  /** Priority of the deciding slot: 1, 8, 12, 16; undefined when undecided. */
  priority: number | undefined;
  /** The deciding slot, or 'fail-safe' when undecided (the device applies its own level). */
  source: SlotName | 'fail-safe';
  /** Measured power, or estimated from rated power × level (see `estimated`), W. */
  powerW: number | undefined;
  /** Energy index, Wh: integrated from the power above since the service started. */
  energyWh: number;
  /** Energy index at full power from dusk to dawn, Wh (the reference for savings). */
  baselineWh: number;
  /** Time burning above 0 %, seconds, index. */
  burnS: number;
  /** 0 ok, 1 lamp failure, 2 driver failure, when the device reports it. */
  lampStatus: number | undefined;
  estimated: boolean;
}

export interface LightingReported {
  at: number;
  /** 'change': luminaires whose level was confirmed or changed; 'snapshot': every luminaire, periodically. */
  kind: 'change' | 'snapshot';
  luminaires: LuminaireReport[];
}

/** One presence detection (`presence` measurement). */
export interface PresenceDetected {
  at: number;
  sensor: string;
  zone: string;
  commune: string;
  class: string;
  /** The level the detection asked for, %. */
  level: number;
  /** accepted: raised or extended the group; debounced: collapsed into the previous one. */
  result: 'accepted' | 'debounced' | 'stopped';
}

/** A command's life (`event` measurement: kind relight/override/program/command). */
export interface LightingCommandEvent {
  at: number;
  kind: 'relight' | 'override' | 'program' | 'calendar';
  /** Emergency/override id, program or calendar id. */
  id: string;
  state: 'accepted' | 'confirmed' | 'failed' | 'cleared' | 'released' | 'expired' | 'changed' | 'deleted';
  /** Communes concerned; ['*'] for territory-wide. */
  communes: string[];
  severity: 'info' | 'warning' | 'critical';
  message: string;
  /** What it is about: the target ('zone metz-rue-x', 'commune metz', 'all', '3 luminaires'), a device. */
  source: string;
  /** Configuration user id, or 'nocturne' for automatic events (expiry). */
  actor: string;
  via: string;
  /** Client address (HTTP) or topic (MQTT) of whoever gave it; 'nocturne' for automatic events. */
  from: string;
}

/** An MQTT bridge request (from a dispatch system) that was refused: the audit log records it. */
export interface LightingRequestRefused {
  at: number;
  command: 'relight' | 'clear-relight';
  /** The actor named in the payload, when it could be read. */
  actor: string;
  via: 'mqtt';
  /** The request topic. */
  from: string;
  /** What the request was about, as far as it could be read. */
  target: string;
  message: string;
}

export type LuminaireFaultKind =
  /** Device reports a lamp failure (driving the lamp, no current). */
  | 'lamp-failure'
  /** Device reports a gear (ballast, driver) failure. */
  | 'driver-failure'
  /** Device reports its switching relay failed. */
  | 'relay-failure'
  /** The gateway reports it cannot reach the gear (a DALI address that does not answer). */
  | 'communication-failure'
  /** Measured power far from rated power × light output: the profile's level curve is not the device's. */
  | 'power-mismatch'
  /** Commanded on, output settled, measured power 0 (devices that measure power). */
  | 'no-power'
  /** Read-back level in effect differs from the level commanded (fail-safe active, refused write). */
  | 'in-effect-mismatch';

/** A fault seen on a luminaire, raised when first seen and cleared when gone (alert rules add durations). */
export interface LuminaireFaultChanged {
  at: number;
  luminaire: string;
  zone: string;
  commune: string;
  device: string;
  channel: number;
  kind: LuminaireFaultKind;
  state: 'raised' | 'cleared';
  commanded: number | undefined;
  inEffect: number | undefined;
  powerW: number | undefined;
  lampStatus: number | undefined;
}

/** A device did not confirm levels after the retries. */
export interface LightingDispatchFailed {
  at: number;
  deviceId: string;
  commune: string;
  /** Luminaire ids not confirmed. */
  luminaires: string[];
  error: string;
}

/** The lighting entries of the bus's EventMap. */
export interface LightingEventMap {
  lightingReported: LightingReported;
  presenceDetected: PresenceDetected;
  lightingCommandChanged: LightingCommandEvent;
  luminaireFaultChanged: LuminaireFaultChanged;
  lightingDispatchFailed: LightingDispatchFailed;
}
