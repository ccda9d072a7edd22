import type { Timer } from '../../../core/clock';
import type { PointRef, PointWrite, Sample, WriteResult } from '../../../drivers/driver';
import { channelKey, type DeviceBinding } from './bindings';

/**
 * One levels write of a device and the read-back that follows it (and the fades before it, on a ramp).
 * Pooled per device: a cycle goes back to its device once every answer it waits for has come, so a
 * detection costs no arrays, no cycle object and no answer callbacks (made once per pooled cycle).
 */
export class Cycle {
  /** Slots sent (the first `count`), and the level sent to each. */
  readonly slots: Int32Array;
  readonly levels: Float64Array;
  count = 0;
  lo = 0;
  hi = 0;
  /** The level writes, then the fade writes of a ramp (see Dispatcher.send). */
  readonly writes: PointWrite[] = [];
  readonly fades: PointWrite[] = [];
  /** Per slot sent, the write carrying it when group or broadcast writes stand for several (else the same index). */
  writeOf: Int32Array | undefined;
  /** Set by the write's answer (which comes before the read-back's): 1 where the write failed. */
  readonly failed: Uint8Array;
  /** Answers still to come (fades, levels, read-back); at 0 the cycle is free again. */
  pending = 0;
  onWritten!: (results: WriteResult[]) => void;
  onWriteFailed!: (error: unknown) => void;
  onRead!: (samples: Sample[]) => void;
  onReadFailed!: (error: unknown) => void;
  onFadesWritten!: (results: WriteResult[]) => void;
  onFadesFailed!: (error: unknown) => void;

  constructor(slotCount: number) {
    this.slots = new Int32Array(slotCount);
    this.levels = new Float64Array(slotCount);
    this.failed = new Uint8Array(slotCount);
  }

  /** Empties the cycle for its next write. */
  reset(): void {
    this.count = 0;
    this.writes.length = 0;
    this.fades.length = 0;
    this.writeOf = undefined;
  }
}

/** Above the distinct read-back blocks of a device of 256 channels (2·256/8; see Dispatcher.send). */
const RANGE_CACHE_LIMIT = 64;
/** Read-backs cover whole aligned blocks of this many channels (or a power-of-two multiple). */
export const READ_ALIGN = 8;

/**
 * What the dispatcher keeps per segment controller: the slots to send, their retries, whether a write is in
 * flight, the housekeeping deadlines, and the write and read objects reused from one cycle to the next.
 */
export class DeviceState {
  readonly dirty: Uint8Array;
  readonly dirtyList: Int32Array;
  dirtyCount = 0;
  readonly retry: Uint8Array;
  retryList: number[] = [];
  retryTimer: Timer | undefined;
  writing = false;
  /** Increments with every levels write, so a poll issued before one knows it is stale. */
  sendSeq = 0;
  lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Watchdog and fail-safe to be written after the next levels. */
  needsSetup = true;
  bootCount = Number.NaN;
  polling = false;
  nextReconcileAt = 0;
  readonly ranges = new Map<number, PointRef[]>();
  readonly pollRefs: PointRef[];
  /**
   * Level writes, one reused object per slot (made on first use): at most one levels write of the
   * device is in flight, and its values are set only when the next one starts. Saves the garbage
   * collector 10,000 objects per relight of 10,000 luminaires.
   */
  private levelWrites?: PointWrite[];
  /** Fade writes, one per slot, reused like the level writes. */
  private fadeWrites?: PointWrite[];
  private commandCount = 0;
  /** Cycles whose answers have all come, ready for the next write. */
  readonly freeCycles: Cycle[] = [];

  constructor(readonly binding: DeviceBinding) {
    const n = binding.luminaires.length;
    this.dirty = new Uint8Array(n);
    this.dirtyList = new Int32Array(n);
    this.retry = new Uint8Array(n);
    this.pollRefs = binding.bootCount ? [...binding.inEffect, binding.bootCount] : binding.inEffect;
  }

  /** Slot k goes out with the next levels write; false when it already does. */
  markDirty(k: number): boolean {
    if (this.dirty[k] === 1) return false;
    this.dirty[k] = 1;
    this.dirtyList[this.dirtyCount++] = k;
    return true;
  }

  levelWrite(k: number, value: number): PointWrite {
    const b = this.binding;
    this.levelWrites ??= Array.from(b.commanded, (address, slot) => ({
      key: channelKey('level', b.channels[slot]),
      address,
      value: 0,
    }));
    const write = this.levelWrites[k];
    write.value = value;
    return write;
  }

  fadeWrite(k: number, value: number): PointWrite {
    const b = this.binding;
    this.fadeWrites ??= Array.from(b.fade!, (address, slot) => ({
      key: channelKey('fade', b.channels[slot]),
      address,
      value: 0,
    }));
    const write = this.fadeWrites[k];
    write.value = value;
    return write;
  }

  /**
   * The command counter's next write, where the profile has one: 1 to 255 and round again, a new value
   * each command (a device that missed one applies the next, which is a retry).
   */
  nextCommandCounter(): PointWrite | undefined {
    const address = this.binding.commandCounter;
    if (!address) return undefined;
    this.commandCount = (this.commandCount % 255) + 1;
    return { key: 'command_counter', address, value: this.commandCount };
  }

  /** Read-back refs for slots lo..hi, reused so the driver's read plan is reused too. */
  range(lo: number, hi: number): PointRef[] {
    const all = this.binding.inEffect;
    if (lo === 0 && hi === all.length - 1) return all;
    const key = lo * 65536 + hi;
    let refs = this.ranges.get(key);
    if (!refs) {
      if (this.ranges.size >= RANGE_CACHE_LIMIT) this.ranges.clear();
      refs = all.slice(lo, hi + 1);
      this.ranges.set(key, refs);
    }
    return refs;
  }
}
