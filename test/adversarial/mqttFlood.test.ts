import { connectAsync, type MqttClient } from 'mqtt';
import { isDeepStrictEqual } from 'node:util';
import type { BridgeResponse } from '../../controller/lighting/runtime/topics';
import {
  IN,
  KIB,
  MIB,
  dirBytes,
  fileBytes,
  heapAfterGc,
  inParallel,
  leakedSecrets,
  longLogLines,
  metric,
  snapshot,
  startAdversarialService,
  tokenFor,
  type AdversarialService,
  type Snapshot,
} from './adversarialService';
import { request } from '../integration/api/liveService';
import { Random, seeded } from './random';

/**
 * Issue #11, MQTT: a flood on every topic the service listens to — the presence topic of each of its
 * sensors, `<base>/bridge/request/relight` and `<base>/bridge/request/clear-relight` — of random bytes,
 * 1 MB payloads, JSON nested 20,000 levels, wrong types, bytes that are not UTF-8, prototype keys,
 * valid-looking requests for unknown zones, luminaires, communes and ids, ids in force reused for
 * another commune or another kind of command, and clearings of ids in force that are not valid requests.
 * Every one of them must be refused. (Who may publish is the broker's ACL; the embedded broker has no
 * accounts, so "a client without the right" is anyone here, and the requests' `actor` is not trusted.) Then:
 *
 * - every bridge request is answered on `<base>/bridge/response/<cmd>`, with status error, echoing its
 *   transaction when it had a valid one (finding 4: a deep request vanished);
 * - HTTP keeps answering during the flood;
 * - no luminaire level, relight, override, program or calendar changed, no presence message was taken
 *   for a detection (finding 10: a class of bytes that are not UTF-8 was);
 * - the state directory (audit, spool, state files) and the log grow within stated bounds, with no long
 *   log line, and the heap stays bounded (finding 3: each refusal echoed the whole request three times);
 * - a valid clear-relight afterwards is obeyed: the bridge still works;
 * - no token or password reaches the log, the audit or the spool.
 */

/**
 * Bounds, for a flood of ~3,650 messages and ~26 MB, all of which the service must refuse. A refusal
 * costs, by design, one log line per command and kind of refusal per 10 s, at most 10 distinct audit
 * entries per minute and source (and the first of each action) plus one summary per kind, and an
 * event point per audit entry, each echoing at most ~1,000 characters: ~15 KB of state and ~5 KB of log measured, with the telemetry of the test's
 * duration (~2 KB/s). Before the fixes of finding 3, every refused 1 MB request wrote ~1 MB to each of
 * log, audit and spool. The bounds leave the design a margin of ~30 and sit far below a single echo.
 * The heap bound is for this process, service and adversary together, measured after a full collection.
 */
const STATE_DIR_GROWTH_MAX = 1 * MIB;
const LOG_GROWTH_MAX = 128 * KIB;
const LOG_LINE_MAX = 4 * KIB;
const HEAP_GROWTH_MAX = 32 * MIB;
const HTTP_ANSWER_MAX_MS = 5_000;

const SMALL_BRIDGE_REQUESTS = { relight: 1500, 'clear-relight': 900 } as const;
const BIG_PER_BRIDGE_TOPIC = 9;
const DEEP_PER_BRIDGE_TOPIC = 6;
const SMALL_PER_SENSOR = 300;
const BIG_PER_SENSOR = 2;
const DEEP_PER_SENSOR = 3;
const ONE_MB = 1024 * 1024;
const DEEP = 20_000;
const IN_FLIGHT = 16;

type Command = 'relight' | 'clear-relight';

interface Message {
  topic: string;
  payload: Buffer;
  command?: Command;
  /** The transaction its response must echo, when it had a valid one in a JSON object. */
  transaction?: string;
  kind: string;
}

const RELIGHT_IN = 'flood-r-in';
const RELIGHT_OUT = 'flood-r-out';
const OVERRIDE_IN = 'flood-o-in';
const OVERRIDE_OUT = 'flood-o-out';

let live: AdversarialService;
let client: MqttClient | undefined;
const responses: Record<Command, BridgeResponse[]> = { relight: [], 'clear-relight': [] };
const unparsedResponses: string[] = [];
let before: Snapshot;
let stateBefore = 0;
let logBefore = 0;
let heapBefore = 0;
let presenceBefore: Record<string, number> = {};
const sent = { relight: 0, 'clear-relight': 0, presence: 0, bytes: 0 };
const expectedTransactions = new Map<string, string>();
let flooded = false;

beforeAll(async () => {
  live = await startAdversarialService({ presenceSensorsPerZone: 2 });
  const give = async (
    user: Parameters<typeof request>[1],
    path: string,
    body: Record<string, unknown>,
  ): Promise<void> => {
    const answer = await request(live, user, 'POST', path, body);
    if (answer.status !== 201)
      throw new Error(`setup ${path} ${String(body.id)}: ${answer.status} ${answer.text}`);
  };
  const firstIn = live.config.zones.find((z) => z.id === live.zones.in)!.luminaires[0].id;
  await give('emergency-all', '/api/relights', {
    id: RELIGHT_OUT,
    target: { zone: live.zones.out },
    level: 100,
    reason: 'accident',
  });
  await give('emergency-metz', '/api/relights', {
    id: RELIGHT_IN,
    target: { zone: live.zones.in },
    level: 90,
    reason: 'incendie',
  });
  await give('lighting-all', '/api/overrides', {
    id: OVERRIDE_OUT,
    target: { zone: live.zones.out },
    level: 20,
    reason: 'travaux',
    untilReleased: true,
  });
  await give('lighting-metz', '/api/overrides', {
    id: OVERRIDE_IN,
    target: { luminaires: [firstIn] },
    level: 10,
    reason: 'travaux',
    untilReleased: true,
  });
  client = await connectAsync(live.mqttUrl, {
    clientId: `adversary-${process.pid}`,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  client.on('message', (topic, payload) => {
    const command = topic.slice(`${live.base}/bridge/response/`.length) as Command;
    try {
      responses[command].push(JSON.parse(payload.toString('utf8')) as BridgeResponse);
    } catch {
      unparsedResponses.push(`${topic}: ${payload.toString('utf8').slice(0, 200)}`);
    }
  });
  await client.subscribeAsync(`${live.base}/bridge/response/+`, { qos: 1 });
}, 60_000);

afterAll(async () => {
  await client?.endAsync();
  await live?.stop();
}, 60_000);

// ---- the payloads ----

const deepArray = (levels: number, inside = '0'): string =>
  `${'['.repeat(levels)}${inside}${']'.repeat(levels)}`;
const deepObject = (levels: number, key = 'zone'): string =>
  `${`{"${key}":`.repeat(levels)}"x"${'}'.repeat(levels)}`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
/** JSON text with raw bytes where `@@` stands: bytes that are not UTF-8, inside a string. */
const withBytes = (text: string, bytes: number[]): Buffer => {
  const [head, tail] = text.split('@@');
  return Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)]);
};
const NOT_UTF8: number[][] = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80]];

/** Something that makes a relight request refused, whatever else it holds; named for the report. */
type Breaker = [string, (request: Record<string, unknown>) => void];

function relightBreakers(r: Random, zones: { in: string; out: string }): Breaker[] {
  return [
    ['unknown zone', (q) => (q.target = { zone: `zone-${r.text(10)}` })],
    ['unknown commune', (q) => (q.target = { commune: `paris-${r.text(4)}` })],
    ['unknown luminaires', (q) => (q.target = { luminaires: [`${zones.in}-9${r.int(10, 99)}`, 'x-001'] })],
    ['target of the wrong type', (q) => (q.target = r.pick([5, 'metz', [], null, true, 'all', [zones.in]]))],
    [
      'target id of the wrong type',
      (q) => (q.target = r.pick([{ zone: 42 }, { zone: '' }, { zone: [zones.in] }, { commune: {} }])),
    ],
    ['target all not true', (q) => (q.target = { all: r.pick(['yes', false, 1, 'true']) })],
    ['two targets', (q) => (q.target = { zone: zones.in, commune: IN })],
    ['empty target', (q) => (q.target = {})],
    ['level out of range', (q) => (q.level = r.pick([-1, 101, 1000, -0.5, 100.0001]))],
    ['level of the wrong type', (q) => (q.level = r.pick(['100', null, [], {}, true, '50%']))],
    ['no reason', (q) => delete q.reason],
    ['empty reason', (q) => (q.reason = r.pick(['', '   ', '\n\t']))],
    ['reason of the wrong type', (q) => (q.reason = r.pick([42, [], {}, null, true]))],
    ['no actor', (q) => delete q.actor],
    [
      'bad actor',
      (q) =>
        (q.actor = r.pick([
          '',
          'bad actor',
          'x'.repeat(65),
          '../../etc',
          'a\u0000b',
          'é',
          42,
          {},
          null,
          '-x',
        ])),
    ],
    ['bad id', (q) => (q.id = r.pick([42, '', 'bad id', '-lead', 'x'.repeat(65), '../x', {}, 'a/b', 'ü']))],
    ['bad expiry', (q) => (q.expires_at = r.pick(['yesterday', 'not-a-date', {}, [], true, '']))],
    ['bad transaction', (q) => (q.transaction = r.pick([{}, [], 'x'.repeat(129), true, null]))],
    [
      'id of a relight in force in the other commune',
      (q) => ((q.id = RELIGHT_OUT), (q.target = { zone: zones.in })),
    ],
    ['id of an override in force', (q) => ((q.id = OVERRIDE_IN), (q.target = { zone: zones.in }))],
    ['id of an override in force elsewhere', (q) => ((q.id = OVERRIDE_OUT), (q.target = { zone: zones.in }))],
  ];
}

function clearBreakers(r: Random): Breaker[] {
  return [
    ['unknown id', (q) => (q.id = `unknown-${r.text(8)}`)],
    ['id of an override in force', (q) => (q.id = r.pick([OVERRIDE_IN, OVERRIDE_OUT]))],
    ['id in force, no actor', (q) => ((q.id = r.pick([RELIGHT_IN, RELIGHT_OUT])), delete q.actor)],
    [
      'id in force, bad actor',
      (q) => (
        (q.id = r.pick([RELIGHT_IN, RELIGHT_OUT])),
        (q.actor = r.pick(['', 'a b', 42, {}, 'x'.repeat(65)]))
      ),
    ],
    [
      'id in force, bad transaction',
      (q) => (
        (q.id = r.pick([RELIGHT_IN, RELIGHT_OUT])),
        (q.transaction = r.pick([{}, [], 'x'.repeat(129), false]))
      ),
    ],
    [
      'id in force, spelt otherwise',
      (q) =>
        (q.id = r.pick([
          RELIGHT_IN.toUpperCase(),
          ` ${RELIGHT_IN}`,
          `${RELIGHT_OUT} `,
          `${RELIGHT_IN}\u0000`,
          `${RELIGHT_OUT}/`,
          `${RELIGHT_IN}.`,
        ])),
    ],
    ['id of the wrong type', (q) => (q.id = r.pick([42, [], {}, null, true, [RELIGHT_IN]]))],
    ['no id', (q) => delete q.id],
    ['id too long', (q) => (q.id = `${RELIGHT_IN}-${'x'.repeat(80)}`)],
  ];
}

/** Noise that changes nothing by itself: unknown fields, prototype keys. */
function addNoise(r: Random, q: Record<string, unknown>): void {
  const noise: [string, unknown][] = [
    ['__proto__', { admin: true, level: 0 }],
    ['constructor', { prototype: { polluted: true } }],
    ['extra', r.text(r.int(1, 200))],
    ['list', Array.from({ length: r.int(1, 500) }, (_, i) => i)],
    ['nested', { a: { b: { c: { d: [1, [2, [3]]] } } } }],
  ];
  const [key, value] = r.pick(noise);
  // JSON.parse makes '__proto__' an own key, as an attacker's payload would.
  Object.defineProperty(q, key, { value, enumerable: true, writable: true, configurable: true });
}

function bridgeMessages(
  r: Random,
  command: Command,
  zones: { in: string; out: string },
  base: string,
): Message[] {
  const topic = `${base}/bridge/request/${command}`;
  const breakers = command === 'relight' ? relightBreakers(r, zones) : clearBreakers(r);
  const messages: Message[] = [];
  let serial = 0;
  const template = (): Record<string, unknown> =>
    command === 'relight'
      ? {
          target: { zone: r.pick([zones.in, zones.out]) },
          level: r.int(0, 100),
          reason: 'incendie',
          actor: 'codis57',
        }
      : { id: r.pick([RELIGHT_IN, RELIGHT_OUT]), actor: 'codis57' };
  const withTransaction = (q: Record<string, unknown>): string | undefined => {
    if (r.chance(0.2)) return undefined;
    const transaction = `${command}-${serial++}-${r.text(6)}`;
    q.transaction = transaction;
    return transaction;
  };
  /** A refused request: valid but for one or two breakers. */
  const broken = (): { q: Record<string, unknown>; transaction?: string; kind: string } => {
    const q = template();
    const transaction = withTransaction(q);
    const names: string[] = [];
    for (let i = 0, n = r.int(1, 2); i < n; i++) {
      const [name, apply] = r.pick(breakers);
      apply(q);
      names.push(name);
    }
    if (r.chance(0.3)) addNoise(r, q);
    // A breaker may have replaced the transaction with an invalid one: then nothing is echoed.
    const echoed = transaction !== undefined && q.transaction === transaction ? transaction : undefined;
    return { q, ...(echoed !== undefined ? { transaction: echoed } : {}), kind: names.join(' + ') };
  };

  for (let i = 0; i < SMALL_BRIDGE_REQUESTS[command]; i++) {
    const shape = r.int(0, 9);
    if (shape === 0) {
      messages.push({ topic, command, payload: r.bytes(r.int(0, 2048)), kind: 'random bytes' });
    } else if (shape === 1) {
      const value = r.pick<unknown>([[], 'relight', 42, null, true, [{ target: { all: true } }], {}]);
      messages.push({ topic, command, payload: json(value), kind: 'not an object' });
    } else if (shape === 2) {
      // Bytes that are not UTF-8 where an id, a zone or an actor is read: the replacement character is never valid there.
      const q = template();
      const field = command === 'relight' ? r.pick(['zone', 'actor', 'id']) : r.pick(['id', 'actor']);
      const text =
        field === 'zone'
          ? `{"target":{"zone":"${zones.in}@@"},"reason":"r","actor":"codis57"}`
          : field === 'actor'
            ? JSON.stringify({ ...q, actor: 'codis@@57' })
            : JSON.stringify({ ...q, id: `${RELIGHT_IN}@@` });
      messages.push({
        topic,
        command,
        payload: withBytes(text, r.pick(NOT_UTF8)),
        kind: `not UTF-8 in ${field}`,
      });
    } else if (shape === 3) {
      const truncated = JSON.stringify(broken().q);
      messages.push({
        topic,
        command,
        payload: Buffer.from(truncated.slice(0, r.int(0, truncated.length - 1))),
        kind: 'truncated JSON',
      });
    } else {
      const { q, transaction, kind } = broken();
      messages.push({ topic, command, payload: json(q), ...(transaction ? { transaction } : {}), kind });
    }
  }
  for (let i = 0; i < BIG_PER_BRIDGE_TOPIC; i++) {
    const big = 'x'.repeat(ONE_MB);
    const shape = i % 3;
    if (shape === 0)
      messages.push({ topic, command, payload: r.bytes(ONE_MB), kind: '1 MB of random bytes' });
    else if (shape === 1) {
      const q = template();
      const transaction = withTransaction(q);
      if (command === 'relight') q.target = { zone: big };
      else q.id = big;
      messages.push({
        topic,
        command,
        payload: json(q),
        ...(transaction ? { transaction } : {}),
        kind: '1 MB id',
      });
    } else {
      const { q, transaction, kind } = broken();
      q.padding = Array.from({ length: ONE_MB / 16 }, (_, k) => `p${k}`);
      messages.push({
        topic,
        command,
        payload: json(q),
        ...(transaction ? { transaction } : {}),
        kind: `1 MB list, ${kind}`,
      });
    }
  }
  for (let i = 0; i < DEEP_PER_BRIDGE_TOPIC; i++) {
    const transaction = `${command}-deep-${i}`;
    const where = i % 3;
    const body =
      command === 'relight'
        ? where === 0
          ? `{"transaction":"${transaction}","target":${deepObject(DEEP)},"reason":"r","actor":"codis57"}`
          : where === 1
            ? `{"transaction":"${transaction}","target":{"zone":"${zones.in}"},"reason":"r","actor":"codis57","extra":${deepArray(DEEP)}}`
            : `{"transaction":"${transaction}","target":{"luminaires":${deepArray(DEEP, '"x"')}},"reason":"r","actor":"codis57"}`
        : where === 0
          ? `{"transaction":"${transaction}","id":${deepArray(DEEP, `"${RELIGHT_IN}"`)},"actor":"codis57"}`
          : where === 1
            ? `{"transaction":"${transaction}","id":"${RELIGHT_IN}","actor":"codis57","extra":${deepObject(DEEP)}}`
            : `{"transaction":"${transaction}","id":"${RELIGHT_IN}","actor":${deepObject(DEEP, 'name')}}`;
    messages.push({ topic, command, payload: Buffer.from(body), transaction, kind: `nested ${DEEP} levels` });
  }
  return messages;
}

function presenceMessages(r: Random, sensor: { topic: string; class_path: string }): Message[] {
  const topic = sensor.topic;
  const parts = sensor.class_path.split('.');
  /** A payload with `value` at the sensor's class path. */
  const at = (value: string): string => parts.reduceRight((inner, key) => `{"${key}":${inner}}`, value);
  const badClasses = [
    '42',
    'true',
    'null',
    '{}',
    '[]',
    '""',
    '["car"]',
    '{"class":"car"}',
    JSON.stringify('x'.repeat(65)),
    JSON.stringify('car\u0001'),
    JSON.stringify('\ncar'),
    JSON.stringify('car\u0085'),
    '1e309',
  ];
  const messages: Message[] = [];
  for (let i = 0; i < SMALL_PER_SENSOR; i++) {
    const shape = r.int(0, 7);
    let payload: Buffer;
    let kind: string;
    if (shape === 0) [payload, kind] = [r.bytes(r.int(0, 2048)), 'random bytes'];
    else if (shape === 1 || shape === 2)
      [payload, kind] = [Buffer.from(at(r.pick(badClasses))), 'class of the wrong type'];
    else if (shape === 3) [payload, kind] = [withBytes(at('"car@@"'), r.pick(NOT_UTF8)), 'class not UTF-8'];
    else if (shape === 4)
      [payload, kind] = [
        Buffer.from(
          r.pick([
            '"car"',
            '["car"]',
            '42',
            'null',
            '{"__proto__":{"class":"car"}}',
            '{"constructor":{"prototype":{"class":"car"}}}',
          ]),
        ),
        'not an object, or a class only through a prototype',
      ];
    else if (shape === 5)
      // The class where this sensor does not read it.
      [payload, kind] = [
        Buffer.from(
          parts.length > 1 ? '{"class":"car"}' : '{"uplink_message":{"decoded_payload":{"class":"car"}}}',
        ),
        'class at another path',
      ];
    else if (shape === 6) {
      const text = at('"car"');
      [payload, kind] = [Buffer.from(text.slice(0, r.int(0, text.length - 2))), 'truncated JSON'];
    } else [payload, kind] = [Buffer.from(at(`"${'x'.repeat(r.int(65, 4000))}"`)), 'class too long'];
    messages.push({ topic, payload, kind });
  }
  for (let i = 0; i < BIG_PER_SENSOR; i++) {
    messages.push(
      i % 2 === 0
        ? { topic, payload: r.bytes(ONE_MB), kind: '1 MB of random bytes' }
        : { topic, payload: Buffer.from(at(JSON.stringify('c'.repeat(ONE_MB)))), kind: '1 MB class' },
    );
  }
  for (let i = 0; i < DEEP_PER_SENSOR; i++) {
    const inner = i % 2 === 0 ? deepArray(DEEP, '"car"') : deepObject(DEEP, 'class');
    messages.push({ topic, payload: Buffer.from(at(inner)), kind: `class nested ${DEEP} levels` });
  }
  return messages;
}

/** Fisher-Yates with the test's stream, so the topics interleave as a real flood would. */
function shuffled<T>(r: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

async function presenceCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const result of ['received', 'malformed', 'accepted', 'debounced'])
    out[result] = await metric(live, `nocturne_presence_messages_total{result="${result}"}`);
  return out;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

// ---- the flood ----

it(
  'answers every bridge request on its response topic, refuses every one, and answers HTTP throughout',
  () =>
    seeded(async () => {
      const r = Random.for('mqtt-flood');
      before = await snapshot(live);
      presenceBefore = await presenceCounts();
      stateBefore = await dirBytes(live.stateDir);
      logBefore = await fileBytes(live.logFile);
      heapBefore = heapAfterGc();

      const messages = shuffled(r, [
        ...bridgeMessages(r, 'relight', live.zones, live.base),
        ...bridgeMessages(r, 'clear-relight', live.zones, live.base),
        ...live.config.presence_sensors.flatMap((s) => presenceMessages(r, s)),
      ]);
      for (const m of messages) {
        if (m.command) sent[m.command]++;
        else sent.presence++;
        sent.bytes += m.payload.length;
        if (m.transaction !== undefined) expectedTransactions.set(m.transaction, m.kind);
      }

      // HTTP, probed all along.
      const probes: { ms: number; status: number }[] = [];
      let flooding = true;
      const prober = (async () => {
        while (flooding) {
          const started = Date.now();
          let status = 0;
          try {
            const response = await fetch(`${live.url}/api/zones`, {
              headers: { authorization: `Bearer ${tokenFor('viewer-all')}` },
              signal: AbortSignal.timeout(HTTP_ANSWER_MAX_MS),
            });
            await response.arrayBuffer();
            status = response.status;
          } catch {
            status = 0;
          }
          probes.push({ ms: Date.now() - started, status });
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();

      const started = Date.now();
      const publishErrors: string[] = [];
      try {
        await inParallel(messages, IN_FLIGHT, async (m) => {
          try {
            await client!.publishAsync(m.topic, m.payload, { qos: 1 });
          } catch (error) {
            publishErrors.push(`${m.kind}: ${(error as Error).message}`);
          }
        });
        const total = (): number => responses.relight.length + responses['clear-relight'].length;
        await waitFor(() => total() >= sent.relight + sent['clear-relight'], 45_000);
        // Anything beyond one answer per request would arrive now.
        await new Promise((resolve) => setTimeout(resolve, 500));
      } finally {
        flooding = false;
        await prober;
      }
      flooded = true;
      const floodMs = Date.now() - started;

      const problems: string[] = [];
      if (publishErrors.length > 0)
        problems.push(`publishing failed: ${publishErrors.slice(0, 5).join('; ')}`);
      for (const command of ['relight', 'clear-relight'] as const) {
        if (responses[command].length !== sent[command])
          problems.push(`${command}: ${sent[command]} requests, ${responses[command].length} responses`);
        const accepted = responses[command].filter((x) => x.status !== 'error');
        if (accepted.length > 0)
          problems.push(
            `${command}: ${accepted.length} flood requests accepted, e.g. ${JSON.stringify(accepted[0])}`,
          );
      }
      if (unparsedResponses.length > 0) problems.push(`responses that are not JSON: ${unparsedResponses[0]}`);
      const echoed = new Map<string, number>();
      for (const x of [...responses.relight, ...responses['clear-relight']])
        if (typeof x.transaction === 'string')
          echoed.set(x.transaction, (echoed.get(x.transaction) ?? 0) + 1);
      const missing = [...expectedTransactions].filter(([t]) => echoed.get(t) !== 1);
      if (missing.length > 0)
        problems.push(
          `${missing.length} transactions not answered exactly once, e.g. ${missing
            .slice(0, 5)
            .map(([t, kind]) => `${t} (${kind}): ${echoed.get(t) ?? 0}`)
            .join(', ')}`,
        );
      const tooLong = [...responses.relight, ...responses['clear-relight']].filter(
        (x) => Buffer.byteLength(JSON.stringify(x)) > 2 * KIB,
      );
      if (tooLong.length > 0)
        problems.push(`${tooLong.length} responses over 2 KiB (the request echoed whole?)`);
      const failedProbes = probes.filter((p) => p.status !== 200);
      if (probes.length === 0 || failedProbes.length > 0)
        problems.push(
          `GET /api/zones during the flood: ${failedProbes.length} of ${probes.length} not answered 200 within ${HTTP_ANSWER_MAX_MS} ms`,
        );
      const slowest = Math.max(0, ...probes.map((p) => p.ms));
      expect({ problems, sent, floodMs, slowestHttpMs: slowest }).toEqual({
        problems: [],
        sent,
        floodMs,
        slowestHttpMs: slowest,
      });
    }),
  120_000,
);

it('changes no luminaire, relight, override, program or calendar, and takes no presence message for a detection', () =>
  seeded(async () => {
    if (!flooded) throw new Error('the flood did not run');
    const sensorsSent = sent.presence;
    // Presence is QoS 0: wait until the service has seen every message before counting.
    let after = await presenceCounts();
    const deadline = Date.now() + 20_000;
    while (after.received - presenceBefore.received < sensorsSent && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await presenceCounts();
    }
    const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - presenceBefore[k]]));
    const expected = { received: sensorsSent, malformed: sensorsSent, accepted: 0, debounced: 0 };
    const problems: string[] = [];
    if (!isDeepStrictEqual(delta, expected))
      problems.push(`presence messages: ${JSON.stringify(delta)}, expected ${JSON.stringify(expected)}`);
    const now = await snapshot(live);
    for (const key of Object.keys(before) as (keyof Snapshot)[]) {
      if (!isDeepStrictEqual(now[key], before[key]))
        problems.push(
          `${key} changed under the flood:\nbefore ${JSON.stringify(before[key]).slice(0, 3000)}\nafter  ${JSON.stringify(now[key]).slice(0, 3000)}`,
        );
    }
    expect(problems).toEqual([]);
  }));

it(`holds the heap within ${HEAP_GROWTH_MAX / MIB} MB of where it was`, () =>
  seeded(() => {
    if (!flooded) throw new Error('the flood did not run');
    const growth = heapAfterGc() - heapBefore;
    expect({
      heapGrowthMb: Math.round(growth / MIB),
      boundMb: HEAP_GROWTH_MAX / MIB,
      ok: growth <= HEAP_GROWTH_MAX,
    }).toEqual({
      heapGrowthMb: Math.round(growth / MIB),
      boundMb: HEAP_GROWTH_MAX / MIB,
      ok: true,
    });
  }));

it('still obeys a valid clear-relight of an id in force', () =>
  seeded(async () => {
    const count = responses['clear-relight'].length;
    await client!.publishAsync(
      `${live.base}/bridge/request/clear-relight`,
      JSON.stringify({ transaction: 'the-valid-one', id: RELIGHT_IN, actor: 'codis57' }),
      { qos: 1 },
    );
    await waitFor(() => responses['clear-relight'].length > count, 10_000);
    expect(responses['clear-relight'].slice(count)).toEqual([
      { transaction: 'the-valid-one', status: 'ok', id: RELIGHT_IN },
    ]);
    const relights = await request<{ id: string }[]>(live, 'admin-all', 'GET', '/api/relights');
    expect(relights.body.map((x) => x.id)).toEqual([RELIGHT_OUT]);
    const zone = await request<{ luminaireStates: { level?: number; decidedBy?: { id?: string } }[] }>(
      live,
      'admin-all',
      'GET',
      `/api/zones/${live.zones.in}`,
    );
    expect(zone.body.luminaireStates.map((l) => [l.decidedBy?.id, l.level])).toEqual([
      [OVERRIDE_IN, 10],
      [undefined, 40],
      [undefined, 40],
      [undefined, 40],
    ]);
  }));

it(
  `keeps the state dir within ${STATE_DIR_GROWTH_MAX / MIB} MiB and the log within ${LOG_GROWTH_MAX / KIB} KiB, no log line over ${LOG_LINE_MAX / KIB} KiB`,
  () =>
    seeded(async () => {
      if (!flooded) throw new Error('the flood did not run');
      // Stopping flushes the audit log (its refusal window included) and the spool: everything is on disk.
      await live.stopService();
      const stateGrowth = (await dirBytes(live.stateDir)) - stateBefore;
      const logGrowth = (await fileBytes(live.logFile)) - logBefore;
      const long = await longLogLines(live.logFile, LOG_LINE_MAX);
      const measured = {
        thrownMb: Math.round(sent.bytes / MIB),
        stateDirGrowthKib: Math.round(stateGrowth / KIB),
        logGrowthKib: Math.round(logGrowth / KIB),
        longLogLines: long.length,
      };
      expect({
        ...measured,
        stateDirWithinBound: stateGrowth <= STATE_DIR_GROWTH_MAX,
        logWithinBound: logGrowth <= LOG_GROWTH_MAX,
      }).toEqual({ ...measured, longLogLines: 0, stateDirWithinBound: true, logWithinBound: true });
    }),
  30_000,
);

it(
  'leaks no token or password into the log, the audit or the spool',
  () =>
    seeded(async () => {
      await live.stopService();
      expect(await leakedSecrets(live, live.secrets)).toEqual([]);
    }),
  30_000,
);
