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

/**
 * A message about an alert to a person was delivered or given up (after its retries). Names the
 * recipient by id, never by address: the audit log keeps it a year.
 */
export interface AlertNotificationSettled {
  at: number;
  alertId: string;
  change: 'raised' | 'acknowledged' | 'cleared';
  commune: string;
  recipient: string;
  channel: 'email' | 'sms';
  delivered: boolean;
  /** Why it was given up. */
  reason?: string;
}

/** The telemetry entries of the bus's EventMap. */
export interface TelemetryEventMap {
  telemetryHealthChanged: TelemetryHealthChanged;
  telemetryDropped: TelemetryDropped;
  telemetryQuarantined: TelemetryQuarantined;
  alertChanged: AlertChanged;
  alertNotificationSettled: AlertNotificationSettled;
}
