import type { MetricsReport } from '../health/report';
import type { Actor } from '../scope';
import { HEALTH_VALUE, single, type MetricFamily, type MetricSample } from './metrics';
import type { ApiServices } from './routes';

/** What the API itself counts. */
export interface HttpCounters {
  /** `METHOD endpoint status` → requests. */
  requests: Map<string, number>;
  /** Wrong or malformed tokens and tickets. */
  authFailures: number;
  /** Audit entries the API could not write. */
  auditFailures: number;
}

/** Metrics see the whole territory. */
const METRICS_ACTOR: Actor = {
  user: 'nocturne',
  role: 'admin',
  communes: ['*'],
  via: 'api',
  from: 'metrics',
};

/**
 * Every family /metrics shows, gathered when scraped. A subsystem that cannot answer (not started
 * yet, stopping) leaves its families out instead of failing the scrape: Prometheus then sees them
 * missing, and nocturne_health says why.
 */
export function collectMetrics(sources: {
  services: ApiServices;
  counters: HttpCounters;
  audit: { written: number; failed: number };
  streams: { open: number; refused: number; dropped: number };
}): MetricFamily[] {
  const { services, counters } = sources;
  const families: MetricFamily[] = [];
  const add = (gather: () => MetricFamily[]): void => {
    try {
      families.push(...gather());
    } catch {
      // Left out: see above.
    }
  };

  add(() => {
    const health = services.health();
    return [
      single(
        'nocturne_health',
        'Service health: 2 up, 1 degraded, 0 down.',
        'gauge',
        HEALTH_VALUE[health.status],
      ),
      {
        name: 'nocturne_device_health',
        help: 'Field device health: 2 up, 1 degraded, 0 down.',
        type: 'gauge',
        samples: health.devices.map((d) => ({
          labels: { device: d.id, commune: d.commune ?? '-', protocol: d.protocol },
          value: HEALTH_VALUE[d.health],
        })),
      },
      single(
        'nocturne_mqtt_health',
        'MQTT connection health: 2 up, 1 degraded, 0 down.',
        'gauge',
        HEALTH_VALUE[health.mqtt],
      ),
      single(
        'nocturne_influx_health',
        'InfluxDB health: 2 up, 1 degraded, 0 down, -1 none configured (telemetry kept in the spool).',
        'gauge',
        health.influx === 'not-configured' ? -1 : HEALTH_VALUE[health.influx],
      ),
      ...(health.role === undefined
        ? []
        : [
            single(
              'nocturne_cluster_leader',
              'With instances sharing a shard: 1 while this one leads it, 0 on standby.',
              'gauge',
              health.role === 'leader' ? 1 : 0,
            ),
          ]),
    ];
  });

  add(() => {
    const stats = services.lighting.stats();
    const counter = (name: string, help: string, value: number): MetricFamily =>
      single(name, help, 'counter', value);
    return [
      single('nocturne_luminaires', 'Luminaires configured.', 'gauge', stats.luminaires),
      single('nocturne_lighting_devices', 'Segment controllers driving luminaires.', 'gauge', stats.devices),
      {
        name: 'nocturne_presence_messages_total',
        help: 'Messages on presence sensor topics, by what became of them.',
        type: 'counter',
        samples: (['received', 'malformed', 'accepted', 'debounced'] as const).map((result) => ({
          labels: { result },
          value: stats.presence[result],
        })),
      },
      counter(
        'nocturne_dispatch_cycles_total',
        'Write cycles sent to segment controllers.',
        stats.dispatch.cycles,
      ),
      counter(
        'nocturne_dispatch_confirmed_total',
        'Luminaire levels confirmed by read-back.',
        stats.dispatch.confirmed,
      ),
      counter('nocturne_dispatch_retries_total', 'Write retries.', stats.dispatch.retries),
      counter(
        'nocturne_dispatch_failed_total',
        'Luminaires reported failed after their retries.',
        stats.dispatch.failed,
      ),
      counter(
        'nocturne_dispatch_reconciled_total',
        'Luminaires resent by the reconciler.',
        stats.dispatch.reconciled,
      ),
    ];
  });

  add(() => [
    {
      name: 'nocturne_commands_in_force',
      help: 'Emergency relights and manual overrides in force or pending.',
      type: 'gauge',
      samples: (['emergency', 'override'] as const).map((slot) => ({
        labels: { slot },
        value: services.lighting.commands(METRICS_ACTOR, slot).length,
      })),
    },
  ]);

  add(() => {
    const counts = new Map<string, number>();
    for (const alert of services.alerts.list(METRICS_ACTOR)) {
      const key = `${alert.severity} ${alert.state}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const samples: MetricSample[] = [];
    for (const severity of ['info', 'warning', 'critical'])
      for (const state of ['raised', 'acknowledged'])
        samples.push({ labels: { severity, state }, value: counts.get(`${severity} ${state}`) ?? 0 });
    return [
      { name: 'nocturne_alerts_open', help: 'Open alerts by severity and state.', type: 'gauge', samples },
    ];
  });

  add(() => [
    {
      name: 'nocturne_http_requests_total',
      help: 'HTTP requests by method, endpoint and status.',
      type: 'counter',
      samples: [...counters.requests].map(([key, value]) => {
        const [method, endpoint, status] = splitRequestKey(key);
        return { labels: { method, endpoint, status }, value };
      }),
    },
    single(
      'nocturne_http_auth_failures_total',
      'Requests with a wrong or malformed token or ticket.',
      'counter',
      counters.authFailures,
    ),
    single('nocturne_http_event_streams', 'Open server-sent event streams.', 'gauge', sources.streams.open),
    single(
      'nocturne_http_event_streams_refused_total',
      'Event streams refused: the user or the service had its most open.',
      'counter',
      sources.streams.refused,
    ),
    single(
      'nocturne_http_event_streams_dropped_total',
      'Event streams cut off because their client did not read.',
      'counter',
      sources.streams.dropped,
    ),
    single(
      'nocturne_audit_entries_total',
      'Entries written to the audit log.',
      'counter',
      sources.audit.written,
    ),
    single(
      'nocturne_audit_failures_total',
      'Audit entries that could not be written.',
      'counter',
      Math.max(sources.audit.failed, counters.auditFailures),
    ),
  ]);

  add(() => (services.metrics ? telemetryMetrics(services.metrics()) : []));
  return families;
}

/** `GET /api/zones/:id 200`: the endpoint itself holds a space. */
function splitRequestKey(key: string): [string, string, string] {
  const first = key.indexOf(' ');
  const last = key.lastIndexOf(' ');
  return [key.slice(0, first), key.slice(first + 1, last), key.slice(last + 1)];
}

/** The telemetry side's counters: InfluxDB writer and spool, MQTT, building points, alerts, devices. */
function telemetryMetrics(report: MetricsReport): MetricFamily[] {
  const counter = (name: string, help: string, value: number): MetricFamily =>
    single(name, help, 'counter', value);
  const gauge = (name: string, help: string, value: number): MetricFamily =>
    single(name, help, 'gauge', value);
  const perDevice = (
    name: string,
    help: string,
    pick: (d: MetricsReport['devices'][number]) => number,
  ): MetricFamily => ({
    name,
    help,
    type: 'counter',
    samples: report.devices.map((d) => ({ labels: { device: d.id, protocol: d.protocol }, value: pick(d) })),
  });
  const { influx, mqtt, telemetry, alerts } = report;
  return [
    perDevice('nocturne_device_requests_total', 'Requests sent to the device.', (d) => d.requests),
    perDevice('nocturne_device_errors_total', 'Requests that failed.', (d) => d.errors),
    perDevice(
      'nocturne_device_reconnects_total',
      'Connections re-established after a loss.',
      (d) => d.reconnects,
    ),
    {
      name: 'nocturne_device_messages_dropped_total',
      help: 'Messages of MQTT sources dropped, by reason (not JSON, unknown sensor, duplicate…).',
      type: 'counter',
      samples: report.devices.flatMap((d) =>
        Object.entries(d.dropped ?? {}).map(([reason, value]) => ({
          labels: { device: d.id, protocol: d.protocol, reason },
          value,
        })),
      ),
    },
    counter('nocturne_mqtt_received_total', 'MQTT messages received.', mqtt.received),
    counter('nocturne_mqtt_published_total', 'MQTT messages the broker took.', mqtt.published),
    counter('nocturne_mqtt_dropped_total', 'MQTT messages that could not be published.', mqtt.dropped),
    counter(
      'nocturne_mqtt_reconnects_total',
      'MQTT connections re-established after a loss.',
      mqtt.reconnects,
    ),
    counter('nocturne_mqtt_handler_errors_total', 'MQTT message handlers that failed.', mqtt.handlerErrors),
    ...(influx
      ? [
          counter('nocturne_influx_written_total', 'Points written to InfluxDB.', influx.written),
          counter('nocturne_influx_replayed_total', 'Points replayed from the spool.', influx.replayed),
          counter(
            'nocturne_influx_dropped_total',
            'Points dropped because the spool was full.',
            influx.dropped,
          ),
          counter(
            'nocturne_influx_quarantined_total',
            'Points InfluxDB refused, kept aside.',
            influx.quarantined,
          ),
          counter('nocturne_influx_torn_total', 'Spool records cut short by a crash.', influx.torn),
          gauge('nocturne_spool_points', 'Points waiting in the on-disk spool.', influx.spooledPoints),
          gauge('nocturne_spool_bytes', 'Bytes of the on-disk spool.', influx.spooledBytes),
          gauge(
            'nocturne_influx_lag_seconds',
            'Age of the oldest point not yet in InfluxDB.',
            influx.lagMs / 1000,
          ),
          gauge(
            'nocturne_influx_consecutive_failures',
            'InfluxDB writes failed in a row.',
            influx.consecutiveFailures,
          ),
        ]
      : []),
    gauge('nocturne_points', 'Building points configured.', telemetry.points),
    gauge('nocturne_points_subscribed', 'Building points read or monitored.', telemetry.subscribed),
    gauge('nocturne_points_refused', 'Building points refused at the start check.', telemetry.refused),
    counter('nocturne_samples_total', 'Samples received from building points.', telemetry.samples),
    counter('nocturne_samples_bad_total', 'Samples of bad quality.', telemetry.badSamples),
    counter('nocturne_telemetry_lines_total', 'Lines of telemetry produced.', telemetry.lines),
    counter('nocturne_telemetry_lines_lost_total', 'Lines of telemetry lost.', telemetry.lostLines),
    counter('nocturne_alerts_raised_total', 'Alerts raised.', alerts.raised),
    counter('nocturne_alerts_cleared_total', 'Alerts cleared.', alerts.cleared),
    counter(
      'nocturne_alerts_mqtt_failures_total',
      'Alerts that could not be published on MQTT.',
      alerts.mqttFailures,
    ),
    {
      name: 'nocturne_webhook_deliveries_total',
      help: 'Alert webhook deliveries by webhook and outcome.',
      type: 'counter',
      samples: Object.entries(alerts.webhooks).flatMap(([webhook, w]) => [
        { labels: { webhook, outcome: 'delivered' }, value: w.delivered },
        { labels: { webhook, outcome: 'failed_attempt' }, value: w.failedAttempts },
        { labels: { webhook, outcome: 'abandoned' }, value: w.abandoned },
      ]),
    },
    {
      name: 'nocturne_notifications_total',
      help: 'Alert messages to people (e-mail, SMS) by channel and outcome; abandoned: given up or dropped.',
      type: 'counter',
      samples: (['email', 'sms'] as const).flatMap((channel) => {
        const c = alerts.notifications?.[channel];
        return c
          ? [
              { labels: { channel, outcome: 'delivered' }, value: c.delivered },
              { labels: { channel, outcome: 'failed_attempt' }, value: c.failedAttempts },
              { labels: { channel, outcome: 'abandoned' }, value: c.abandoned },
            ]
          : [];
      }),
    },
  ];
}
