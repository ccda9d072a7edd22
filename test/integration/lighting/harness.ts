import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigSchema, type Config, type ConfigInput } from '../../../config/schema';
import { buildTerritory } from '../../../config/demoTerritory';
import { resolveProfiles } from '../../../config/profiles';
import { Bus } from '../../../controller/bus';
import { ManualClock, systemClock } from '../../../core/clock';
import { DeviceRegistry } from '../../../controller/devices';
import type { Component } from '../../../core/lifecycle';
import { silentLogger, type Logger } from '../../../core/logger';
import type { Actor } from '../../../controller/scope';
import { LightingRuntime, type LightingRuntimeOptions } from '../../../controller/lighting/runtime/runtime';
import { LightingMqttBridge } from '../../../controller/lighting/runtime/mqttBridge';
import { MqttConnection } from '../../../drivers/mqtt/connection';
import { Simulation } from '../../../simulators/simulation';
import { freePorts } from '../../helpers/ports';

/**
 * The lighting runtime in-process against the real simulators (Modbus segment controllers on loopback,
 * in this process) through the real drivers, and a real MQTT broker given by the test. The runtime
 * runs on a ManualClock (schedules, presence, retries move only when the test says); drivers,
 * simulators and MQTT on the system clock, as sockets need.
 */

export interface HarnessOptions {
  mqttUrl: string;
  controllers?: number;
  luminairesPerController?: number;
  zonesPerController?: number;
  presenceSensorsPerZone?: number;
  /** Instant the runtime's clock starts at. */
  startAt: number;
  /** Edits the generated configuration before it is parsed. */
  configure?: (input: ConfigInput) => void;
  runtime?: LightingRuntimeOptions;
  /** Ports of the controllers (a restart against the same simulation); default: free ones. */
  ports?: number[];
  /** Reuse a state directory (a restart); default: a fresh temp directory, removed by stop(). */
  stateDir?: string;
  baseTopic?: string;
  /** The runtime's logger (to count what it logs); default: silent. */
  logger?: Logger;
}

export const ADMIN: Actor = { user: 'admin', role: 'admin', communes: ['*'], via: 'api', from: '127.0.0.1' };

export class LightingHarness {
  private components: Component[] = [];
  private ownsStateDir = false;

  private constructor(
    readonly config: Config,
    readonly clock: ManualClock,
    readonly simulation: Simulation,
    readonly bus: Bus,
    readonly devices: DeviceRegistry,
    readonly mqtt: MqttConnection,
    readonly runtime: LightingRuntime,
    readonly stateDir: string,
    readonly ports: number[],
  ) {}

  /** Simulators up, then drivers, lighting and MQTT in the service's order. */
  static async start(options: HarnessOptions, simulation?: Simulation): Promise<LightingHarness> {
    const controllers = options.controllers ?? 2;
    const ports = options.ports ?? (await freePorts(controllers));
    const stateDir = options.stateDir ?? (await mkdtemp(path.join(tmpdir(), 'nocturne-lighting-')));
    const input = buildTerritory({
      communes: 1,
      modbusControllers: controllers,
      opcuaControllers: 0,
      luminairesPerController: options.luminairesPerController ?? 8,
      zonesPerController: options.zonesPerController ?? 2,
      presenceSensorsPerZone: options.presenceSensorsPerZone ?? 1,
      buildings: false,
      alerts: false,
      modbusPorts: ports,
      opcuaPorts: [],
      mqttUrl: options.mqttUrl,
      stateDir,
    });
    input.mqtt = { ...input.mqtt, base_topic: options.baseTopic ?? 'nocturne', reconnect_ms: 200 };
    for (const device of input.devices ?? []) {
      if (device.protocol === 'modbus-tcp') {
        device.timeout_ms = 500;
        device.retries = 1;
      }
    }
    options.configure?.(input);
    const config = resolveProfiles(ConfigSchema.parse(input));
    const sim = simulation ?? new Simulation(silentLogger, systemClock);
    if (!simulation) await sim.start(config, { only: ['modbus'] });
    const clock = new ManualClock(options.startAt);
    const bus = new Bus(silentLogger);
    const devices = new DeviceRegistry(config, {
      logger: silentLogger,
      clock: systemClock,
      bus,
      configDir: stateDir,
      stateDir,
    });
    const mqtt = new MqttConnection({
      config: config.mqtt,
      instance: `lighting-test-${process.pid}`,
      configDir: stateDir,
      logger: silentLogger,
      clock: systemClock,
      env: {},
    });
    const runtime = new LightingRuntime(
      { config, stateDir, logger: options.logger ?? silentLogger, clock, bus, mqtt, devices },
      { dispatch: { tickMs: 60_000 }, ...options.runtime },
    );
    const harness = new LightingHarness(config, clock, sim, bus, devices, mqtt, runtime, stateDir, ports);
    harness.ownsStateDir = options.stateDir === undefined;
    const components: Component[] = [
      devices.component('modbus'),
      runtime.component(),
      new LightingMqttBridge({
        lighting: runtime,
        mqtt,
        bus,
        clock,
        logger: options.logger ?? silentLogger,
      }).component(),
      { name: 'mqtt', start: (signal) => mqtt.start(signal), stop: () => mqtt.stop() },
    ];
    const signal = new AbortController().signal;
    try {
      for (const component of components) {
        harness.components.push(component);
        await component.start(signal);
      }
    } catch (error) {
      await harness.stop();
      throw error;
    }
    return harness;
  }

  /** Stops lighting, MQTT and drivers (reverse order); the simulators too unless `keepSimulation`. */
  async stop(options: { keepSimulation?: boolean; keepStateDir?: boolean } = {}): Promise<void> {
    for (const component of this.components.reverse()) {
      try {
        await component.stop();
      } catch {
        // Each step on its own: the others still stop.
      }
    }
    this.components = [];
    if (!options.keepSimulation) await this.simulation.stop();
    if (this.ownsStateDir && !options.keepStateDir) await rm(this.stateDir, { recursive: true, force: true });
  }

  /** Segment controller ids, in configuration order. */
  get controllers(): string[] {
    return this.config.devices.filter((d) => d.lighting).map((d) => d.id);
  }

  /** Commanded level per channel of a simulated controller. */
  commanded(deviceId: string): number[] {
    return this.simulation
      .controller(deviceId)
      .allChannels()
      .map((c) => c.commanded);
  }

  luminaireIds(zone?: string): string[] {
    return this.config.zones
      .filter((z) => zone === undefined || z.id === zone)
      .flatMap((z) => z.luminaires.map((l) => l.id));
  }
}

/** Polls (real time) until the check passes; fails with the last value seen. */
export async function eventually<T>(
  read: () => T,
  accept: (value: T) => boolean,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  let value = read();
  while (!accept(value)) {
    if (Date.now() > deadline)
      throw new Error(`${options.what ?? 'condition'} not reached; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    value = read();
  }
  return value;
}

/** Instant of a wall-clock time in Paris: '2026-01-15T22:00'. */
export function paris(local: string): number {
  const guess = Date.parse(`${local}:00Z`);
  const offsetMinutes = new Date(guess)
    .toLocaleString('en-US', { timeZone: 'Europe/Paris', timeZoneName: 'shortOffset' })
    .match(/GMT([+-]\d+)/);
  const hours = offsetMinutes ? Number(offsetMinutes[1]) : 0;
  return guess - hours * 3_600_000;
}
