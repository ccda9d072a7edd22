import { z } from 'zod';

/** Identifiers end up in MQTT topics, InfluxDB tags and URLs, so they stay plain. */
export const Id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, {
    message: "must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit",
  })
  .describe('Identifier: lowercase letters, digits, - and _; unique within its list.');

export const Level = z.number().min(0).max(100).describe('Light level in percent of full output (0-100).');

export const Latitude = z.number().min(-90).max(90).describe('Latitude in decimal degrees (WGS84).');
export const Longitude = z.number().min(-180).max(180).describe('Longitude in decimal degrees (WGS84).');
export const Location = z.strictObject({ lat: Latitude, lon: Longitude }).describe('A WGS84 position.');

export const ClockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: "must be a clock time 'HH:MM' (00:00-23:59)" });

export const TimeZone = z
  .string()
  .refine(isIanaTimeZone, { message: "must be an IANA time zone such as 'Europe/Paris'" })
  .describe('IANA time zone name.');

export const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

/** A date in the year ('07-14') or a full date ('2026-07-14'). */
export const CalendarDate = z.string().regex(/^(\d{4}-)?(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, {
  message: "must be a date 'MM-DD' (every year) or 'YYYY-MM-DD'",
});

/** Secrets never sit in the YAML: the file names where to find them. */
export const SecretRef = z
  .union([
    z.strictObject({
      env: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/)
        .describe('Environment variable holding the secret.'),
    }),
    z.strictObject({
      file: z.string().min(1).describe('File holding the secret (trailing newline removed).'),
    }),
  ])
  .describe('Where the secret comes from: {env: NAME} or {file: path}. Never the secret itself.');

export function isIanaTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
