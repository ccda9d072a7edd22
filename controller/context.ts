import type { Config } from '../config/schema';
import type { Messaging } from '../drivers/messaging';
import type { Bus } from './bus';
import type { Clock } from '../core/clock';
import type { DeviceRegistry } from './devices';
import type { Logger } from '../core/logger';

/** What every subsystem of the service is built from; created once by the composition root. */
export interface ServiceContext {
  config: Config;
  /** Folder of the configuration file: relative paths in it start there. */
  configDir: string;
  /** Absolute `service.state_dir`: persisted commands, audit log, spool, certificates. */
  stateDir: string;
  logger: Logger;
  clock: Clock;
  bus: Bus;
  /** The service's broker connection, through the messaging port. */
  mqtt: Messaging;
  devices: DeviceRegistry;
  env: NodeJS.ProcessEnv;
}
