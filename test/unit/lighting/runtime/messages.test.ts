import { ManualClock } from '../../../../core/clock';
import {
  MalformedLog,
  compileClassPath,
  readDetection,
} from '../../../../controller/lighting/runtime/presenceInput';
import {
  MAX_REQUEST_DEPTH,
  lightingTopics,
  parseClearRelightRequest,
  parseRelightRequest,
  transactionOf,
} from '../../../../controller/lighting/runtime/topics';
import { RecordingLogger } from './fakes';

/** `{"<key>":{"<key>":…1…}}`, `depth` levels, as it comes off the wire. */
function deepText(key: string, depth: number): string {
  return `${`{"${key}":`.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** deepText parsed (JSON.parse is iterative: a client can send this; JSON.stringify cannot render it). */
function deepJson(key: string, depth: number): unknown {
  return JSON.parse(deepText(key, depth));
}

describe('presence messages', () => {
  const ttn = compileClassPath('uplink_message.decoded_payload.class');
  const plain = compileClassPath('class');

  it('reads the class at the dot path', () => {
    expect(readDetection('{"class":"cyclist","seq":3}', plain)).toEqual({ ok: true, class: 'cyclist' });
    expect(
      readDetection(Buffer.from('{"uplink_message":{"decoded_payload":{"class":"vehicle"}}}'), ttn),
    ).toEqual({ ok: true, class: 'vehicle' });
  });

  it('says what is wrong with a message it cannot use', () => {
    expect(readDetection('{"class":', plain)).toMatchObject({ ok: false, problem: 'not-json' });
    expect(readDetection('[1,2]', plain)).toMatchObject({
      ok: false,
      problem: 'not-object',
      detail: 'not a JSON object',
    });
    expect(readDetection('"vehicle"', plain)).toMatchObject({ ok: false, problem: 'not-object' });
    expect(readDetection('{"uplink_message":{}}', ttn)).toEqual({
      ok: false,
      problem: 'no-class',
      detail: "no class at 'uplink_message.decoded_payload.class'",
    });
    expect(readDetection('{"class":7}', plain)).toEqual({
      ok: false,
      problem: 'no-class',
      detail: "class at 'class' is not a short string (is 7)",
    });
    expect(readDetection(`{"class":"${'x'.repeat(65)}"}`, plain)).toMatchObject({ problem: 'no-class' });
  });

  it('refuses a class of bytes that are not UTF-8 or of control characters', () => {
    const garbled = Buffer.concat([
      Buffer.from('{"class":"'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}'),
    ]);
    expect(readDetection(garbled, plain)).toEqual({
      ok: false,
      problem: 'not-json',
      detail: 'not JSON (bytes that are not UTF-8)',
    });
    expect(readDetection(Buffer.from('{"class":"pi\u00e9ton"}'), plain)).toEqual({
      ok: true,
      class: 'piéton',
    });
    expect(readDetection('{"class":"car\\u0000\\n"}', plain)).toMatchObject({
      ok: false,
      problem: 'no-class',
    });
  });

  it('describes a huge or deeply nested class in a few characters', () => {
    expect(readDetection(`{"class":${deepText('c', 20_000)}}`, plain)).toEqual({
      ok: false,
      problem: 'no-class',
      detail: `class at 'class' is not a short string (is {"c":{"c":{"c":{"c":{…}}}}})`,
    });
    expect(readDetection(`{"class":"${'x'.repeat(240 * 1024)}"}`, plain)).toEqual({
      ok: false,
      problem: 'no-class',
      detail: `class at 'class' is not a short string (is "${'x'.repeat(38)}…)`,
    });
  });

  it('counts every malformed message and logs at most one line per kind and interval, naming the topic', () => {
    const clock = new ManualClock(0);
    const logger = new RecordingLogger();
    const log = new MalformedLog(clock, logger, 10_000);
    for (let i = 0; i < 5; i++) log.record('not-json', 'capteurs/metz/r1/presence', 'not JSON');
    log.record('no-class', 'capteurs/metz/r2/presence', "no class at 'class'");
    expect(log.counts).toEqual({
      total: 6,
      byKind: { 'not-json': 5, 'not-object': 0, 'no-class': 1, 'unknown-topic': 0 },
    });
    expect(logger.lines.map((l) => l.msg)).toEqual([
      "presence message on 'capteurs/metz/r1/presence' dropped: not JSON",
      "presence message on 'capteurs/metz/r2/presence' dropped: no class at 'class'",
    ]);
    clock.advance(10_000);
    log.record('not-json', 'capteurs/metz/r3/presence', 'not JSON');
    expect(logger.lines.at(-1)?.msg).toBe(
      "presence message on 'capteurs/metz/r3/presence' dropped: not JSON (4 more not-json message(s) dropped since the last report)",
    );
  });
});

describe('MQTT command topics', () => {
  it('builds the bridge and zone state topics under the base topic', () => {
    const topics = lightingTopics('nocturne');
    expect(topics.request('relight')).toBe('nocturne/bridge/request/relight');
    expect(topics.response('clear-relight')).toBe('nocturne/bridge/response/clear-relight');
    expect(topics.zoneState('metz', 'metz-rue-serpenoise')).toBe('nocturne/metz/metz-rue-serpenoise/state');
  });

  it('reads a relight request, with an ISO or epoch expiry', () => {
    expect(
      parseRelightRequest({
        transaction: 1,
        target: { zone: 'metz-rue-x' },
        level: 80,
        reason: 'fire',
        actor: 'cta-57',
        expires_at: '2026-01-16T06:00:00Z',
      }),
    ).toEqual({
      ok: true,
      value: {
        target: { zone: 'metz-rue-x' },
        level: 80,
        reason: 'fire',
        actor: 'cta-57',
        expiresAt: Date.parse('2026-01-16T06:00:00Z'),
      },
    });
    expect(
      parseRelightRequest({ target: { all: true }, reason: 'storm', actor: 'sdis-57', expires_at: 5 }),
    ).toMatchObject({
      ok: true,
      value: { target: { all: true }, expiresAt: 5 },
    });
  });

  it('lists every problem of a bad request in one message', () => {
    const parsed = parseRelightRequest({
      target: { zone: 'a', commune: 'b' },
      level: 300,
      actor: '',
      expires_at: 'tomorrow',
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.split('; ')).toEqual([
      'target must have exactly one of {all: true}, {commune: id}, {zone: id}, {luminaires: [ids]} (has commune, zone)',
      'level must be a number from 0 to 100 (is 300)',
      'reason is required (a non-empty string)',
      expect.stringMatching(/^actor is required/),
      'expires_at must be an ISO 8601 time or epoch milliseconds (is "tomorrow")',
    ]);
    expect(parseRelightRequest('x')).toEqual({ ok: false, error: 'the payload must be a JSON object' });
    expect(parseRelightRequest({ target: { luminaires: [] }, reason: 'r', actor: 'a' })).toEqual({
      ok: false,
      error: 'target.luminaires must be a non-empty list of luminaire ids',
    });
    expect(parseClearRelightRequest({ actor: 'a' })).toEqual({
      ok: false,
      error: "id is required (the relight's id)",
    });
  });

  it('refuses a payload nested deeper than MAX_REQUEST_DEPTH, however deep, with a clear error', () => {
    const tooDeep = {
      ok: false,
      error: `the payload nests objects and arrays deeper than ${MAX_REQUEST_DEPTH} levels`,
    };
    const deep = (key: string, depth = 20_000): unknown => deepJson(key, depth);
    expect(parseRelightRequest({ target: deep('zone'), reason: 'r', actor: 'a' })).toEqual(tooDeep);
    expect(parseRelightRequest({ target: { all: true }, reason: 'r', actor: deep('a') })).toEqual(tooDeep);
    expect(parseClearRelightRequest({ id: 'r-1', actor: 'a', x: deep('x', MAX_REQUEST_DEPTH) })).toEqual(
      tooDeep,
    );
    // Up to the bound, a request is read as usual.
    expect(parseClearRelightRequest({ id: 'r-1', actor: 'a', x: deep('x', MAX_REQUEST_DEPTH - 1) })).toEqual({
      ok: true,
      value: { id: 'r-1', actor: 'a' },
    });
  });

  it('echoes only short excerpts of the values it refuses, however large', () => {
    const big = 'x'.repeat(240 * 1024);
    const parsed = parseRelightRequest({
      transaction: big,
      id: big,
      target: { zone: big },
      level: big,
      reason: 'r',
      actor: big,
      expires_at: big,
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.split('; ').map((p) => p.replace(/\(is .*\)$/, '(is …)'))).toEqual([
      'transaction must be a number or a string of at most 128 characters (is …)',
      'target.zone must be an id of 1-64 characters (is …)',
      'level must be a number from 0 to 100 (is …)',
      expect.stringMatching(/^actor is required/),
      "id must be 1-64 letters, digits, '_', '.', ':' or '-' (is …)",
      'expires_at must be an ISO 8601 time or epoch milliseconds (is …)',
    ]);
    expect(parsed.error.length).toBeLessThan(1500);
    expect(parseRelightRequest({ target: { luminaires: ['l-1', big] }, reason: 'r', actor: 'a' })).toEqual({
      ok: false,
      error: 'target.luminaires must be a non-empty list of luminaire ids',
    });
    expect(parseClearRelightRequest({ id: big, actor: 'a' })).toEqual({
      ok: false,
      error: `id must be at most 64 characters (is "${'x'.repeat(118)}…)`,
    });
    // Echoed in the response: a number, or a string short enough.
    expect(transactionOf({ transaction: big })).toBeUndefined();
    expect(transactionOf({ transaction: 'tx-7' })).toBe('tx-7');
    expect(transactionOf({ transaction: 7 })).toBe(7);
  });
});
