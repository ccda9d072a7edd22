import { HttpError, RequestTimedOutError } from '@influxdata/influxdb-client';
import {
  type PostOutcome,
  classifyWriteFailure,
  describeError,
  isolateRejected,
  writerHealth,
} from '../../../drivers/influx/sendPolicy';

// The errors are the client library's own classes, built as its transport builds them.
const influxError = (status: number, error: string, retryAfter?: string): HttpError =>
  new HttpError(status, 'status', JSON.stringify({ error }), retryAfter, 'application/json');

describe('classifyWriteFailure', () => {
  test('refused data (400, 413, 422) goes to quarantine, with InfluxDB’s reason', () => {
    expect(classifyWriteFailure(influxError(400, 'partial write: field type conflict dropped=1'))).toEqual({
      action: 'quarantine',
      status: 400,
      message: 'HTTP 400: partial write: field type conflict dropped=1',
    });
    expect(classifyWriteFailure(influxError(413, 'too large')).action).toBe('quarantine');
    expect(classifyWriteFailure(influxError(422, 'points beyond retention')).action).toBe('quarantine');
  });

  test('outages, overload and configuration errors are retried, never quarantined', () => {
    for (const status of [401, 403, 404, 429, 500, 502, 503]) {
      expect(classifyWriteFailure(influxError(status, 'no')).action).toBe('retry');
    }
    expect(classifyWriteFailure(new RequestTimedOutError())).toMatchObject({
      action: 'retry',
      status: undefined,
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8086'), { code: 'ECONNREFUSED' });
    expect(classifyWriteFailure(refused)).toEqual({
      action: 'retry',
      status: undefined,
      message: 'connect ECONNREFUSED 127.0.0.1:8086',
      retryAfterMs: 0,
    });
  });

  test('a Retry-After header sets the least delay before the next attempt', () => {
    expect(classifyWriteFailure(influxError(429, 'slow down', '3'))).toMatchObject({
      action: 'retry',
      retryAfterMs: 3000,
    });
  });

  test('describeError keeps a non-JSON body and anything thrown', () => {
    expect(describeError(new HttpError(502, 'Bad Gateway', '<html>bad\n gateway</html>'))).toBe(
      'HTTP 502: <html>bad gateway</html>',
    );
    expect(describeError('plain')).toBe('plain');
    expect(describeError(undefined)).toBe('undefined');
  });
});

describe('writerHealth', () => {
  const base = { configured: true, consecutiveFailures: 0, catchingUp: false, downAfterFailures: 3 };
  test.each([
    [{}, 'up'],
    [{ catchingUp: true }, 'degraded'],
    [{ consecutiveFailures: 1 }, 'degraded'],
    [{ consecutiveFailures: 2, catchingUp: true }, 'degraded'],
    [{ consecutiveFailures: 3 }, 'down'],
    [{ configured: false }, 'down'],
  ] as const)('%o → %s', (change, health) => {
    expect(writerHealth({ ...base, ...change })).toBe(health);
  });
});

describe('isolateRejected', () => {
  /** Refuses any request holding a line containing "bad", as InfluxDB refuses a batch with a bad line. */
  function influxRefusingBad(): {
    post: (text: string) => Promise<PostOutcome>;
    accepted: string[];
    requests: number;
  } {
    const state = {
      accepted: [] as string[],
      requests: 0,
      post: (text: string): Promise<PostOutcome> => {
        state.requests++;
        const lines = text.split('\n');
        const bad = lines.find((line) => line.includes('bad'));
        if (bad) return Promise.resolve({ rejected: `unable to parse '${bad}'` });
        state.accepted.push(...lines);
        return Promise.resolve('ok');
      },
    };
    return state;
  }

  test('finds the refused lines and writes every other line', async () => {
    const lines = Array.from({ length: 100 }, (_, i) => (i === 17 || i === 60 ? `bad${i}` : `good${i}`));
    const influx = influxRefusingBad();
    const rejected = await isolateRejected(lines, 'first', influx.post, 64);
    expect(rejected).toEqual([
      { lines: ['bad17'], reason: "unable to parse 'bad17'" },
      { lines: ['bad60'], reason: "unable to parse 'bad60'" },
    ]);
    expect(influx.accepted.sort()).toEqual(lines.filter((line) => line.startsWith('good')).sort());
  });

  test('a batch of only bad lines costs at most maxRequests requests, and is returned whole', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `bad${i}`);
    const influx = influxRefusingBad();
    const rejected = await isolateRejected(lines, 'first', influx.post, 10);
    expect(influx.requests).toBeLessThanOrEqual(10);
    expect(rejected.flatMap((part) => part.lines)).toEqual(lines);
    expect(influx.accepted).toEqual([]);
  });

  test('a single refused line is returned with the first reason, without a request', async () => {
    const influx = influxRefusingBad();
    expect(await isolateRejected(['bad'], 'HTTP 400: x', influx.post, 64)).toEqual([
      { lines: ['bad'], reason: 'HTTP 400: x' },
    ]);
    expect(influx.requests).toBe(0);
  });
});
