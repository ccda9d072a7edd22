import { ManualClock } from '../../../core/clock';
import { DeliveryQueue, type AttemptOutcome } from '../../../controller/telemetry/alerts/deliveryQueue';
import { RecordingLogger } from '../api/harness';

// The queue every alert output shares (webhooks, e-mail, SMS), on a manual clock: order, backoff,
// refusals, the bound, and stop. Attempts are scripted outcomes; the real requests are tested on loopback.

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function harness(script: AttemptOutcome[], options: { maxQueue?: number; retries?: number } = {}) {
  const clock = new ManualClock(0);
  const logger = new RecordingLogger();
  const attempts: { item: string; at: number }[] = [];
  const settled: string[] = [];
  const queue = new DeliveryQueue<string>({
    name: 'SMS',
    retries: options.retries ?? 2,
    backoffMs: 1000,
    maxQueue: options.maxQueue ?? 10,
    clock,
    logger,
    attempt: (item) => {
      attempts.push({ item, at: clock.now() });
      return Promise.resolve(script.shift() ?? { ok: true });
    },
    describe: (item) => `message ${item}`,
    settled: (item, outcome) =>
      settled.push(outcome.delivered ? `${item} delivered` : `${item} given up: ${outcome.reason}`),
  });
  return { clock, logger, attempts, settled, queue };
}

const fail = (reason: string, permanent = false): AttemptOutcome => ({ ok: false, permanent, reason });

describe('DeliveryQueue', () => {
  it('retries with growing delays, in order, and tells each item’s end once', async () => {
    const { clock, attempts, settled, queue } = harness([fail('HTTP 500'), fail('timeout')]);
    queue.enqueue('a');
    queue.enqueue('b');
    await flush();
    expect(attempts).toEqual([{ item: 'a', at: 0 }]);
    clock.advance(1000); // first retry: at most 1 s (jitter draws below)
    await flush();
    clock.advance(2000); // second: at most 2 s
    await flush();
    await flush();
    expect(attempts.map((a) => a.item)).toEqual(['a', 'a', 'a', 'b']);
    expect(attempts[1].at).toBeGreaterThanOrEqual(500);
    expect(attempts[2].at - attempts[1].at).toBeGreaterThanOrEqual(1000);
    expect(settled).toEqual(['a delivered', 'b delivered']);
    expect(queue.stats()).toEqual({ delivered: 2, failedAttempts: 2, abandoned: 0, queued: 0 });
  });

  it('gives up after its retries, does not retry a refusal, and logs both', async () => {
    const { clock, logger, settled, queue } = harness([
      fail('HTTP 500'),
      fail('HTTP 500'),
      fail('HTTP 500'),
      fail('HTTP 403', true),
    ]);
    queue.enqueue('a');
    queue.enqueue('b');
    for (let i = 0; i < 5; i++) {
      clock.advance(5000);
      await flush();
    }
    expect(settled).toEqual(['a given up: HTTP 500', 'b given up: HTTP 403']);
    expect(queue.stats()).toMatchObject({ delivered: 0, failedAttempts: 4, abandoned: 2 });
    expect(logger.lines.filter((l) => l.startsWith('error'))).toEqual([
      'error SMS: message a given up after 3 attempts: HTTP 500 {}',
      'error SMS: message b refused: HTTP 403; not retried {}',
    ]);
  });

  it('is bounded: when full the oldest waiting item is dropped and counted, never the one in flight', async () => {
    const { queue, logger, settled } = harness([fail('down')], { maxQueue: 2, retries: 0 });
    for (const item of ['a', 'b', 'c', 'd']) queue.enqueue(item); // 'a' in flight at once
    expect(queue.stats()).toMatchObject({ queued: 3, abandoned: 1 });
    expect(logger.lines.filter((l) => l.includes('queue full'))).toHaveLength(1);
    await flush();
    await flush();
    expect(settled).toEqual(['a given up: down', 'c delivered', 'd delivered']);
  });

  it('stops at once, counting what was waiting as abandoned', async () => {
    const { queue, clock } = harness([fail('down')]);
    queue.enqueue('a');
    queue.enqueue('b');
    await flush(); // 'a' waits for its retry
    await queue.stop();
    expect(queue.stats()).toMatchObject({ delivered: 0, abandoned: 2, queued: 0 });
    expect(clock.pendingTimers()).toBe(0);
    queue.enqueue('c'); // ignored after stop
    expect(queue.stats().queued).toBe(0);
  });
});
