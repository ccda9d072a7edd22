import type { Health } from '../../drivers/driver';
import type { AlertView } from './services';

/**
 * What telemetry storage and the alert engine tell the rest of the service through the bus
 * (controller/bus.ts). The InfluxDB writer's own events, passed on so that alert rules (and anyone
 * else) hear them without holding the writer.
 */

/** The InfluxDB writer's health changed: up writing, degraded retrying, down unreachable or not configured. */
export interface TelemetryHealthChanged {
  at: number;
  health: Health;
  reason: string;
}

/** Points deleted unsent: the spool was full, or the quarantine file was. */
export interface TelemetryDropped {
  at: number;
  points: number;
  reason: 'spool-full' | 'quarantine-full';
  detail: string;
}

/** Points InfluxDB refused, kept in the quarantine file. */
export interface TelemetryQuarantined {
  at: number;
  points: number;
  reason: string;
  file: string;
}

/** An alert was raised, acknowledged or cleared. */
export interface AlertChanged {
  alert: AlertView;
}

/** The telemetry entries of the bus's EventMap. */
export interface TelemetryEventMap {
  telemetryHealthChanged: TelemetryHealthChanged;
  telemetryDropped: TelemetryDropped;
  telemetryQuarantined: TelemetryQuarantined;
  alertChanged: AlertChanged;
}
