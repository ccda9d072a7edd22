import { setFlagsFromString } from 'node:v8';

/**
 * How much V8 lets the old generation grow past what its last full collection kept, in percent.
 * V8's own heuristic lets a heap that grows fast (the start of a territory of 100,000 luminaires:
 * configuration, bindings, first levels and their telemetry) reach up to four times what it kept
 * before collecting again: ~490 MB of RSS for ~200 MB live. At 1.5×, the start of one shard of
 * 100,000 luminaires peaks at ~340 MB and a relight of all of it is confirmed as fast (bench/scale.ts).
 * It is no cap: the heap still grows as far as the live data needs.
 */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Sets V8's heap growing factor for a long-running service, unless the operator gave one on the
 * command line (`node --heap-growing-percent=N`). V8 reads the flag at each full collection, so it
 * applies from the next one. Returns whether it was set here.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
