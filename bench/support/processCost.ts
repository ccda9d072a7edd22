import { getHeapStatistics, GCProfiler } from 'node:v8';
import { performance, PerformanceObserver } from 'node:perf_hooks';

/** What this process spent over a measured window: bytes allocated on the JS heap, GC pauses, CPU. */
export interface ProcessCost {
  seconds: number;
  allocatedBytes: number;
  gcPauseMs: number;
  cpuUs: number;
}

/**
 * Measures this process's cost over a window. Allocation is not counted by V8 directly: it is the heap
 * in use at the end minus at the start, plus what every collection in between freed (GCProfiler's
 * before/after statistics). GC pauses come from perf_hooks' `gc` entries; CPU from process.cpuUsage
 * (user + system, every thread of the process: the GC's helpers included).
 */
export class CostMeter {
  private readonly profiler = new GCProfiler();
  private readonly observer: PerformanceObserver;
  private pauseMs = 0;
  private startedAt = 0;
  private heapAtStart = 0;
  private cpuAtStart: NodeJS.CpuUsage = { user: 0, system: 0 };

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.pauseMs += entry.duration;
    });
  }

  start(): void {
    this.pauseMs = 0;
    this.observer.observe({ entryTypes: ['gc'] });
    this.profiler.start();
    this.heapAtStart = getHeapStatistics().used_heap_size;
    this.cpuAtStart = process.cpuUsage();
    this.startedAt = performance.now();
  }

  /** Ends the window. GC entries are delivered asynchronously: those of the last turn are collected first. */
  async stop(): Promise<ProcessCost> {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const cpu = process.cpuUsage(this.cpuAtStart);
    const heapAtEnd = getHeapStatistics().used_heap_size;
    const { statistics } = this.profiler.stop();
    await new Promise((resolve) => setImmediate(resolve));
    this.observer.disconnect();
    let freed = 0;
    for (const gc of statistics)
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    return {
      seconds,
      allocatedBytes: heapAtEnd - this.heapAtStart + freed,
      gcPauseMs: this.pauseMs,
      cpuUs: cpu.user + cpu.system,
    };
  }
}
