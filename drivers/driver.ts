import type { EventEmitter } from 'node:events';

/**
 * The contract between the controller and the field: a driver knows one protocol and one device,
 * never lighting or buildings. Addresses, values and errors here are protocol-neutral enough that
 * the controller never sees a protocol detail.
 */

export type Health = 'up' | 'degraded' | 'down';
export type Quality = 'good' | 'uncertain' | 'bad';
export type Value = number | boolean;

export type DriverErrorCode =
  | 'timeout' // no answer within the configured timeout
  | 'disconnected' // the transport is down
  | 'exception' // the device answered with a protocol exception or bad status
  | 'not-found' // the register or node does not exist on the device
  | 'bad-type' // the value does not fit the configured data type
  | 'security' // certificates or credentials refused
  | 'stopped'; // the driver was stopped while the request waited

export class DriverError extends Error {
  constructor(
    readonly code: DriverErrorCode,
    message: string,
    /** Protocol name of the failure, e.g. 'IllegalDataAddress' or 'BadNodeIdUnknown'. */
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DriverError';
  }
}

export interface ModbusAddress {
  protocol: 'modbus';
  table: 'holding' | 'input' | 'coil' | 'discrete';
  address: number;
  type: 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
  wordOrder: 'big' | 'little';
  byteOrder: 'big' | 'little';
  /** Engineering value = raw * scale + offset; writes apply the inverse. */
  scale: number;
  offset: number;
}

export interface OpcuaAddress {
  protocol: 'opcua';
  nodeId: string;
  samplingMs?: number;
  deadband?: { type: 'absolute' | 'percent'; value: number };
}

/** A field of the messages a sensor publishes over MQTT (drivers/mqtt/uplinks.ts reads them). */
export interface MqttAddress {
  protocol: 'mqtt';
  /** Topic captures naming the sensor, e.g. `{dev_eui: '24e124…'}`; empty when the device is one sensor. */
  match: Readonly<Record<string, string>>;
  /** Dot path under the values' root, split; empty: the root itself (plain payloads). */
  path: readonly string[];
  scale: number;
  offset: number;
  /** Text states to numbers (`open` → 1). */
  states?: Readonly<Record<string, number>>;
  /** A reading the network server adds to every uplink, instead of a field. */
  radio?: 'rssi' | 'snr' | 'battery';
}

/** A value in the JSON document a device serves over HTTP (drivers/http/jsonSource.ts polls it). */
export interface HttpAddress {
  protocol: 'http';
  /** Dot path in the document, split; array indexes are path parts ('data.0.value'). */
  path: readonly string[];
  scale: number;
  offset: number;
  states?: Readonly<Record<string, number>>;
}

export type PointAddress = ModbusAddress | OpcuaAddress | MqttAddress | HttpAddress;

/** A point as the caller knows it: `key` comes back in samples; `label` names its configuration entry in errors. */
export interface PointRef {
  key: string;
  address: PointAddress;
  label?: string;
  /** Polling period for subscriptions of polled protocols. */
  periodMs?: number;
}

export interface Sample {
  key: string;
  value: Value | null;
  quality: Quality;
  /** When the device says the value was taken (epoch ms), where it says so. */
  sourceTime?: number;
  /** When the driver received it (epoch ms). */
  time: number;
  error?: DriverError;
}

export interface PointWrite {
  key: string;
  address: PointAddress;
  value: Value;
  /** Names the configuration entry in errors, as PointRef.label does. */
  label?: string;
}

export interface WriteResult {
  key: string;
  ok: boolean;
  error?: DriverError;
}

export interface DriverStats {
  requests: number;
  errors: number;
  reconnects: number;
  /** Messages dropped, by reason (drivers that receive messages rather than answers). */
  dropped?: Readonly<Record<string, number>>;
}

export interface DriverEvents {
  /**
   * up: answering; degraded: answering with errors or reconnecting often; down: unreachable. Also
   * emitted when the health stays the same but its reason changes (unreachable → credentials refused).
   */
  healthChanged: [health: Health, error?: DriverError];
  /** Every established connection; `reconnect` is true after a loss, so the controller can reapply state. */
  connected: [info: { reconnect: boolean }];
  /** Values from subscriptions (polled or monitored). */
  samples: [samples: Sample[]];
}

export interface Subscription {
  close(): Promise<void>;
}

export interface Driver extends Pick<EventEmitter<DriverEvents>, 'on' | 'off' | 'once'> {
  readonly deviceId: string;
  /**
   * Begins connecting and resolves after the first attempt, whether it succeeded or not: an unreachable
   * device must not keep the service from starting. Reconnection then continues on its own.
   */
  start(signal?: AbortSignal): Promise<void>;
  /** Finishes or fails in-flight requests, closes the connection; idempotent. */
  stop(): Promise<void>;
  health(): Health;
  /** Checks that every address exists on the device; one error per missing point, naming its label. */
  check(points: readonly PointRef[]): Promise<DriverError[]>;
  /** Reads the points, merging neighbours into as few requests as the protocol allows. */
  read(points: readonly PointRef[]): Promise<Sample[]>;
  /** Writes the values, grouping contiguous registers or nodes into as few requests as the protocol allows. */
  write(writes: readonly PointWrite[]): Promise<WriteResult[]>;
  /** Delivers values through the 'samples' event: polled at each point's period, or monitored by the server. */
  subscribe(points: readonly PointRef[]): Subscription;
  stats(): DriverStats;
}

/** What a driver's failure says, in one line; `undefined` is a request that got no answer. */
export function describeDriverError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return error === undefined ? 'no answer' : JSON.stringify(error);
}
