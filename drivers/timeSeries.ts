/**
 * The time-series port: where the controller hands its points, as lines of InfluxDB line protocol
 * (drivers/influx/lineProtocol.ts escapes them; controller/telemetry/points.ts prepares each point's
 * prefix once, so a sample becomes a line by concatenation on the hot path). TelemetryStorage
 * implements it with the spool and the InfluxDB writer (drivers/influx/).
 */
export interface LineSink {
  /** Resolves once the lines are safe (on disk); rejects when they could not be taken. */
  write(lines: readonly string[]): Promise<void>;
}
