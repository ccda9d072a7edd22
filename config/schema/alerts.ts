import { z } from 'zod';
import { ClockTime, Id, SecretRef, Weekday } from './common';
import { PointRefText, Quantity } from './energy';

export const AlertSeverity = z.enum(['info', 'warning', 'critical']);

export const ALERT_KINDS = [
  'threshold',
  'outside-opening-hours',
  'lamp-by-day',
  'stale',
  'night-flow',
  'lamp-failure',
  'lamp-cycling',
  'level-mismatch',
  'device-unreachable',
  'telemetry-storage',
  'rate-of-change',
  'lighting-command-failed',
] as const;

/** Which building points a rule watches: every criterion given must match (a list matches any of its items). */
const PointScope = z
  .strictObject({
    communes: z.array(Id).optional(),
    buildings: z.array(Id).optional(),
    points: z.array(PointRefText).optional().describe("Points as 'building/point'."),
    quantities: z.array(Quantity).optional(),
  })
  .describe(
    'Points in scope: every criterion given must match; absent: all (or the kind’s default quantities).',
  );

const ZoneScope = z
  .strictObject({
    communes: z.array(Id).optional(),
    zones: z.array(Id).optional(),
  })
  .describe('Zones in scope; absent: all.');

const LuminaireScope = z
  .strictObject({
    communes: z.array(Id).optional(),
    zones: z.array(Id).optional(),
    luminaires: z.array(Id).optional(),
  })
  .describe('Luminaires in scope; absent: all.');

const DeviceScope = z
  .strictObject({
    communes: z.array(Id).optional(),
    devices: z.array(Id).optional(),
  })
  .describe('Devices in scope; absent: all.');

/** A sun event as a window edge: dusk is sunset, dawn sunrise (official twilight), at the source’s location. */
const SunEdge = z.strictObject({
  sun: z
    .enum(['dusk', 'dawn'])
    .describe('dusk: sunset, dawn: sunrise, at the building’s or zone’s location (else site.location).'),
  offset_min: z
    .number()
    .int()
    .min(-720)
    .max(720)
    .default(0)
    .describe('Minutes after the event (negative: before).'),
});

const WindowEdge = z.union([ClockTime, SunEdge], {
  error: "must be a clock time 'HH:MM' or {sun: dusk|dawn, offset_min: minutes}",
});

/** When a rule may raise: clock times or sun events, weekdays, public holidays. */
export const RuleWhen = z
  .strictObject({
    from: WindowEdge.optional().describe(
      "Window start: 'HH:MM' site time, or {sun: dusk|dawn, offset_min}; with `to`, or neither (whole days).",
    ),
    to: WindowEdge.optional().describe(
      'Window end: the first such time after the start (so 22:00 to 06:00 crosses midnight).',
    ),
    weekdays: z
      .array(Weekday)
      .min(1)
      .optional()
      .describe('Days on which a window starts; absent: every day.'),
    holidays: z
      .enum(['only', 'except'])
      .optional()
      .describe(
        'only: windows starting on a public holiday; except: all others; absent: holidays do not matter.',
      ),
    holiday_set: z
      .enum(['fr', 'fr-alsace-moselle'])
      .default('fr')
      .describe('Public holidays for `holidays`; fr-alsace-moselle adds Good Friday and 26 December.'),
  })
  .describe(
    'Only raised within this window (site time zone); an alert raised inside clears by its own condition, at any time.',
  );

const Seconds = (fallback: number, what: string): z.ZodDefault<z.ZodNumber> =>
  z.number().min(0).max(31_536_000).default(fallback).describe(what);

const ruleCommon = (severity: 'info' | 'warning' | 'critical') => ({
  id: Id,
  name: z.string().optional().describe('Shown with the alert.'),
  severity: AlertSeverity.default(severity),
  enabled: z.boolean().default(true),
  message: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Message template replacing the default one: {source}, {name}, {value}, {unit}, {rule}, {building}, {commune} are filled in.',
    ),
  when: RuleWhen.optional(),
});

export const ThresholdRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('threshold'),
  scope: PointScope.default({}),
  above: z.number().optional().describe('Raised while the value is above (meters: their rate per hour).'),
  below: z.number().optional().describe('Raised while the value is below.'),
  hysteresis: z
    .number()
    .min(0)
    .default(0)
    .describe('Cleared only once the value is back this far inside the limit.'),
  for_s: Seconds(0, 'The value must stay past the limit this long before the alert is raised.'),
  clear_for_s: Seconds(0, 'The value must stay back inside this long before the alert clears.'),
});

export const OutsideOpeningHoursRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('outside-opening-hours'),
  scope: PointScope.default({}).describe("Points in scope; default quantities: ['lights_on']."),
  above: z
    .number()
    .default(0.5)
    .describe('On when the value is above this: 0.5 for a 0/1 point, a setback temperature for heating.'),
  hysteresis: z.number().min(0).default(0),
  grace_min: z
    .number()
    .min(0)
    .max(1440)
    .default(30)
    .describe('Minutes before opening and after closing that still count as open.'),
  for_s: Seconds(900, 'On and closed for this long before the alert is raised.'),
});

export const LampByDayRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('lamp-by-day'),
  scope: ZoneScope.default({}),
  sun_altitude_deg: z
    .number()
    .min(-6)
    .max(60)
    .default(5)
    .describe('Day: the sun above this altitude at the zone (degrees).'),
  min_power_w: z.number().min(0).default(1).describe('Measured power above which a lamp burns.'),
  ignore_sources: z
    .array(z.enum(['emergency', 'override', 'presence', 'schedule', 'fail-safe']))
    .default(['emergency', 'override'])
    .describe('Luminaires lit by these on purpose are not reported.'),
  for_s: Seconds(1800, 'A luminaire burning by day this long raises the alert of its zone.'),
});

export const StaleRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('stale'),
  scope: PointScope.default({}),
  after_s: z
    .number()
    .positive()
    .optional()
    .describe(
      'Stale after this long without a good value; default: the point’s own threshold (telemetry.stale_factor).',
    ),
});

export const NightFlowRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('night-flow'),
  scope: PointScope.default({}).describe("Points in scope; default quantities: ['water_flow']."),
  from: ClockTime.default('01:00').describe('Night window start, site time.'),
  to: ClockTime.default('05:00').describe('Night window end, site time.'),
  above: z.number().min(0).describe('Flow (point unit; meters: their rate per hour) that means a leak.'),
  hysteresis: z.number().min(0).default(0),
  for_s: Seconds(1800, 'Flowing this long within the window before the alert is raised.'),
});

/** The luminaire faults the lighting runtime reports (controller/lighting/runtime/events.ts) a rule may follow. */
const LAMP_FAULTS = [
  'lamp-failure',
  'driver-failure',
  'relay-failure',
  'communication-failure',
  'no-power',
  'power-mismatch',
] as const;

export const LampFailureRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('lamp-failure'),
  scope: LuminaireScope.default({}),
  faults: z
    .array(z.enum(LAMP_FAULTS))
    .min(1)
    .default([...LAMP_FAULTS])
    .describe('Faults the lighting runtime reports that raise this alert.'),
  for_s: Seconds(60, 'The fault must last this long.'),
});

export const LampCyclingRule = z.strictObject({
  ...ruleCommon('info'),
  kind: z.literal('lamp-cycling'),
  scope: LuminaireScope.default({}),
  transitions: z
    .number()
    .int()
    .min(2)
    .max(1000)
    .default(6)
    .describe('On/off changes without a change of command, within the window, that raise the alert.'),
  window_s: Seconds(900, 'The window; the alert clears after a whole window without a change.'),
});

export const LevelMismatchRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('level-mismatch'),
  scope: ZoneScope.default({}),
  tolerance: z
    .number()
    .min(0)
    .max(100)
    .default(2)
    .describe('Percentage points by which commanded, in-effect and output levels may differ.'),
  for_s: Seconds(600, 'A luminaire disagreeing this long raises the alert of its zone.'),
});

export const DeviceUnreachableRule = z.strictObject({
  ...ruleCommon('critical'),
  kind: z.literal('device-unreachable'),
  scope: DeviceScope.default({}),
  for_s: Seconds(60, 'Down this long before the alert is raised.'),
});

export const TelemetryStorageRule = z.strictObject({
  ...ruleCommon('critical'),
  kind: z.literal('telemetry-storage'),
  for_s: Seconds(
    300,
    'InfluxDB unreachable this long before the alert is raised (points wait in the spool).',
  ),
  quiet_s: Seconds(3600, 'Points dropped or quarantined: the alert clears after this long without more.'),
});

export const RateOfChangeRule = z.strictObject({
  ...ruleCommon('warning'),
  kind: z.literal('rate-of-change'),
  scope: PointScope.default({}),
  direction: z.enum(['rise', 'fall']).default('rise').describe('Raised on a rise, or on a fall.'),
  per_hour: z
    .number()
    .positive()
    .describe(
      'Change per hour, in the point’s unit (meters: their rate per hour), beyond which it is raised.',
    ),
  over_min: z
    .number()
    .min(1)
    .max(1440)
    .default(30)
    .describe(
      'The change is measured over this many minutes: latest value against the value this long before.',
    ),
  hysteresis: z
    .number()
    .min(0)
    .default(0)
    .describe('Cleared only once the change per hour is back this far inside per_hour.'),
  for_s: Seconds(0, 'The change must stay beyond per_hour this long before the alert is raised.'),
  clear_for_s: Seconds(0, 'The change must stay back inside this long before the alert clears.'),
});

export const LightingCommandFailedRule = z.strictObject({
  ...ruleCommon('critical'),
  kind: z.literal('lighting-command-failed'),
  scope: z
    .strictObject({
      communes: z.array(Id).optional(),
      commands: z
        .array(z.enum(['relight', 'override']))
        .min(1)
        .optional()
        .describe('Emergency relights, overrides; absent: both.'),
    })
    .default({})
    .describe('Commands in scope: any of their communes listed (territory-wide ones always); absent: all.'),
  tolerance: z
    .number()
    .min(0)
    .max(100)
    .default(2)
    .describe(
      'Percentage points: a failed luminaire is covered once it reads back its decided level within this.',
    ),
  for_s: Seconds(0, 'Failed and not covered this long before the alert is raised.'),
});

export const AlertRule = z.discriminatedUnion('kind', [
  ThresholdRule,
  OutsideOpeningHoursRule,
  LampByDayRule,
  StaleRule,
  NightFlowRule,
  LampFailureRule,
  LampCyclingRule,
  LevelMismatchRule,
  DeviceUnreachableRule,
  TelemetryStorageRule,
  RateOfChangeRule,
  LightingCommandFailedRule,
]);

const HttpUrl = z
  .string()
  .regex(/^https?:\/\/[^/\s]+/, { message: "must be an 'http://' or 'https://' URL" });

export const AlertWebhook = z.strictObject({
  id: Id,
  url: z
    .union([HttpUrl, SecretRef])
    .describe('Where alerts are POSTed; a secret reference when the URL itself holds a token.'),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/), z.union([z.string(), SecretRef]))
    .default({})
    .describe('Extra request headers; secret values as {env} or {file}.'),
  min_severity: AlertSeverity.default('warning'),
  states: z
    .array(z.enum(['raised', 'acknowledged', 'cleared']))
    .min(1)
    .default(['raised', 'acknowledged', 'cleared']),
  communes: z.array(Id).optional().describe('Only alerts of these communes; absent: all.'),
  kinds: z.array(z.enum(ALERT_KINDS)).optional().describe('Only these rule kinds; absent: all.'),
  timeout_ms: z.number().int().min(100).max(120_000).default(5000),
  retries: z.number().int().min(0).max(100).default(5),
  backoff_ms: z.number().int().min(10).max(600_000).default(1000).describe('First retry delay, doubling.'),
  max_queue: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(1000)
    .describe('Alert changes waiting for this webhook; beyond it the oldest are dropped and counted.'),
});

export const AlertsSection = z
  .strictObject({
    evaluate_s: z
      .number()
      .min(0.1)
      .max(3600)
      .default(10)
      .describe('How often time-based conditions are evaluated (durations, windows, staleness, the sun).'),
    keep_cleared_h: z.number().min(0).max(8760).default(24).describe('Cleared alerts listed this long.'),
    mqtt: z
      .strictObject({
        enabled: z.boolean().default(true),
        qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
      })
      .default({ enabled: true, qos: 1 })
      .describe('Alert changes on <base_topic>/alerts/<commune>/<kind>; open alerts retained per alert.'),
    influx: z.boolean().default(true).describe('Alert changes as event points (Grafana annotations).'),
    webhooks: z.array(AlertWebhook).default([]),
    rules: z.array(AlertRule).default([]),
  })
  .default({
    evaluate_s: 10,
    keep_cleared_h: 24,
    mqtt: { enabled: true, qos: 1 },
    influx: true,
    webhooks: [],
    rules: [],
  });
