import { isUtf8 } from 'node:buffer';
import { excerpt } from '../../core/excerpt';

/**
 * Messages of sensors published over MQTT, most often LoRaWAN uplinks decoded by a network server
 * (../shared/FIELD.md): which topic names which sensor, where the decoded values, the time and the radio
 * quality are in the payload, and how a field becomes a number. Pure: no I/O, no clock.
 */

export const UPLINK_FORMATS = ['chirpstack-v4', 'ttn-v3', 'json', 'plain'] as const;
export type UplinkFormat = (typeof UPLINK_FORMATS)[number];

/** The topic each format's network server publishes on; `json` and `plain` have none of their own. */
export const DEFAULT_TOPICS: Readonly<Partial<Record<UplinkFormat, string>>> = {
  'chirpstack-v4': 'application/{application_id}/device/{dev_eui}/event/{event}',
  'ttn-v3': 'v3/{application_id}@{tenant_id}/devices/{device_id}/up',
};

/** The capture that names the sensor, for formats that have one. */
export const SENSOR_CAPTURE: Readonly<Partial<Record<UplinkFormat, string>>> = {
  'chirpstack-v4': 'dev_eui',
  'ttn-v3': 'device_id',
};

/** Radio and battery readings a LoRaWAN network server adds to every uplink: points with no configuration. */
export const RADIO_FIELDS = ['rssi', 'snr', 'battery'] as const;
export type RadioField = (typeof RADIO_FIELDS)[number];

/** Why a message or one of its values was dropped; counted per device and logged once per interval. */
export type DropReason =
  | 'unknown-sensor' // no point is bound to the sensor the topic names
  | 'not-json'
  | 'not-object'
  | 'no-values' // the uplink carries no decoded values (no codec on the network server)
  | 'bad-time'
  | 'missing-field'
  | 'wrong-type'
  | 'duplicate'
  | 'out-of-order';

export const DROP_REASONS: readonly DropReason[] = [
  'unknown-sensor',
  'not-json',
  'not-object',
  'no-values',
  'bad-time',
  'missing-field',
  'wrong-type',
  'duplicate',
  'out-of-order',
];

export interface TopicPattern {
  /** The MQTT subscription filter: each segment with a capture becomes `+`. */
  readonly filter: string;
  readonly captures: readonly string[];
  /** The captures of a topic, or undefined when the topic does not match the pattern. */
  match(topic: string): Record<string, string> | undefined;
}

const CAPTURE = /\{([a-z_][a-z0-9_]*)\}/g;

/**
 * Compiles `application/{application_id}/device/{dev_eui}/event/{event}`: literal segments, named captures
 * of a whole segment or part of one (`{app}@{tenant}`), and an optional trailing `#`. Throws on a pattern
 * MQTT cannot subscribe to, saying why.
 */
export function compileTopicPattern(pattern: string): TopicPattern {
  const segments = pattern.split('/');
  const captures: string[] = [];
  const filter: string[] = [];
  const regex: string[] = [];
  segments.forEach((segment, k) => {
    if (segment === '#') {
      if (k !== segments.length - 1) throw new Error(`'#' must be the last segment of '${pattern}'`);
      filter.push('#');
      regex.push('.*');
      return;
    }
    if (segment.includes('+') || segment.includes('#'))
      throw new Error(`segment '${segment}' of '${pattern}': name a capture '{name}' instead of '+' or '#'`);
    const names = [...segment.matchAll(CAPTURE)].map((m) => m[1]);
    if (segment.replace(CAPTURE, '').includes('{') || segment.replace(CAPTURE, '').includes('}'))
      throw new Error(`segment '${segment}' of '${pattern}': a capture is '{name}' in lower case`);
    for (const name of names) {
      if (captures.includes(name)) throw new Error(`capture '{${name}}' appears twice in '${pattern}'`);
      captures.push(name);
    }
    filter.push(names.length > 0 ? '+' : segment);
    // A capture of a whole segment matches greedily, which needs no backtracking; one of part of a segment
    // (`{app}@{tenant}`) lazily, so that the literal after it splits the segment at its first occurrence.
    const quantifier = names.length === 1 && segment === `{${names[0]}}` ? '+' : '+?';
    regex.push(
      segment
        .split(CAPTURE)
        .map((part, j) => (j % 2 === 1 ? `(?<${part}>[^/]${quantifier})` : escapeRegExp(part)))
        .join(''),
    );
  });
  const compiled = new RegExp(`^${regex.join('/')}$`);
  return {
    filter: filter.join('/'),
    captures,
    match(topic) {
      // A fresh object per match, with no prototype to collide with a capture's name.
      const m = compiled.exec(topic);
      return m ? (m.groups ?? {}) : undefined;
    },
  };
}

/** One message read by its format: what the points bound to its sensor read from. */
export interface Uplink {
  /** Root of the values: `object` (ChirpStack), `uplink_message.decoded_payload` (TTS), the payload (json), the text (plain). */
  values: unknown;
  /** When the network server or the payload says the values were taken (epoch ms). */
  time?: number;
  /** Equal for two deliveries of one uplink. */
  dedup?: string;
  radio: Partial<Record<RadioField, number>>;
  /** The message carries only radio or status readings (a ChirpStack `status` event). */
  statusOnly?: boolean;
}

export type UplinkResult =
  { ok: true; uplink: Uplink } | { ok: false; reason: DropReason; detail: string } | { ok: 'ignored' };

export interface FormatOptions {
  format: UplinkFormat;
  /** `json`: dot path of the time in the payload (ISO 8601 or epoch ms/s); absent: reception time. */
  timePath?: readonly string[];
}

/** Reads one message: the values' root, its time, its duplicate key and its radio quality, or why not. */
export function readUplink(
  payload: Buffer,
  captures: Readonly<Record<string, string>>,
  options: FormatOptions,
): UplinkResult {
  // JSON text is UTF-8 (RFC 8259 §8.1): other bytes would decode to U+FFFD and pass as a value.
  if (!isUtf8(payload)) return { ok: false, reason: 'not-json', detail: 'bytes that are not UTF-8' };
  const text = payload.toString('utf8');
  if (options.format === 'plain') return { ok: true, uplink: { values: text.trim(), radio: {} } };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: 'not-json', detail: `not JSON (${(error as Error).message.slice(0, 80)})` };
  }
  if (!isObject(body)) return { ok: false, reason: 'not-object', detail: 'not a JSON object' };
  switch (options.format) {
    case 'chirpstack-v4':
      return readChirpstack(body, captures.event);
    case 'ttn-v3':
      return readTtn(body);
    case 'json':
      return readJson(body, options.timePath);
  }
}

function readChirpstack(body: Record<string, unknown>, event: string | undefined): UplinkResult {
  if (event === 'status') {
    // {deduplicationId, time, deviceInfo, margin, externalPowerSource, batteryLevel, batteryLevelUnavailable}
    const time = readTime(body.time);
    if (time === 'bad') return badTime(body.time);
    const radio: Uplink['radio'] = {};
    if (typeof body.batteryLevel === 'number' && body.batteryLevelUnavailable !== true)
      radio.battery = body.batteryLevel;
    return {
      ok: true,
      uplink: { values: {}, time, dedup: dedupOf(body.deduplicationId), radio, statusOnly: true },
    };
  }
  if (event !== undefined && event !== 'up') return { ok: 'ignored' }; // join, ack, txack, log, location
  const time = readTime(body.time);
  if (time === 'bad') return badTime(body.time);
  const radio = bestReception(body.rxInfo, 'rssi', 'snr');
  if (!isObject(body.object))
    return {
      ok: false,
      reason: 'no-values',
      detail: "no decoded 'object' (does the device profile have a codec?)",
    };
  return { ok: true, uplink: { values: body.object, time, dedup: dedupOf(body.deduplicationId), radio } };
}

function readTtn(body: Record<string, unknown>): UplinkResult {
  const uplink = body.uplink_message;
  if (!isObject(uplink)) return { ok: false, reason: 'no-values', detail: "no 'uplink_message'" };
  const time = readTime(body.received_at ?? uplink.received_at);
  if (time === 'bad') return badTime(body.received_at);
  const radio = bestReception(uplink.rx_metadata, 'rssi', 'snr');
  const battery = uplink.last_battery_percentage;
  if (isObject(battery) && typeof battery.value === 'number') radio.battery = battery.value;
  if (!isObject(uplink.decoded_payload))
    return {
      ok: false,
      reason: 'no-values',
      detail: "no 'uplink_message.decoded_payload' (no payload formatter?)",
    };
  const dedup = typeof uplink.f_cnt === 'number' ? `${uplink.f_cnt}@${String(body.received_at)}` : undefined;
  return { ok: true, uplink: { values: uplink.decoded_payload, time, dedup, radio } };
}

function readJson(body: Record<string, unknown>, timePath: readonly string[] | undefined): UplinkResult {
  if (!timePath) return { ok: true, uplink: { values: body, radio: {} } };
  const raw = valueAt(body, timePath);
  const time = readTime(raw);
  if (time === 'bad' || time === undefined)
    return {
      ok: false,
      reason: 'bad-time',
      detail: `time at '${timePath.join('.')}' is not an ISO 8601 time or epoch time (is ${show(raw)})`,
    };
  return { ok: true, uplink: { values: body, time, radio: {} } };
}

/** The best gateway's reception: the highest RSSI, with its SNR. */
function bestReception(list: unknown, rssiKey: string, snrKey: string): Uplink['radio'] {
  const radio: Uplink['radio'] = {};
  if (!Array.isArray(list)) return radio;
  for (const rx of list) {
    if (!isObject(rx) || typeof rx[rssiKey] !== 'number') continue;
    if (radio.rssi !== undefined && rx[rssiKey] <= radio.rssi) continue;
    radio.rssi = rx[rssiKey];
    if (typeof rx[snrKey] === 'number') radio.snr = rx[snrKey];
    else delete radio.snr;
  }
  return radio;
}

function readTime(raw: unknown): number | undefined | 'bad' {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number' && Number.isFinite(raw) && raw > 0) return raw < 1e11 ? raw * 1000 : raw; // epoch seconds or milliseconds
  if (typeof raw === 'string') {
    const t = Date.parse(raw);
    if (Number.isFinite(t)) return t;
  }
  return 'bad';
}

function badTime(raw: unknown): UplinkResult {
  return { ok: false, reason: 'bad-time', detail: `time is not an ISO 8601 time (is ${show(raw)})` };
}

function dedupOf(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw.length > 0 ? raw : undefined;
}

/** How a field becomes a point's value. */
export interface FieldBinding {
  /** Dot path under the values' root; empty: the root itself (plain payloads). */
  path: readonly string[];
  scale: number;
  offset: number;
  /** Text states to numbers (`open` → 1), compared without case. */
  states?: Readonly<Record<string, number>>;
}

export type FieldResult =
  | { ok: true; value: number | boolean }
  | { ok: false; reason: 'missing-field' | 'wrong-type'; detail: string };

/** A point's value from the values' root: a number scaled, a boolean, or a text through the states table. */
export function readField(values: unknown, binding: FieldBinding): FieldResult {
  const raw = valueAt(values, binding.path);
  const where = binding.path.length > 0 ? `'${binding.path.join('.')}'` : 'the payload';
  if (raw === undefined || raw === null)
    return { ok: false, reason: 'missing-field', detail: `no value at ${where}` };
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return { ok: false, reason: 'wrong-type', detail: `${where} is not finite` };
    return { ok: true, value: scaled(raw, binding) };
  }
  if (typeof raw === 'boolean') return { ok: true, value: raw };
  if (typeof raw === 'string') {
    const state = binding.states ? stateOf(binding.states, raw) : undefined;
    if (state !== undefined) return { ok: true, value: state };
    const number = raw.trim() === '' ? Number.NaN : Number(raw);
    if (Number.isFinite(number)) return { ok: true, value: scaled(number, binding) };
    const known = binding.states ? ` (known states: ${Object.keys(binding.states).join(', ')})` : '';
    return { ok: false, reason: 'wrong-type', detail: `${where} is text ${show(raw)}${known}` };
  }
  return {
    ok: false,
    reason: 'wrong-type',
    detail: `${where} is ${Array.isArray(raw) ? 'a list' : 'an object'}`,
  };
}

/** raw * scale + offset, without the binary noise of decimal scales (583 * 0.1 is 58.300000000000004). */
function scaled(raw: number, binding: FieldBinding): number {
  if (binding.scale === 1 && binding.offset === 0) return raw;
  return Number((raw * binding.scale + binding.offset).toPrecision(12));
}

function stateOf(states: Readonly<Record<string, number>>, raw: string): number | undefined {
  if (Object.hasOwn(states, raw)) return states[raw];
  const lower = raw.trim().toLowerCase();
  for (const [name, value] of Object.entries(states)) if (name.toLowerCase() === lower) return value;
  return undefined;
}

export function compilePath(path: string | undefined): readonly string[] {
  return path === undefined ? [] : path.split('.').filter((part) => part.length > 0);
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const part of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return excerpt(value, 60);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
