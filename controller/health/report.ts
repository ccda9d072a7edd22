import type { Health } from '../../drivers/driver';
import type { InfluxWriterStats } from '../../drivers/influx/writer';
import type { MessagingStats } from '../../drivers/messaging';
import type { SamplerStats } from '../telemetry/sampler';

/** What /health and /metrics serve: controller/health/serviceHealth.ts gathers it from every subsystem. */

/** The parts of the service whose health /health sums up. */
export type HealthPart = 'devices' | 'mqtt' | 'influx';

/** What /health reports. */
export interface HealthReport {
  status: 'up' | 'degraded' | 'down';
  /** The parts not up, when the status is degraded: what to look at first. */
  degraded: HealthPart[];
  /** With instances sharing a shard (cluster.etcd): whether this one leads it or stands by. */
  role?: 'leader' | 'standby';
  devices: { id: string; commune?: string; protocol: string; health: 'up' | 'degraded' | 'down' }[];
  mqtt: 'up' | 'degraded' | 'down';
  /** 'not-configured': no InfluxDB, on purpose (telemetry waits in the spool); not a fault. */
  influx: 'up' | 'degraded' | 'down' | 'not-configured';
}

/** What /metrics reports: counters of the telemetry path, the alerts, MQTT and every device. */
export interface MetricsReport {
  /** The InfluxDB writer and its spool; undefined before it started. */
  influx:
    | Pick<
        InfluxWriterStats,
        | 'health'
        | 'written'
        | 'replayed'
        | 'dropped'
        | 'quarantined'
        | 'torn'
        | 'spooledPoints'
        | 'spooledBytes'
        | 'lagMs'
        | 'consecutiveFailures'
      >
    | undefined;
  mqtt: { health: Health } & MessagingStats;
  /** Building points: configured, subscribed, refused at the start check; samples and lines since start. */
  telemetry: SamplerStats;
  alerts: {
    open: number;
    raised: number;
    cleared: number;
    mqttFailures: number;
    eventLinesLost: number;
    webhooks: Record<
      string,
      { delivered: number; failedAttempts: number; abandoned: number; queued: number }
    >;
    /** E-mails and SMS to people, per channel; absent without a `notifications` section. */
    notifications?: {
      email?: { delivered: number; failedAttempts: number; abandoned: number; queued: number };
      sms?: { delivered: number; failedAttempts: number; abandoned: number; queued: number };
      held: number;
    };
  };
  devices: {
    id: string;
    protocol: string;
    health: 'up' | 'degraded' | 'down';
    requests: number;
    errors: number;
    reconnects: number;
    /** Messages dropped by reason (MQTT sources). */
    dropped?: Readonly<Record<string, number>>;
  }[];
}

/** Reached as `service.health`: what /health and /metrics serve. */
export interface ServiceHealth {
  report(): HealthReport;
  metrics(): MetricsReport;
}
