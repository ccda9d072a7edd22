import { z } from 'zod';
import { isIPv4, isIPv6 } from 'node:net';
import { Location, SecretRef, TimeZone } from './common';

export const Site = z.strictObject({
  name: z.string().min(1),
  timezone: TimeZone.default('Europe/Paris'),
  location: Location.describe('Default location for the sun when a zone gives none.'),
});

export const ServiceSection = z
  .strictObject({
    instance: z
      .string()
      .default('nocturne')
      .describe('Name of this instance (MQTT client id, InfluxDB tag).'),
    state_dir: z.string().default('./var').describe('Persisted relights, overrides, audit log and spool.'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    log_format: z.enum(['json', 'pretty']).default('json'),
    shutdown_timeout_s: z.number().min(1).max(120).default(10),
    audit_file_mb: z
      .number()
      .min(1)
      .max(1024)
      .default(16)
      .describe('An audit file is closed and the next one started at this size (and at each UTC day).'),
    audit_max_mb: z
      .number()
      .min(2)
      .max(1_000_000)
      .default(1024)
      .describe('Bound on all audit files together: beyond it the oldest files are deleted.'),
    audit_retention_days: z
      .number()
      .int()
      .min(1)
      .max(3660)
      .default(366)
      .describe('Audit files of days older than this are deleted.'),
    audit_ip_days: z
      .number()
      .int()
      .min(1)
      .max(3660)
      .default(30)
      .describe(
        'Client IP addresses in audit entries older than this are truncated (IPv4 to /24, IPv6 to /48).',
      ),
  })
  .default({
    instance: 'nocturne',
    state_dir: './var',
    log_level: 'info',
    log_format: 'json',
    shutdown_timeout_s: 10,
    audit_file_mb: 16,
    audit_max_mb: 1024,
    audit_retention_days: 366,
    audit_ip_days: 30,
  });

/** A listening address: never empty, which Node reads as every interface. */
const ListenHost = z
  .string()
  .min(1, {
    message: "must name an address ('127.0.0.1', '::1', or '0.0.0.0' for every interface); empty is refused",
  })
  .describe("Address to listen on; '0.0.0.0' or '::' means every interface.");

/** An IPv4 or IPv6 address, optionally with a prefix length ('10.0.0.0/8', '::1', 'fd00::/8'). */
const AddressOrPrefix = z.string().refine(isAddressOrPrefix, {
  message: "must be an IP address or a prefix such as '10.0.0.0/8' or 'fd00::/8'",
});

/**
 * A tile server for the console's map: its origin is added to the console's Content Security Policy
 * (img-src), so it must be a plain https (or http) URL whose host is fixed, or starts with a `{s}` label.
 */
export const MapTiles = z.strictObject({
  url: z
    .string()
    .regex(
      /^https?:\/\/(\{s\}\.)?[a-z0-9.-]+(:\d{1,5})?\/[^\s'";]*\{z\}[^\s'";]*\{x\}[^\s'";]*\{y\}[^\s'";]*$/,
      {
        message:
          "must be an http(s) tile URL with {z}, {x} and {y}, such as 'https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png'",
      },
    )
    .describe('Tile URL template: {z}/{x}/{y}, and optionally {s} as the first label of the host.'),
  attribution: z.string().min(1).max(300).describe('Shown on the map, as the tile provider’s licence asks.'),
  max_zoom: z.number().int().min(1).max(22).default(19),
});

export const HttpSection = z
  .strictObject({
    host: ListenHost.default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    trusted_proxies: z
      .array(AddressOrPrefix)
      .default([])
      .describe(
        'Reverse proxies whose X-Forwarded-For is believed (addresses or prefixes). Empty: the peer address is the client.',
      ),
    map_tiles: MapTiles.optional().describe(
      'Background tiles of the console’s map. Absent: the map is drawn from the configuration alone (no tile server).',
    ),
    session_days: z
      .number()
      .min(0.01)
      .max(400)
      .default(30)
      .describe(
        'How long a person signed in to the console stays signed in on that device (days); an administrator can end it sooner.',
      ),
    public_url: z
      .string()
      .regex(/^https?:\/\/[^/?#]+\/?$/, { message: "must be 'https://host[:port]', with no path" })
      .optional()
      .describe(
        'Address at which phones reach the console, for enrolment links. Absent: the address the administrator used.',
      ),
  })
  .default({ host: '127.0.0.1', port: 8080, trusted_proxies: [], session_days: 30 });

/** How a client reaches a broker: credentials, TLS, keepalive and reconnection (the service's, and MQTT sources' own). */
export const BROKER_ACCESS = {
  username: z.string().optional(),
  password: SecretRef.optional(),
  tls: z
    .strictObject({
      ca_file: z.string().optional(),
      cert_file: z.string().optional(),
      key_file: z.string().optional(),
      reject_unauthorized: z.boolean().default(true),
    })
    .optional(),
  keepalive_s: z.number().int().min(5).max(3600).default(30),
  reconnect_ms: z.number().int().min(100).max(600_000).default(2000),
};

export const MqttSection = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mqtts?|wss?|tcp|ssl):\/\/.+/)
      .optional()
      .describe('Broker URL. Absent: an embedded broker is started on embedded_port.'),
    embedded_host: ListenHost.default('127.0.0.1').describe(
      'Address of the embedded broker, which has no authentication: a non-loopback address needs embedded_expose.',
    ),
    embedded_expose: z
      .boolean()
      .default(false)
      .describe(
        'true lets the unauthenticated embedded broker listen beyond loopback. Anyone who reaches it can publish requests.',
      ),
    embedded_port: z.number().int().min(0).max(65535).default(1883),
    base_topic: z
      .string()
      .regex(/^[^+#]+$/)
      .default('nocturne'),
    client_id: z.string().optional(),
    ...BROKER_ACCESS,
    clean_session: z
      .boolean()
      .default(false)
      .describe('false keeps the session (and queued QoS 1 messages) across reconnects.'),
  })
  .default({
    embedded_host: '127.0.0.1',
    embedded_expose: false,
    embedded_port: 1883,
    base_topic: 'nocturne',
    keepalive_s: 30,
    reconnect_ms: 2000,
    clean_session: false,
  });

export const InfluxSection = z.strictObject({
  url: z.string().regex(/^https?:\/\/.+/),
  org: z.string().default(''),
  bucket: z.string().min(1).describe('Bucket (InfluxDB 2/3) or database/retention policy (InfluxDB 1.8+).'),
  token: SecretRef.optional(),
  batch_size: z.number().int().min(1).max(100_000).default(5000),
  flush_ms: z.number().int().min(10).max(60_000).default(1000),
  gzip: z.boolean().default(true),
  spool_max_mb: z
    .number()
    .min(1)
    .max(1_000_000)
    .default(512)
    .describe('On-disk spool bound; beyond it the oldest points are dropped.'),
  spool_sync_ms: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(100)
    .describe(
      'Least time between two spool fsyncs. A point is written to the spool file as it comes, which a crash of the service cannot lose; a power cut can lose the points of the last interval and of the sync in progress. 0: a sync after every write, which costs CPU at high rates.',
    ),
});

function isAddressOrPrefix(text: string): boolean {
  const [address, prefix, ...rest] = text.split('/');
  if (rest.length > 0) return false;
  const bits = isIPv4(address) ? 32 : isIPv6(address) ? 128 : 0;
  if (bits === 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
}
