import type { IPublishPacket } from 'mqtt';
import type { DriverError, Health } from './driver';

/**
 * The messaging port: what the controller needs of a publish/subscribe broker connection, so that it
 * names no concrete client. MqttConnection (drivers/mqtt/connection.ts) implements it.
 */

export type QoS = 0 | 1 | 2;

/** Receives the topic, the payload as received, and the packet (retain, qos, dup). */
export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void | Promise<void>;

/** Removes one handler; the filter is unsubscribed at the broker when its last handler goes. */
export type Unsubscribe = () => Promise<void>;

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
}

export interface MessagingStats {
  /** Messages received from the broker. */
  received: number;
  /** Messages the broker took: written for QoS 0, acknowledged for QoS 1 and 2. */
  published: number;
  /** Messages that could not be published (QoS 0 while disconnected, stop with acknowledgements pending). */
  dropped: number;
  /** Connections established after a loss. */
  reconnects: number;
  /** Handler calls that threw or rejected. */
  handlerErrors: number;
}

export interface Messaging {
  /** Prefix of the service's own topics (`mqtt.base_topic`). */
  readonly baseTopic: string;
  subscribe(filter: string, qos: QoS, handler: MessageHandler): Promise<Unsubscribe>;
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  /** Every established connection; `reconnect` is true after a loss, so owners can republish state. */
  on(event: 'connected', listener: (info: { reconnect: boolean }) => void): unknown;
  off(event: 'connected', listener: (info: { reconnect: boolean }) => void): unknown;
  /** Each change of health(), and of its reason. */
  on(event: 'healthChanged', listener: (health: Health, error?: DriverError) => void): unknown;
  off(event: 'healthChanged', listener: (health: Health, error?: DriverError) => void): unknown;
  /** up: connected; degraded: connected, but the broker refused a subscription; down: not connected. */
  health(): Health;
  stats(): MessagingStats;
}
