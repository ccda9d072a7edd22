/**
 * Preloaded into the service by the memory benchmark (`node --expose-gc -r heapProbe.js`): on each IPC
 * message `heap`, collects garbage (twice: a second pass frees what the first one's finalizers let go)
 * and answers the heap still in use and the RSS. The channel does not keep the service alive.
 */

interface HeapSample {
  retainedHeapBytes: number;
  rssBytes: number;
}

const collect = (globalThis as { gc?: () => void }).gc;
if (collect && process.send) {
  process.on('message', (message) => {
    if (message !== 'heap') return;
    collect();
    collect();
    const usage = process.memoryUsage();
    process.send?.({ retainedHeapBytes: usage.heapUsed, rssBytes: usage.rss } satisfies HeapSample);
  });
  process.channel?.unref();
}

export type { HeapSample };
