import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import type { DriverError, Health, HttpAddress, PointRef, Sample } from '../../../drivers/driver';
import { HttpJsonDriver, type HttpJsonOptions } from '../../../drivers/http/jsonSource';
import { compilePath } from '../../../drivers/mqtt/uplinks';

// HTTP JSON sources against a real HTTP server on loopback (a port chosen per run): values by path, the
// document's time, conditional requests, slow and failing servers, bad documents, health, stop.

interface Seen {
  headers: http.IncomingHttpHeaders;
  at: number;
  /** The client closed the connection before the answer was sent. */
  abandoned: boolean;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** A JSON server whose answers each test scripts; it records every request it sees. */
class JsonServer {
  readonly seen: Seen[] = [];
  handler: Handler = (_req, res) => json(res, {});
  private readonly server = http.createServer((req, res) => {
    const seen: Seen = { headers: req.headers, at: Date.now(), abandoned: false };
    this.seen.push(seen);
    res.on('close', () => {
      if (!res.writableFinished) seen.abandoned = true;
    });
    this.handler(req, res, this.seen.length);
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v2/hydrometrie/observations_tr`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function json(res: http.ServerResponse, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const warnings: string[] = [];
const logger: Logger = {
  error: (msg) => warnings.push(msg),
  warn: (msg) => warnings.push(msg),
  info: () => undefined,
  debug: () => undefined,
  child: () => logger,
};

let server: JsonServer;
const cleanups: (() => Promise<unknown>)[] = [];

// Node loads its fetch (undici) on first use, which can take longer than the short timeouts below.
beforeAll(async () => {
  const warmUp = new JsonServer();
  await warmUp.start();
  await (await fetch(warmUp.url)).text();
  await warmUp.close();
});
beforeEach(async () => {
  server = new JsonServer();
  await server.start();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server.close();
  warnings.length = 0;
});

function point(key: string, path: string, extra: Partial<HttpAddress> = {}): PointRef {
  return {
    key,
    label: key,
    address: { protocol: 'http', path: compilePath(path), scale: 1, offset: 0, ...extra },
  };
}

interface Source {
  driver: HttpJsonDriver;
  samples: Sample[];
  health: { health: Health; error?: DriverError; requests: number }[];
  connected: boolean[];
}

function source(options: Partial<HttpJsonOptions> = {}): Source {
  const driver = new HttpJsonDriver(
    {
      deviceId: 'hubeau',
      url: server.url,
      periodMs: 200,
      timeoutMs: 1000,
      retries: 0,
      backoff: { initialMs: 30, jitter: 0 },
      logEveryMs: 60_000,
      ...options,
    },
    { clock: systemClock, logger },
  );
  const result: Source = { driver, samples: [], health: [], connected: [] };
  driver.on('samples', (batch) => result.samples.push(...batch));
  driver.on('healthChanged', (health, error) =>
    result.health.push({ health, error, requests: server.seen.length }),
  );
  driver.on('connected', ({ reconnect }) => result.connected.push(reconnect));
  cleanups.push(() => driver.stop());
  return result;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A Hub'Eau `observations_tr` answer (size=1): the water height in mm at its observation time. */
function observation(resultat_obs: unknown, date_obs: string, extra: Record<string, unknown> = {}): unknown {
  return {
    count: 1,
    api_version: '2.0.1',
    data: [{ code_station: 'A443064001', grandeur_hydro: 'H', date_obs, resultat_obs, ...extra }],
  };
}

const T1 = '2026-03-01T10:05:00Z';
const T2 = '2026-03-01T10:10:00Z';

test('reads values by path with scale, offset and a states table, at the time the document gives', async () => {
  let document = observation(1234, T1, { temperature: 125, etat: 'CRUE', transmis: true });
  server.handler = (_req, res) => json(res, document);
  const { driver, samples } = source({ timePath: compilePath('data.0.date_obs'), periodMs: 150 });
  const before = Date.now();
  await driver.start();
  driver.subscribe([
    point('level', 'data.0.resultat_obs', { scale: 0.001 }),
    point('temperature', 'data.0.temperature', { scale: 0.1, offset: -2 }),
    point('state', 'data.0.etat', { states: { normale: 0, crue: 1 } }),
    point('sent', 'data.0.transmis'),
  ]);
  await waitFor('the first samples', () => samples.length === 4);
  const byKey = Object.fromEntries(samples.map((s) => [s.key, s]));
  expect(byKey.level.value).toBeCloseTo(1.234, 9);
  expect(byKey.temperature.value).toBeCloseTo(10.5, 9);
  expect(byKey.state.value).toBe(1);
  expect(byKey.sent.value).toBe(true);
  for (const sample of samples) {
    expect(sample.quality).toBe('good');
    expect(sample.sourceTime).toBe(Date.parse(T1));
    expect(sample.time).toBeGreaterThanOrEqual(before);
    expect(sample.time).toBeLessThanOrEqual(Date.now());
  }

  // The same observation again is not new; a later one is.
  await waitFor('two more polls', () => driver.stats().dropped!.unchanged >= 2);
  expect(samples).toHaveLength(4);
  document = observation(1300, T2);
  await waitFor('the next observation', () => samples.length > 4);
  expect(samples[4]).toMatchObject({ key: 'level', sourceTime: Date.parse(T2) });
  expect(samples[4].value).toBeCloseTo(1.3, 9);
  expect(driver.stats().dropped).toMatchObject({ 'missing-field': 3, 'wrong-type': 0 }); // no temperature, state, sent
});

test('without time_path, Last-Modified is the time: the server ignoring If-Modified-Since gives nothing new', async () => {
  let lastModified = 'Sun, 01 Mar 2026 10:05:00 GMT';
  server.handler = (_req, res) => json(res, { value: 7 }, { 'last-modified': lastModified });
  const { driver, samples } = source({ periodMs: 100 });
  await driver.start();
  driver.subscribe([point('value', 'value')]);
  await waitFor('two unchanged documents', () => driver.stats().dropped!.unchanged >= 2);
  expect(server.seen[1].headers['if-modified-since']).toBe(lastModified);
  expect(samples).toEqual([
    expect.objectContaining({ key: 'value', value: 7, sourceTime: Date.parse(lastModified) }),
  ]);

  lastModified = 'Sun, 01 Mar 2026 10:10:00 GMT';
  await waitFor('the new document', () => samples.length === 2);
  expect(samples[1].sourceTime).toBe(Date.parse(lastModified));
});

test('ETag: the next poll sends If-None-Match, a 304 gives nothing and keeps the device up', async () => {
  let version = 1;
  server.handler = (req, res) => {
    const etag = `"v${version}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    json(res, observation(1000 + version, '2026-03-01T10:00:00Z'), { etag });
  };
  // The document's time never changes: only the 304s keep the samples from repeating.
  const { driver, samples } = source({ periodMs: 100 });
  await driver.start();
  driver.subscribe([point('level', 'data.0.resultat_obs')]);
  await waitFor('three polls', () => server.seen.length >= 3);
  expect(server.seen[0].headers['if-none-match']).toBeUndefined();
  expect(server.seen[1].headers['if-none-match']).toBe('"v1"');
  expect(server.seen[2].headers['if-none-match']).toBe('"v1"');
  expect(samples.map((s) => s.value)).toEqual([1001]);
  expect(driver.stats().dropped!.unchanged).toBe(0);
  expect(driver.health()).toBe('up');

  version = 2;
  await waitFor('the new version', () => samples.length === 2);
  expect(samples[1].value).toBe(1002);
  const next = server.seen.length;
  await waitFor('the poll after it', () => server.seen.length > next);
  expect(server.seen[next].headers['if-none-match']).toBe('"v2"');
});

test('a server slower than the timeout: retried, the poll fails (requests abandoned), then the device recovers', async () => {
  // Requests 1 and 2 (the first poll and its retry) answer too late, the next ones at once.
  server.handler = (_req, res, n) => {
    if (n > 2) return json(res, { value: 2 });
    setTimeout(() => {
      if (!res.destroyed) json(res, { value: 1 });
    }, 1500).unref();
  };
  const { driver, samples, health } = source({ timeoutMs: 150, periodMs: 600, retries: 1 });
  const started = Date.now();
  await driver.start();
  expect(Date.now() - started).toBeLessThan(1000); // after the first attempt, not its retry
  driver.subscribe([point('value', 'value')]);
  await waitFor('the failed poll', () => health.length >= 1);
  expect(health[0]).toMatchObject({ health: 'degraded', requests: 2 });
  expect(health[0].error?.code).toBe('timeout');
  await waitFor(
    'the abandoned requests to close',
    () => server.seen[0].abandoned && server.seen[1].abandoned,
  );
  await waitFor('recovery', () => samples.length === 1);
  expect(samples[0].value).toBe(2);
  expect(health.map((h) => h.health)).toEqual(['degraded', 'up']);
  expect(driver.stats()).toMatchObject({ errors: 2, requests: 3 });
});

test('5xx answers are retried with backoff, within the same poll', async () => {
  server.handler = (_req, res, n) => {
    if (n <= 2) {
      res.writeHead(500);
      res.end('oops');
    } else json(res, { value: 3 });
  };
  const { driver, samples, health } = source({ retries: 2, periodMs: 5000 });
  await driver.start();
  driver.subscribe([point('value', 'value')]);
  await waitFor('the samples', () => samples.length === 1);
  expect(server.seen).toHaveLength(3);
  // Backoff without jitter: 30 ms, then 60 ms.
  expect(server.seen[1].at - server.seen[0].at).toBeGreaterThanOrEqual(25);
  expect(server.seen[2].at - server.seen[1].at).toBeGreaterThanOrEqual(55);
  expect(health.map((h) => h.health)).toEqual(['up']);
  expect(driver.stats()).toMatchObject({ requests: 3, errors: 2 });
});

test('a 404 is not retried; a 429 waits for Retry-After, at most one period', async () => {
  server.handler = (_req, res) => {
    res.writeHead(404);
    res.end();
  };
  const refused = source({ retries: 2, periodMs: 5000 });
  await refused.driver.start();
  await waitFor('the failed poll', () => refused.health.length === 1);
  await sleep(150);
  expect(server.seen).toHaveLength(1);
  expect(refused.health[0]).toMatchObject({ health: 'degraded' });
  expect(warnings.some((w) => w.includes('HTTP 404') && w.includes('not retried'))).toBe(true);
  await refused.driver.stop();

  server.seen.length = 0;
  server.handler = (_req, res, n) => {
    if (n === 1) {
      res.writeHead(429, { 'retry-after': '60' });
      res.end();
    } else json(res, { value: 4 });
  };
  const limited = source({ retries: 2, periodMs: 400 });
  await limited.driver.start();
  limited.driver.subscribe([point('value', 'value')]);
  // Every answer is new (no time in it): the poll after the late retry comes at once, a sample each.
  await waitFor('the samples', () => limited.samples.length >= 1, 4000);
  expect(limited.health.map((h) => h.health)).toEqual(['up']); // retried within the first poll
  const wait = server.seen[1].at - server.seen[0].at;
  expect(wait).toBeGreaterThanOrEqual(350); // not the 30 ms backoff
  expect(wait).toBeLessThan(3000); // not the 60 s asked: capped at the period
});

test('bad documents are counted per reason, logged once per reason, and polling goes on', async () => {
  const answers = [
    '<html>maintenance</html>',
    '<html>maintenance</html>',
    '[1, 2]',
    JSON.stringify({ t: 'tomorrow', v: 1, w: 2 }),
    JSON.stringify({ t: T1, v: { x: 1 } }),
    JSON.stringify({ t: T2, v: 5, w: 6 }),
  ];
  server.handler = (_req, res, n) => json(res, answers[Math.min(n, answers.length) - 1]);
  const { driver, samples, health } = source({ periodMs: 60, timePath: ['t'] });
  await driver.start();
  driver.subscribe([point('v', 'v'), point('w', 'w')]);
  await waitFor('the good document', () => samples.length === 2);
  expect(samples.map((s) => [s.key, s.value, s.sourceTime])).toEqual([
    ['v', 5, Date.parse(T2)],
    ['w', 6, Date.parse(T2)],
  ]);
  expect(driver.stats().dropped).toMatchObject({
    'not-json': 2,
    'not-object': 1,
    'bad-time': 1,
    'wrong-type': 1,
    'missing-field': 1,
  });
  const notJson = warnings.filter((w) => w.includes('(not-json)'));
  expect(notJson).toHaveLength(1);
  expect(warnings.filter((w) => w.includes('dropped'))).toHaveLength(5);
  expect(health.map((h) => h.health)).toEqual(['up']);
  const polls = server.seen.length;
  await waitFor('more polls', () => server.seen.length > polls + 1);
});

test('health: degraded after one failed poll, down after three in a row, up at the next success', async () => {
  // Request 1 answered, 2 to 4 refused, 5 and after answered.
  server.handler = (_req, res, n) => {
    if (n >= 2 && n <= 4) {
      res.writeHead(503);
      res.end();
    } else json(res, { value: 1 });
  };
  const { driver, health, connected } = source({ periodMs: 80 });
  await driver.start();
  await waitFor('up again', () => health.length >= 4);
  expect(health.map((h) => [h.health, h.error?.code, h.error?.detail])).toEqual([
    ['up', undefined, undefined],
    ['degraded', 'exception', 'HTTP 503 Service Unavailable'],
    ['down', 'exception', 'HTTP 503 Service Unavailable'],
    ['up', undefined, undefined],
  ]);
  // One successful request, then the failures: degraded at the first of them, down at the third.
  expect(health[1].requests).toBe(2);
  expect(health[2].requests).toBe(4);
  expect(health[3].requests).toBe(5);
  expect(connected).toEqual([false, true]);
  expect(driver.stats().reconnects).toBe(1);
});

test('stop() abandons the request in flight and polls no more', async () => {
  server.handler = () => undefined; // never answers
  const { driver, samples, health } = source({ timeoutMs: 10_000, periodMs: 100 });
  const started = driver.start();
  await waitFor('the request', () => server.seen.length === 1);
  const stopping = Date.now();
  await driver.stop();
  await started;
  expect(Date.now() - stopping).toBeLessThan(500);
  await waitFor('the connection to close', () => server.seen[0].abandoned);
  await sleep(300);
  expect(server.seen).toHaveLength(1);
  expect(samples).toEqual([]);
  expect(health).toEqual([]); // stopping is not a failure
  expect(driver.health()).toBe('down');
});

test('stop() ends a wait between retries', async () => {
  server.handler = (_req, res) => {
    res.writeHead(502);
    res.end();
  };
  const { driver } = source({ retries: 3, backoff: { initialMs: 5000, jitter: 0 }, periodMs: 60_000 });
  await driver.start();
  await sleep(50);
  const stopping = Date.now();
  await driver.stop();
  expect(Date.now() - stopping).toBeLessThan(500);
  expect(server.seen).toHaveLength(1);
});

test('read() fetches the document once, unconditionally; subscribe() after a document uses it at once', async () => {
  server.handler = (_req, res) => json(res, { value: 42, text: 'n/a' }, { etag: '"same"' });
  const { driver, samples } = source({ periodMs: 60_000 });
  await driver.start();
  await waitFor('the first poll', () => server.seen.length === 1);
  driver.subscribe([point('value', 'value')]);
  await waitFor('the samples of the first document', () => samples.length === 1);
  expect(server.seen).toHaveLength(1);
  expect(samples[0].value).toBe(42);

  const read = await driver.read([point('value', 'value'), point('text', 'text'), point('gone', 'gone')]);
  expect(server.seen).toHaveLength(2);
  expect(server.seen[1].headers['if-none-match']).toBeUndefined();
  expect(read[0]).toMatchObject({ key: 'value', value: 42, quality: 'good' });
  expect(read[1]).toMatchObject({ key: 'text', value: null, quality: 'bad' });
  expect(read[1].error?.code).toBe('bad-type');
  expect(read[2].error?.code).toBe('not-found');

  expect(await driver.check([point('value', 'value')])).toEqual([]);
  const [written] = await driver.write([
    { key: 'value', address: point('value', 'value').address, value: 1 },
  ]);
  expect(written.ok).toBe(false);
  expect(written.error?.code).toBe('exception');
  expect(() => driver.subscribe([{ key: 'm', address: { protocol: 'opcua', nodeId: 'ns=1;s=x' } }])).toThrow(
    /not an HTTP address/,
  );

  server.handler = (_req, res) => {
    res.writeHead(500);
    res.end();
  };
  const failed = await driver.read([point('value', 'value')]);
  expect(failed[0]).toMatchObject({ value: null, quality: 'bad' });
  expect(failed[0].error?.message).toMatch(/HTTP 500/);
  expect(driver.health()).toBe('up'); // read() is not a poll
});

test('a document over maxBytes is dropped unread; a redirect is not followed', async () => {
  server.handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no length announced
    res.write(`{"value": 1, "padding": "${'x'.repeat(2000)}`);
    res.end('"}');
  };
  const big = source({ maxBytes: 1000, periodMs: 60_000 });
  await big.driver.start();
  big.driver.subscribe([point('value', 'value')]);
  await waitFor('the drop', () => big.driver.stats().dropped!['too-large'] === 1);
  expect(big.samples).toEqual([]);
  expect(big.driver.health()).toBe('up');
  await big.driver.stop();

  server.seen.length = 0;
  server.handler = (req, res) => {
    if (req.url?.endsWith('/moved')) return json(res, { value: 2 });
    res.writeHead(301, { location: `${server.url}/moved` });
    res.end();
  };
  const moved = source({ retries: 2, periodMs: 60_000 });
  await moved.driver.start();
  await waitFor('the failed poll', () => moved.health.length === 1);
  expect(moved.health[0]).toMatchObject({ health: 'degraded' });
  expect(moved.health[0].error?.message).toMatch(
    /HTTP 301.*redirected to .*\/moved; configure the final URL/,
  );
  await sleep(100);
  expect(server.seen).toHaveLength(1);
});
