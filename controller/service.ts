import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import { EmbeddedBroker } from '../drivers/mqtt/embeddedBroker';
import { ReportGatherer } from './evaluation/gather';
import { UsageLog } from './evaluation/usageLog';
import { InfluxQueryClient, influxQueryOptionsFromConfig } from '../drivers/influx/query';
import { Exporter } from './exports/exporter';
import { OpenDataPublisher } from './opendata/publisher';
import { MqttConnection } from '../drivers/mqtt/connection';
import { AuditLog, auditLogOptionsFromConfig } from './audit/auditLog';
import { ApiServer } from './http/server';
import { MapLayout } from './http/mapLayout';
import { OfficialsBoard } from './http/officials';
import { LastYearLighting } from './evaluation/lastYear';
import { Bus } from './bus';
import type { Clock } from '../core/clock';
import type { ServiceContext } from './context';
import { DeviceRegistry } from './devices';
import type { AlertService, EnergyService } from './telemetry/services';
import type { ServiceHealth } from './health/report';
import { buildTelemetry, type Telemetry } from './telemetry/subsystem';
import { ServiceHealthReporter } from './health/serviceHealth';
import { Lifecycle, type Component } from '../core/lifecycle';
import type { LightingService } from './lighting/runtime/lightingService';
import { LightingMqttBridge } from './lighting/runtime/mqttBridge';
import { LightingRuntime } from './lighting/runtime/runtime';
import type { Logger } from '../core/logger';
import { clusterMemberFromConfig } from './cluster/fromConfig';
import { ShardMap, otherShardsSensors, shardView } from './cluster/shards';
import { CommuneIndex } from './http/communeIndex';
import type { TargetSpec } from './lighting/topology';

export interface ServiceDeps {
  logger: Logger;
  clock: Clock;
  /** The configuration file: relative paths in it (secrets, certificates, state) start from its folder. */
  configFile: string;
  env?: NodeJS.ProcessEnv;
  /** With `cluster.etcd`: this instance lost its shard for good and should leave (main.ts stops it, exit 1). */
  fenced?: (reason: string) => void;
}

/**
 * The composition root: builds every subsystem from the configuration and wires them together.
 * Constructors only assign; all I/O begins in start(), in this order, and stop() runs in reverse:
 *
 * 1. state directory, telemetry storage and recorder
 * 2. Modbus devices (their links connect in the background)
 * 3. lighting: persisted emergency relights and overrides restored, first commands out
 * 4. MQTT: embedded broker when no url is configured, then the connection, then the MQTT and HTTP
 *    sources (sensors)
 * 5. OPC UA devices (node-opcua is loaded here, after the Modbus relight is out)
 * 6. alerts, sampler, service metrics, audit, HTTP API
 *
 * With `cluster.etcd`, the recorder, lighting, sources, alerts and sampler start only once this
 * instance leads its shard, after everything else (docs/deploy.md, "Two instances").
 */
export class Service {
  readonly context: ServiceContext;
  /** Emergency relights, overrides, live state, programs: controller/lighting/runtime/lightingService.ts. */
  readonly lighting: LightingService;
  /** Buildings and their latest values, and alerts: controller/telemetry/services.ts. */
  readonly energy: EnergyService;
  readonly alerts: AlertService;
  /** What /health and /metrics report. */
  readonly health: ServiceHealth;
  /** Building points, their storage in InfluxDB and the alerts on them. */
  readonly telemetry: Telemetry;
  /** The operators' API and console (controller/http/server.ts); `api.url` once listening. */
  readonly api: ApiServer;
  /** Every command, with who, what, when, from where and its result (controller/http/audit.ts). */
  readonly audit: AuditLog;
  private readonly lifecycle: Lifecycle;
  private ready = false;

  constructor(territory: Config, deps: ServiceDeps) {
    const { logger, clock } = deps;
    // Shards by commune: everything but the API's routing is built from this shard's part of the territory.
    const shards =
      territory.cluster?.etcd && new ShardMap(territory.cluster.shards ?? [], territory.cluster.etcd.shard);
    const config =
      shards && territory.cluster?.shards ? shardView(territory, shards.ownCommunes()) : territory;
    const configDir = path.dirname(path.resolve(deps.configFile));
    const stateDir = path.resolve(configDir, config.service.state_dir);
    const bus = new Bus(logger.child('bus'));
    const env = deps.env ?? process.env;
    const mqtt = new MqttConnection({
      config: config.mqtt,
      instance: config.service.instance,
      configDir,
      logger: logger.child('mqtt'),
      clock,
      env,
      sharedBroker: config.cluster?.etcd !== undefined,
    });
    const devices = new DeviceRegistry(config, {
      logger: logger.child('drivers'),
      clock,
      bus,
      configDir,
      stateDir,
      env,
      messaging: mqtt,
      instance: config.service.instance,
      ...(config !== territory ? { otherShards: otherShardsSensors(territory, config) } : {}),
    });
    this.context = { config, configDir, stateDir, logger, clock, bus, mqtt, devices, env };
    this.lifecycle = new Lifecycle(logger.child('service'), config.service.shutdown_timeout_s * 1000);

    this.lifecycle.add(
      component('state directory', () => {
        mkdirSync(stateDir, { recursive: true });
        return Promise.resolve();
      }),
    );
    // In cluster mode, what drives the devices and records points and alerts runs only while this
    // instance leads its shard (ClusterMember.lead, started in this order on taking it over).
    const etcd = config.cluster?.etcd;
    const cluster =
      etcd &&
      clusterMemberFromConfig(etcd, {
        configDir,
        stateDir,
        instance: config.service.instance,
        http: config.http,
        env,
        clock,
        logger: logger.child('cluster'),
        fenced: (reason) => deps.fenced?.(reason),
      });
    const leaderOnly: Component[] = [];
    const whileLeading = (part: Component): void => {
      if (cluster) leaderOnly.push(part);
      else this.lifecycle.add(part);
    };

    // -- telemetry storage (before the drivers, so nothing they report is lost; stopped after them) --
    const telemetry = buildTelemetry(this.context, {
      malformedMessages: () => this.lighting.stats().presence.malformed,
      replicateAlerts: cluster && ((text) => cluster.replicate('alerts', text)),
    });
    this.telemetry = telemetry;
    this.energy = telemetry.energy;
    this.alerts = telemetry.alerts;
    this.health = new ServiceHealthReporter({
      config,
      devices,
      mqtt,
      storage: telemetry.storage,
      sampler: telemetry.sampler,
      alerts: telemetry.alerts,
      running: () => this.ready,
      role: cluster && (() => (cluster.leading() ? 'leader' : 'standby')),
    });
    this.lifecycle.add(telemetry.storage.component());
    whileLeading(telemetry.recorder.component());

    this.lifecycle.add(devices.component('modbus'));

    // -- lighting --
    const lighting = new LightingRuntime({
      config,
      stateDir,
      logger: logger.child('lighting'),
      clock,
      bus,
      mqtt,
      devices,
      cluster: cluster && {
        mayCommand: () => cluster.mayCommand(),
        replicate: (text) => cluster.replicate('lighting-state', text),
      },
    });
    this.lighting = lighting;
    whileLeading(lighting.component());
    whileLeading(
      new LightingMqttBridge({
        lighting,
        mqtt,
        bus,
        clock,
        logger: logger.child('lighting'),
        ...(config !== territory && shards ? { elsewhere: shardsElsewhere(shards, territory) } : {}),
      }).component(),
    );
    if (cluster) this.lifecycle.add(cluster.component());

    if (config.mqtt.url === undefined) {
      const broker = new EmbeddedBroker({
        host: config.mqtt.embedded_host,
        port: config.mqtt.embedded_port,
        logger: logger.child('mqtt:broker'),
      });
      this.lifecycle.add(
        component(
          'embedded MQTT broker',
          () => broker.start(),
          () => broker.stop(),
        ),
      );
    }
    this.lifecycle.add(
      component(
        'MQTT connection',
        (signal) => mqtt.start(signal),
        () => mqtt.stop(),
      ),
    );
    whileLeading(devices.component('mqtt'));
    whileLeading(devices.component('http'));
    this.lifecycle.add(devices.component('opcua'));

    // -- telemetry and alerts --
    for (const part of telemetry.pointComponents()) whileLeading(part);
    this.lifecycle.add(telemetry.serviceMetrics.component());

    // -- HTTP API --
    // The audit log listens from now on, so that MQTT commands arriving before it starts are queued.
    this.audit = new AuditLog(
      stateDir,
      { bus, clock, logger: logger.child('audit') },
      auditLogOptionsFromConfig(config.service),
    );
    this.audit.listen();
    this.lifecycle.add(this.audit);
    // -- usage counts and the monthly evaluation report (controller/evaluation/) --
    const usage = new UsageLog({
      stateDir,
      timeZone: config.site.timezone,
      clock,
      logger: logger.child('usage'),
      sink: telemetry.storage,
      periodMs: config.telemetry.service_period_s * 1000,
    });
    this.lifecycle.add(usage);
    // -- InfluxDB read back, for exports, open data and the report (keep-alive connections closed at stop) --
    const influxReader = config.influx
      ? new InfluxQueryClient(influxQueryOptionsFromConfig(config.influx, { configDir, env }))
      : undefined;
    if (influxReader)
      this.lifecycle.add(
        component(
          'InfluxDB reader',
          () => Promise.resolve(),
          () => Promise.resolve(influxReader.close()),
        ),
      );
    const reports = new ReportGatherer({
      config,
      reader: influxReader,
      lighting: this.lighting,
      usage,
      catalog: telemetry.catalog,
      clock,
    });
    const health = this.health;
    const exporter = new Exporter({ config, reader: influxReader, logger: logger.child('exports') });
    const map = new MapLayout(config);
    this.lifecycle.add(map);
    this.api = new ApiServer({
      config: territory,
      stateDir,
      services: {
        lighting: this.lighting,
        energy: this.energy,
        alerts: this.alerts,
        health: () => health.report(),
        metrics: () => health.metrics(),
        usage,
        reports,
        exports: exporter,
        openData: new OpenDataPublisher({
          config,
          reader: influxReader,
          clock,
          logger: logger.child('opendata'),
        }),
        map,
        officials: new OfficialsBoard(
          config,
          { lighting: this.lighting, energy: this.energy, alerts: this.alerts },
          clock,
          influxReader &&
            new LastYearLighting({
              reader: influxReader,
              timeZone: config.site.timezone,
              clock,
              logger: logger.child('officials'),
            }),
        ),
      },
      audit: this.audit,
      clock,
      logger: logger.child('api'),
      sharedSignIns: cluster?.sharedFolder('people'),
      routing: cluster &&
        shards && {
          shards,
          leading: () => cluster.leading(),
          leaderUrl: (shard) => cluster.leaderUrl(shard),
        },
    });
    this.lifecycle.add(this.api);
    if (cluster) {
      cluster.lead(leaderOnly);
      this.lifecycle.add(cluster.campaignComponent());
    }
    // Last to start, first to stop: /health says 'down' while the service starts or stops.
    this.lifecycle.add(
      component(
        'service ready',
        () => {
          this.ready = true;
          return Promise.resolve();
        },
        () => {
          this.ready = false;
          return Promise.resolve();
        },
      ),
    );
  }

  start(signal: AbortSignal): Promise<void> {
    return this.lifecycle.start(signal);
  }

  stop(): Promise<void> {
    return this.lifecycle.stop();
  }
}

/** A relight target that only other shards' communes hold (controller/cluster/shards.ts). */
function shardsElsewhere(shards: ShardMap, territory: Config): (target: TargetSpec) => boolean {
  const index = new CommuneIndex(territory);
  return (target) => shards.elsewhere(index.communesOf(target));
}

function component(
  name: string,
  start: (signal: AbortSignal) => Promise<void>,
  stop: () => Promise<void> = () => Promise.resolve(),
): Component {
  return { name, start, stop };
}
