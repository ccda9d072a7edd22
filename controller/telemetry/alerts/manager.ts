import type { Config } from '../../../config/schema';
import type { Health } from '../../../drivers/driver';
import type { Messaging } from '../../../drivers/messaging';
import type { Bus } from '../../bus';
import type { Clock, Timer } from '../../../core/clock';
import type { DeviceRegistry } from '../../devices';
import type { Component } from '../../../core/lifecycle';
import type { Logger } from '../../../core/logger';
import { coversAny, type Actor } from '../../scope';
import { AlertError, type AlertService, type AlertView } from '../services';
import { EventTimeline, eventLine } from '../lines';
import type { CatalogPoint, PointCatalog } from '../points';
import type { LineSink } from '../../../drivers/timeSeries';
import { AlertEngine, type AlertChange } from './engine';
import { changeMessage } from './messages';
import { AlertNotifier, type NotificationStats } from './notifier';
import { AlertStore } from './store';
import { WebhookSender, type WebhookPayload, type WebhookStats } from './webhook';

export interface AlertManagerDeps {
  config: Config;
  catalog: PointCatalog;
  deviceCommune: (deviceId: string) => string;
  deviceDownSince: (deviceId: string) => number | undefined;
  devices: DeviceRegistry;
  /** Current health of the InfluxDB writer, for the telemetry-storage rule at start. */
  storageHealth: () => Health;
  sink: LineSink;
  /** Absent: no MQTT output (tests of the engine alone). */
  mqtt: Messaging | undefined;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  stateDir: string;
  /** Writes each saved version of the alerts where a standby reads it; absent in single-machine mode. */
  replicate?: (text: string) => Promise<void>;
  configDir: string;
  env?: NodeJS.ProcessEnv;
}

export interface AlertStats {
  open: number;
  raised: number;
  cleared: number;
  mqttFailures: number;
  eventLinesLost: number;
  webhooks: Record<string, WebhookStats>;
  /** Absent without a `notifications` section. */
  notifications?: NotificationStats;
}

/**
 * The alert subsystem: the engine (pure) fed from the bus and the sampler, ticking every `evaluate_s`,
 * its state saved to `<state_dir>/alerts.json` after every change, and each change sent out as an
 * InfluxDB event (Grafana annotations), an MQTT message, webhook POSTs, and e-mails and SMS to the
 * people routed to it (notifier.ts). Implements the AlertService
 * the HTTP API and the console use.
 *
 * MQTT (QoS `alerts.mqtt.qos`): every change on `<base>/alerts/<commune>/<kind>` (not retained); each
 * open alert also retained on `<base>/alerts/<commune>/<kind>/<alert id>`, emptied when it clears, so a
 * client subscribing to `<base>/alerts/+/+/+` gets the open alerts at once. Commune '*' for alerts of
 * no single commune.
 */
export class AlertManager implements AlertService {
  readonly engine: AlertEngine;
  private readonly store: AlertStore;
  private readonly webhooks: WebhookSender[];
  private readonly notifier: AlertNotifier | undefined;
  private readonly timeline = new EventTimeline();
  private readonly subscribers = new Set<{
    communes: readonly string[];
    listener: (alert: AlertView) => void;
  }>();
  private running = false;
  private tickTimer: Timer | undefined;
  private lastSave: Promise<void> = Promise.resolve();
  private readonly counters = { raised: 0, cleared: 0, mqttFailures: 0, eventLinesLost: 0 };

  constructor(private readonly deps: AlertManagerDeps) {
    this.engine = new AlertEngine({
      config: deps.config,
      catalog: deps.catalog,
      deviceCommune: deps.deviceCommune,
      deviceDownSince: deps.deviceDownSince,
      influxConfigured: deps.config.influx !== undefined,
      onChange: (alert, change) => this.changed(alert, change),
    });
    this.store = new AlertStore(deps.stateDir, deps.logger, deps.replicate);
    this.webhooks = deps.config.alerts.webhooks.map(
      (webhook) =>
        new WebhookSender(webhook, {
          configDir: deps.configDir,
          env: deps.env,
          clock: deps.clock,
          logger: deps.logger.child(`webhook:${webhook.id}`),
        }),
    );
    const notifications = deps.config.notifications;
    this.notifier = notifications
      ? new AlertNotifier({
          config: deps.config,
          notifications,
          bus: deps.bus,
          clock: deps.clock,
          logger: deps.logger.child('notifications'),
          configDir: deps.configDir,
          env: deps.env,
        })
      : undefined;
  }

  component(): Component {
    return { name: 'alerts', start: () => this.start(), stop: () => this.stop() };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { bus, clock } = this.deps;
    for (const webhook of this.webhooks) webhook.start();
    this.notifier?.start();
    const saved = await this.store.load();
    this.running = true;
    const now = clock.now();
    this.engine.restore(saved, now);
    bus.on('lightingReported', this, (report) => this.engine.observeLighting(report));
    bus.on('luminaireFaultChanged', this, (event) => this.engine.observeFault(event));
    bus.on('lightingCommandChanged', this, (event) => this.engine.observeCommand(event));
    bus.on('lightingDispatchFailed', this, (event) => this.engine.observeDispatchFailed(event));
    bus.on('deviceHealthChanged', this, ({ deviceId, health }) =>
      this.engine.observeDevice(deviceId, health, this.deps.clock.now()),
    );
    bus.on('telemetryHealthChanged', this, ({ health, at }) =>
      this.engine.observeTelemetry({ type: 'health', health }, at),
    );
    bus.on('telemetryDropped', this, ({ points, at }) =>
      this.engine.observeTelemetry({ type: 'dropped', points }, at),
    );
    bus.on('telemetryQuarantined', this, ({ points, at }) =>
      this.engine.observeTelemetry({ type: 'quarantined', points }, at),
    );
    this.deps.mqtt?.on('connected', this.onMqttConnected);
    for (const driver of this.deps.devices.all())
      this.engine.observeDevice(driver.deviceId, driver.health(), now);
    this.engine.observeTelemetry({ type: 'health', health: this.deps.storageHealth() }, now);
    this.scheduleTick();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.tickTimer) this.deps.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    this.deps.bus.removeListeners(this);
    this.deps.mqtt?.off('connected', this.onMqttConnected);
    for (const webhook of this.webhooks) {
      try {
        await webhook.stop();
      } catch (error) {
        this.deps.logger.error(
          `alerts: stopping webhook '${webhook.config.id}' failed: ${(error as Error).message}`,
        );
      }
    }
    try {
      await this.notifier?.stop();
    } catch (error) {
      this.deps.logger.error(`alerts: stopping notifications failed: ${(error as Error).message}`);
    }
    try {
      await this.lastSave;
      await this.store.flush();
    } catch (error) {
      this.deps.logger.error(`alerts: saving the alerts failed: ${(error as Error).message}`);
    }
  }

  /** The sampler's hook for points some rule watches. */
  observePoint(point: CatalogPoint, now: number): void {
    if (this.running) this.engine.observePoint(point, now);
  }

  /** Evaluates time-based conditions now (also done every `evaluate_s`). */
  tick(): void {
    if (this.running) this.engine.tick(this.deps.clock.now());
  }

  // ---------------------------------------------------------------- AlertService

  list(actor: Actor, options: { includeCleared?: boolean } = {}): AlertView[] {
    return this.engine
      .list(this.deps.clock.now(), options.includeCleared ?? false)
      .filter((alert) => coversAny(actor.communes, [alert.commune]));
  }

  async acknowledge(id: string, actor: Actor): Promise<AlertView> {
    if (!this.running) throw new AlertError('unavailable', 'the alert service is not running');
    const alert = this.engine.acknowledge(id, actor, this.deps.clock.now());
    try {
      await this.lastSave;
    } catch (error) {
      this.deps.logger.error(`alerts: acknowledgement of '${id}' not saved: ${(error as Error).message}`);
    }
    return alert;
  }

  subscribe(actor: Actor, listener: (alert: AlertView) => void): () => void {
    const entry = { communes: [...actor.communes], listener };
    this.subscribers.add(entry);
    return () => {
      this.subscribers.delete(entry);
    };
  }

  stats(): AlertStats {
    return {
      open: this.engine.openCount(),
      ...this.counters,
      webhooks: Object.fromEntries(this.webhooks.map((w) => [w.config.id, w.stats()])),
      ...(this.notifier ? { notifications: this.notifier.stats() } : {}),
    };
  }

  openCount(): number {
    return this.engine.openCount();
  }

  // ---------------------------------------------------------------- outputs

  private changed(alert: AlertView, change: AlertChange): void {
    if (change === 'raised') this.counters.raised++;
    if (change === 'cleared') this.counters.cleared++;
    const { logger, config } = this.deps;
    logger.info(`alert ${change}: ${alert.id} [${alert.severity}] ${alert.message}`);
    this.lastSave = this.store.save(() => this.engine.snapshot(this.deps.clock.now()));
    this.lastSave.catch((error: Error) => logger.error(`alerts: saving failed: ${error.message}`));
    const at =
      (change === 'raised'
        ? alert.raisedAt
        : change === 'acknowledged'
          ? alert.acknowledgedAt
          : alert.clearedAt) ?? this.deps.clock.now();
    const text = changeMessage(change, alert.message, alert.acknowledgedBy);
    if (config.alerts.influx) this.writeEvent(alert, change, text, at);
    if (config.alerts.mqtt.enabled) this.publish(alert);
    if (this.webhooks.length > 0) {
      const payload: WebhookPayload = {
        event: 'alert',
        change,
        text: `[${alert.severity}] ${text}`,
        alert,
        instance: config.service.instance,
        site: config.site.name,
      };
      for (const webhook of this.webhooks) if (webhook.accepts(alert, change)) webhook.enqueue(payload);
    }
    this.notifier?.notify(alert, change);
    for (const subscriber of this.subscribers) {
      if (!coversAny(subscriber.communes, [alert.commune])) continue;
      try {
        subscriber.listener({ ...alert });
      } catch (error) {
        logger.error(`alerts: a subscriber failed: ${(error as Error).message}`);
      }
    }
    this.deps.bus.emit('alertChanged', { alert: { ...alert } });
  }

  private writeEvent(alert: AlertView, change: AlertChange, message: string, at: number): void {
    const line = eventLine(
      this.timeline,
      { commune: alert.commune, kind: 'alert', severity: alert.severity },
      {
        message,
        source: alert.source,
        actor: change === 'acknowledged' ? (alert.acknowledgedBy ?? 'nocturne') : 'nocturne',
        state: change,
        id: alert.id,
        rule: alert.rule,
        alert: alert.kind,
        value: alert.value,
        code: alert.code,
        params: JSON.stringify(alert.params),
      },
      at,
    );
    this.deps.sink.write([line]).catch((error: Error) => {
      this.counters.eventLinesLost++;
      this.deps.logger.error(`alerts: event of ${alert.id} not stored: ${error.message}`);
    });
  }

  private publish(alert: AlertView): void {
    const mqtt = this.deps.mqtt;
    if (!mqtt) return;
    const qos = this.deps.config.alerts.mqtt.qos;
    const topic = `${mqtt.baseTopic}/alerts/${alert.commune}/${alert.kind}`;
    const payload = JSON.stringify(alert);
    const retained = alert.state === 'cleared' ? '' : payload;
    for (const [to, body, retain] of [
      [topic, payload, false],
      [`${topic}/${alert.id}`, retained, true],
    ] as const) {
      try {
        mqtt.publish(to, body, { qos, retain }).catch((error: Error) => this.mqttFailed(to, error));
      } catch (error) {
        this.mqttFailed(to, error as Error);
      }
    }
  }

  private mqttFailed(topic: string, error: Error): void {
    this.counters.mqttFailures++;
    this.deps.logger.warn(`alerts: MQTT publish to '${topic}' failed: ${error.message}`);
  }

  /** After a reconnection the broker may have lost retained messages: the open alerts again. */
  private readonly onMqttConnected = (info: { reconnect: boolean }): void => {
    if (!info.reconnect || !this.running || !this.deps.config.alerts.mqtt.enabled) return;
    const mqtt = this.deps.mqtt!;
    for (const alert of this.engine.list(this.deps.clock.now(), false)) {
      const topic = `${mqtt.baseTopic}/alerts/${alert.commune}/${alert.kind}/${alert.id}`;
      mqtt
        .publish(topic, JSON.stringify(alert), { qos: this.deps.config.alerts.mqtt.qos, retain: true })
        .catch((error: Error) => this.mqttFailed(topic, error));
    }
  };

  private scheduleTick(): void {
    const periodMs = this.deps.config.alerts.evaluate_s * 1000;
    this.tickTimer = this.deps.clock.setTimeout(() => {
      this.tickTimer = undefined;
      if (!this.running) return;
      try {
        this.engine.tick(this.deps.clock.now());
      } catch (error) {
        this.deps.logger.error(`alerts: evaluation failed: ${(error as Error).message}`, {
          stack: (error as Error).stack,
        });
      }
      this.scheduleTick();
    }, periodMs);
  }
}
