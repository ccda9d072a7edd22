import { ManualClock } from '../../../../controller/clock';
import {
  MalformedLog,
  compileClassPath,
  readDetection,
} from '../../../../controller/lighting/runtime/presenceInput';
import {
  lightingTopics,
  parseClearRelightRequest,
  parseRelightRequest,
} from '../../../../controller/lighting/runtime/topics';
import { RecordingLogger } from './fakes';

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
});
