import { z } from 'zod';
import { Role } from './access';
import { ALERT_KINDS, AlertSeverity } from './alerts';
import { ClockTime, Id, SecretRef } from './common';

const HttpUrl = z
  .string()
  .regex(/^https?:\/\/[^/\s]+/, { message: "must be an 'http://' or 'https://' URL" });

const Secret = z.union([z.string(), SecretRef]);

export const QuietHours = z
  .strictObject({
    from: ClockTime.describe("Start, site time ('22:00')."),
    to: ClockTime.describe("End, site time ('07:00'); before `from`: the window crosses midnight."),
  })
  .describe('Local time window in which only critical alerts are sent; the others wait for its end.');

const Retries = {
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  retries: z.number().int().min(0).max(100).default(5).describe('Retries after a failed attempt.'),
  backoff_ms: z.number().int().min(10).max(600_000).default(2000).describe('First retry delay, doubling.'),
  max_queue: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe('Messages waiting for this channel; beyond it the oldest are dropped and counted.'),
};

export const EmailChannel = z
  .strictObject({
    host: z.string().min(1).describe('SMTP server.'),
    port: z.number().int().min(1).max(65_535).default(587),
    security: z
      .enum(['starttls', 'tls', 'none'])
      .default('starttls')
      .describe(
        'starttls: plain connection upgraded, required (port 587); tls: TLS from the start (465); none: loopback relays only.',
      ),
    user: Secret.optional().describe('SMTP user, or {env}/{file}.'),
    password: SecretRef.optional().describe('SMTP password: {env} or {file}, never in the YAML.'),
    from: z
      .string()
      .regex(/^[^\s<>@]+@[^\s<>@]+$|^.+<[^\s<>@]+@[^\s<>@]+>$/, {
        message: "must be an address 'alertes@mairie.fr' or 'Mairie <alertes@mairie.fr>'",
      })
      .describe('Sender address.'),
    ...Retries,
  })
  .describe('E-mail over SMTP (nodemailer).');

export const SmsChannel = z
  .strictObject({
    url: z
      .union([HttpUrl, SecretRef])
      .describe('Gateway URL; {to}, {text} and params placeholders are filled in (URL-encoded).'),
    method: z.enum(['POST', 'GET', 'PUT']).default('POST'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/), Secret)
      .default({})
      .describe('Request headers; secret values as {env} or {file}.'),
    params: z
      .record(z.string().regex(/^[a-z][a-z0-9_]*$/), Secret)
      .default({})
      .describe(
        'Named values for the placeholders of url and body ({account}, {api_key}…), secrets as {env} or {file}.',
      ),
    content_type: z
      .enum(['application/json', 'application/x-www-form-urlencoded', 'text/plain'])
      .default('application/json')
      .describe('How placeholders are escaped in the body: JSON string, form field, or as they are.'),
    body: z
      .string()
      .optional()
      .describe('Body template, e.g. {"to":"{to}","message":"{text}"}; absent: no body (GET gateways).'),
    success_status: z
      .array(z.number().int().min(100).max(599))
      .min(1)
      .default([200, 201, 202, 204])
      .describe('HTTP statuses that mean the gateway took the message.'),
    max_chars: z
      .number()
      .int()
      .min(20)
      .max(1600)
      .default(160)
      .describe('Texts are cut to this length (160: one SMS; 306: two).'),
    ...Retries,
  })
  .describe('SMS through an HTTP gateway described by a template: no code per provider.');

const Channel = z.enum(['email', 'sms']);

export const NotificationRoute = z.strictObject({
  roles: z.array(Role).min(1).describe('Recipients with one of these roles.'),
  min_severity: AlertSeverity.default('warning'),
  kinds: z.array(z.enum(ALERT_KINDS)).optional().describe('Only these rule kinds; absent: all.'),
  channels: z.array(Channel).min(1).default(['email', 'sms']).describe('Channels used for these alerts.'),
});

export const Recipient = z.strictObject({
  id: Id,
  name: z.string().optional(),
  user: Id.optional().describe('A configured user: role and communes come from it unless given here.'),
  role: Role.optional().describe('For routing; default: the user’s role.'),
  communes: z
    .array(z.union([Id, z.literal('*')]))
    .min(1)
    .optional()
    .describe("Alerts of these communes ('*': all); default: the user’s communes."),
  email: z
    .string()
    .regex(/^[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+$/, { message: "must be an e-mail address 'nom@mairie.fr'" })
    .optional(),
  phone: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, { message: "must be an international number '+33612345678' (E.164)" })
    .optional()
    .describe('Mobile number in E.164 form, for SMS.'),
  min_severity: AlertSeverity.optional().describe('Raises the routes’ minimum for this person only.'),
  on_acknowledge: z.boolean().default(false).describe('Also told when someone acknowledges.'),
  on_clear: z.boolean().default(false).describe('Also told when the alert clears.'),
  quiet_hours: z
    .union([QuietHours, z.literal(false)])
    .optional()
    .describe('This person’s quiet hours; false: none; absent: notifications.quiet_hours.'),
});

export const NotificationsSection = z
  .strictObject({
    console_url: HttpUrl.optional().describe('The console’s address, linked from every message.'),
    quiet_hours: QuietHours.optional(),
    email: EmailChannel.optional(),
    sms: SmsChannel.optional(),
    routes: z
      .array(NotificationRoute)
      .default([
        {
          roles: ['admin', 'lighting-manager', 'emergency', 'energy-manager', 'viewer'],
          min_severity: 'warning',
          channels: ['email', 'sms'],
        },
      ])
      .describe('Who receives what, by role: a recipient gets an alert when a route of its role matches.'),
    recipients: z.array(Recipient).default([]),
  })
  .describe('Alerts to people: e-mail and SMS, routed by role, commune and severity, with quiet hours.');
