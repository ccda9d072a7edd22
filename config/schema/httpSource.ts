import { z } from 'zod';
import { Id, SecretRef } from './common';

/** A URL the service polls: http or https, with a host, and one `new URL()` accepts. */
const PolledUrl = z
  .string()
  .regex(/^https?:\/\/[^/\s?#]+/, {
    message: "must be an 'http://' or 'https://' URL, e.g. 'https://hubeau.eaufrance.fr/api/v2/…'",
    abort: true,
  })
  .refine((url) => URL.canParse(url), { message: 'is not a valid URL (spaces or bad characters?)' })
  .describe('The JSON document to poll, query string included.');

/** A dot path in a JSON document; array indexes are parts ('data.0.resultat_obs'). */
const DotPath = z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, {
  message: "must be a dot path such as 'data.0.resultat_obs' (no empty parts, no spaces)",
});

/**
 * A public service's JSON document polled over HTTP (Hub'Eau hydrometry, air-quality open data):
 * points read values from it by path (drivers/http/jsonSource.ts).
 */
export const HttpJsonDevice = z.strictObject({
  id: Id,
  name: z.string().optional(),
  commune: Id.optional().describe('Commune that owns the device.'),
  protocol: z.literal('http-json'),
  url: PolledUrl,
  period_s: z
    .number()
    .min(10)
    .max(86_400)
    .default(600)
    .describe('Time between polls in seconds; a public API asks for minutes, not seconds.'),
  timeout_ms: z
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(10_000)
    .describe('Time one request may take, body included.'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(10)
    .default(2)
    .describe(
      'Retries of a poll after a timeout, a network error, a 5xx or a 429, with growing delays; a 4xx is not retried.',
    ),
  headers: z
    .record(
      z.string().regex(/^[A-Za-z0-9-]+$/, { message: 'must be an HTTP header name' }),
      z.union([z.string().regex(/^[^\r\n]*$/, { message: 'must be one line' }), SecretRef]),
    )
    .optional()
    .describe('Extra request headers, e.g. an API key; secret values as {env: NAME} or {file: path}.'),
  time_path: DotPath.optional().describe(
    "Dot path of the observation time in the document (ISO 8601 or epoch s/ms), e.g. 'data.0.date_obs'; absent: the Last-Modified or Date header, else the reception time.",
  ),
  lighting: z
    .never({ error: 'an HTTP JSON source only reads values: luminaires are driven over Modbus or OPC UA' })
    .optional(),
});

/** Where a point's value is in the document of an `http-json` device, and how it becomes a number. */
export const HttpBinding = z.strictObject({
  path: DotPath.describe("Dot path of the value in the document, e.g. 'data.0.resultat_obs'."),
  scale: z.number().default(1).describe('Engineering value = raw * scale + offset (mm → m: 0.001).'),
  offset: z.number().default(0),
  states: z
    .record(z.string().min(1), z.number())
    .optional()
    .describe('Text values to numbers, compared without case, e.g. {bon: 1, moyen: 2, dégradé: 3}.'),
});

export type HttpJsonDeviceConfig = z.output<typeof HttpJsonDevice>;
export type HttpBindingConfig = z.output<typeof HttpBinding>;
