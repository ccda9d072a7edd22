import path from 'node:path';
import type { Config, MqttSourceDeviceConfig, OpcuaDeviceConfig } from '../config/schema';
import type { Driver, DriverError, Health, Sample } from '../drivers/driver';
import { ModbusDriver } from '../drivers/modbus/modbusDriver';
import { ModbusLinkPool } from '../drivers/modbus/pool';
import type { Messaging } from '../drivers/messaging';
import { MqttConnection } from '../drivers/mqtt/connection';
import { MqttSourceDriver } from '../drivers/mqtt/sourceDriver';
import { compilePath } from '../drivers/mqtt/uplinks';
import { HttpJsonDriver } from '../drivers/http/jsonSource';
import { httpJsonOptionsFromConfig } from '../drivers/http/options';
import type { OpcuaDriver } from '../drivers/opcua/opcuaDriver';
import type { Bus } from './bus';
import type { Clock } from '../core/clock';
import type { Component } from '../core/lifecycle';
import type { Logger } from '../core/logger';

export interface DeviceRegistryDeps {
  logger: Logger;
  clock: Clock;
  bus: Bus;
  /** Relative secret paths start here. */
  configDir: string;
  /** OPC UA certificates live in <stateDir>/pki. */
  stateDir: string;
  env?: NodeJS.ProcessEnv;
  /** The service's broker: MQTT sources without a broker of their own read from it. */
  messaging?: Messaging;
  /** `service.instance`, in the client id of a source's own broker connection. Default 'nocturne'. */
  instance?: string;
  /** Shards by commune: by MQTT source, the other shards' sensors it also carries (cluster/shards.ts). */
  otherShards?: ReadonlyMap<string, readonly Readonly<Record<string, string>>[]>;
}

export type Protocols = 'modbus' | 'opcua' | 'mqtt' | 'http';

const FAMILY_NAMES: Record<Protocols, string> = {
  modbus: 'Modbus',
  opcua: 'OPC UA',
  mqtt: 'MQTT source',
  http: 'HTTP JSON source',
};

function familyOf(protocol: Config['devices'][number]['protocol']): Protocols {
  if (protocol === 'opcua' || protocol === 'mqtt') return protocol;
  return protocol === 'http-json' ? 'http' : 'modbus';
}

/**
 * One driver per configured device, Modbus devices behind one transport sharing its connection.
 * Driver events reach the rest of the service through the bus only. Protocols start separately so
 * that the service can bring its Modbus segment controllers up (and restore an emergency relight)
 * without waiting for node-opcua to load.
 */
export class DeviceRegistry {
  private readonly drivers = new Map<string, Driver>();
  private readonly pool: ModbusLinkPool;
  private readonly listeners: (() => void)[] = [];
  /** node-opcua writes to the console on its own: once per process, its messages join our logs. */
  private opcuaLogsRouted = false;

  constructor(
    private readonly config: Config,
    private readonly deps: DeviceRegistryDeps,
  ) {
    this.pool = new ModbusLinkPool({ clock: deps.clock, logger: deps.logger.child('modbus') });
  }

  get(deviceId: string): Driver | undefined {
    return this.drivers.get(deviceId);
  }

  all(): Driver[] {
    return [...this.drivers.values()];
  }

  /** A component that creates and starts the drivers of one protocol family. */
  component(protocols: Protocols): Component {
    const devices = this.config.devices.filter((d) => familyOf(d.protocol) === protocols);
    const mine: Driver[] = [];
    return {
      name: `${FAMILY_NAMES[protocols]} devices (${devices.length})`,
      start: async (signal) => {
        for (const device of devices) {
          const driver =
            device.protocol === 'opcua'
              ? this.createOpcua(device)
              : device.protocol === 'mqtt'
                ? this.createMqttSource(device)
                : device.protocol === 'http-json'
                  ? new HttpJsonDriver(
                      httpJsonOptionsFromConfig(device, {
                        configDir: this.deps.configDir,
                        env: this.deps.env,
                      }),
                      { clock: this.deps.clock, logger: this.deps.logger.child('http') },
                    )
                  : new ModbusDriver(device, {
                      pool: this.pool,
                      clock: this.deps.clock,
                      logger: this.deps.logger.child('modbus'),
                    });
          this.drivers.set(device.id, driver);
          this.forwardEvents(driver);
          mine.push(driver);
        }
        // Each start resolves after its first attempt: a device that is down does not hold the others.
        await Promise.all(mine.map((d) => d.start(signal)));
      },
      stop: async () => {
        await Promise.all(mine.map((d) => d.stop()));
        if (protocols === 'modbus') await this.pool.close();
        for (const unlisten of this.listeners.splice(0)) unlisten();
      },
    };
  }

  private createOpcua(device: OpcuaDeviceConfig): OpcuaDriver {
    // Loaded on first use: node-opcua takes most of a second to load, which a restart with an
    // emergency relight in force cannot afford before its Modbus commands go out.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { OpcuaDriver: Driver } =
      require('../drivers/opcua/opcuaDriver') as typeof import('../drivers/opcua/opcuaDriver');
    const { routeOpcuaLibraryLogs } =
      require('../drivers/opcua/libraryLog') as typeof import('../drivers/opcua/libraryLog');
    /* eslint-enable @typescript-eslint/no-require-imports */
    if (!this.opcuaLogsRouted) {
      routeOpcuaLibraryLogs(this.deps.logger.child('opcua:lib'));
      this.opcuaLogsRouted = true;
    }
    return new Driver(device, {
      pkiDir: path.join(this.deps.stateDir, 'pki'),
      configDir: this.deps.configDir,
      logger: this.deps.logger.child('opcua'),
      clock: this.deps.clock,
      env: this.deps.env,
    });
  }

  private createMqttSource(device: MqttSourceDeviceConfig): MqttSourceDriver {
    const { clock, logger, configDir, env, instance = 'nocturne' } = this.deps;
    const broker = device.broker;
    const messaging = this.deps.messaging;
    if (!broker && !messaging)
      throw new Error(`device '${device.id}': no broker of its own and no service broker to read from`);
    // A broker of its own is read only: no state topic or last will of ours goes to someone else's broker.
    const connection =
      broker &&
      new MqttConnection({
        config: {
          ...this.config.mqtt,
          url: broker.url,
          username: broker.username,
          password: broker.password,
          client_id: broker.client_id ?? `nocturne-${instance}-${device.id}`,
          tls: broker.tls,
          keepalive_s: broker.keepalive_s,
          reconnect_ms: broker.reconnect_ms,
        },
        instance,
        configDir,
        logger: logger.child(`mqtt:${device.id}`),
        clock,
        connectTimeoutMs: device.timeout_ms,
        env,
        announceState: false,
      });
    return new MqttSourceDriver(
      {
        deviceId: device.id,
        format: device.format,
        topic: device.topic,
        timePath: device.time_path === undefined ? undefined : compilePath(device.time_path),
        qos: device.qos,
        otherShards: this.deps.otherShards?.get(device.id),
      },
      {
        messaging: (connection ?? messaging)!,
        connection,
        clock,
        logger: logger.child('sensors'),
      },
    );
  }

  private forwardEvents(driver: Driver): void {
    const { bus } = this.deps;
    const deviceId = driver.deviceId;
    const onHealth = (health: Health, error?: DriverError): void =>
      bus.emit('deviceHealthChanged', { deviceId, health, error });
    const onConnected = (info: { reconnect: boolean }): void => {
      if (info.reconnect) bus.emit('deviceReconnected', { deviceId });
    };
    const onSamples = (samples: Sample[]): void => bus.emit('samplesReceived', { deviceId, samples });
    driver.on('healthChanged', onHealth);
    driver.on('connected', onConnected);
    driver.on('samples', onSamples);
    this.listeners.push(() => {
      driver.off('healthChanged', onHealth);
      driver.off('connected', onConnected);
      driver.off('samples', onSamples);
    });
  }
}
