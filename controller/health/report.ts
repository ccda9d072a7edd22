/** What /health and /metrics serve: controller/health/serviceHealth.ts gathers it from every subsystem. */

/** What /health reports. */
export interface HealthReport {
  status: 'up' | 'degraded' | 'down';
  devices: { id: string; commune?: string; protocol: string; health: 'up' | 'degraded' | 'down' }[];
  mqtt: 'up' | 'degraded' | 'down';
  /** 'down' also when no InfluxDB is configured (telemetry waits in the spool). */
  influx: 'up' | 'degraded' | 'down';
}

/** What /metrics reports: counters of the telemetry path, the alerts, MQTT and every device. */
export interface MetricsReport {
  /** The InfluxDB writer and its spool; undefined before it started. */
  influx:
    | {
        health: 'up' | 'degraded' | 'down';
        written: number;
        replayed: number;
        dropped: number;
        quarantined: number;
        torn: number;
        spooledPoints: number;
        spooledBytes: number;
        lagMs: number;
        consecutiveFailures: number;
      }
    | undefined;
  mqtt: {
    health: 'up' | 'degraded' | 'down';
    received: number;
    published: number;
    dropped: number;
    reconnects: number;
    handlerErrors: number;
  };
  /** Building points: configured, subscribed, refused at the start check; samples and lines since start. */
  telemetry: {
    points: number;
    subscribed: number;
    refused: number;
    samples: number;
    badSamples: number;
    skewedTimestamps: number;
    lines: number;
    lostLines: number;
  };
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
  };
  devices: {
    id: string;
    protocol: string;
    health: 'up' | 'degraded' | 'down';
    requests: number;
    errors: number;
    reconnects: number;
  }[];
}

/** Reached as `service.health`: what /health and /metrics serve. */
export interface ServiceHealth {
  report(): HealthReport;
  metrics(): MetricsReport;
}
