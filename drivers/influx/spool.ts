import { EventEmitter } from 'node:events';
import { constants, promises as fsp, writeSync } from 'node:fs';
import path from 'node:path';
import type { Clock, Timer } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { syncDirectory, writeFileAtomically } from '../durableFile';
import { lineTimestamp } from './lineProtocol';

/**
 * The durable queue between the service and InfluxDB: append-only segment files of line protocol
 * (`<seq>.lp`, one point per line, each append ending with a newline), plus a read cursor persisted
 * atomically (`cursor.json`). Appends are grouped: every `append` waiting while a write is in progress,
 * or within `syncIntervalMs` of the last one, joins the next one, so there is one write per group, never
 * per point. An append is acknowledged once its group is in the segment file (the page cache), which a
 * crash of the process cannot lose; `fdatasync` runs on its own, at most once per `fsyncIntervalMs`, so
 * that a power cut loses at most the acknowledged appends of that interval and of the sync in progress,
 * and the disk's latency never delays an acknowledgement. The spool is bounded: when an
 * append would exceed `maxBytes`, the oldest segments are deleted, and the points they held are counted
 * and reported through the `dropped` event.
 *
 * One process at a time may use a spool directory.
 */

export interface SpoolPosition {
  readonly segment: number;
  readonly offset: number;
}

export interface SpoolOptions {
  dir: string;
  /** Bound on the bytes of all segment files. */
  maxBytes: number;
  /** A segment is closed and a new one started when an append would make it larger than this. */
  segmentBytes: number;
  /** Appended lines kept in memory for the sender, oldest forgotten first (they stay on disk). */
  tailMaxBytes: number;
  /**
   * Least time between two cursor saves. A cursor older than the last acknowledgement only makes a restart
   * send some acknowledged points again, which InfluxDB stores once (same series and timestamp).
   */
  cursorSaveIntervalMs: number;
  /**
   * Least time between the starts of two group writes: appends arriving meanwhile join one group, so a
   * flood costs at most 1000 / syncIntervalMs writes a second while a lone append is written at once. A
   * line waits at most this long to be acknowledged. 0: the appends of one turn of the event loop share a
   * write.
   */
  syncIntervalMs?: number;
  /**
   * Least time between two fdatasyncs (default: syncIntervalMs), as InfluxDB's own `wal-fsync-delay`: a
   * power cut loses at most the acknowledged appends of this long and of the sync in progress.
   */
  fsyncIntervalMs?: number;
}

/** Consecutive lines of one segment, from `start` (inclusive) to `end` (exclusive). */
export interface SpoolBatch {
  readonly start: SpoolPosition;
  readonly end: SpoolPosition;
  /** The lines joined by newlines, without a final newline. */
  readonly text: string;
  readonly points: number;
}

export interface SpoolRecovery {
  pendingPoints: number;
  pendingBytes: number;
  /** Torn last lines (a crash during an append) found and cut off. */
  tornLines: number;
  segments: number;
}

export interface SpoolStats {
  pendingPoints: number;
  pendingBytes: number;
  droppedPoints: number;
  tornLines: number;
  segments: number;
  /** When the oldest pending point was appended (for points recovered at open: its own timestamp). */
  oldestPendingTime: number | undefined;
  /** fdatasyncs done since open. */
  syncs: number;
}

export interface SpoolEvents {
  /** New lines can be read. */
  appended: [];
  /** The oldest segment was deleted to keep the bound; `points` were never sent. */
  dropped: [info: { points: number; bytes: number; segment: number }];
}

interface Segment {
  seq: number;
  file: string;
  bytes: number;
  points: number;
}

/** Covers the pending data up to `segment:offset`; `time` is when the oldest of it was appended. */
interface AgeMark {
  segment: number;
  offset: number;
  time: number;
}

/**
 * The lines of one group write still in memory, joined, so that the sender needs not read them back from
 * disk. One chunk a group rather than one an append: at 2,000 appends a second, fewer objects live long
 * enough to reach the old generation of the heap.
 */
interface TailChunk {
  text: string;
  points: number;
  segment: number;
  start: number;
  end: number;
}

interface Group {
  /** The lines of each append, joined. */
  texts: string[];
  points: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

const SEGMENT_NAME = /^(\d{16})\.lp$/;
const CURSOR_FILE = 'cursor.json';
const SCAN_CHUNK = 1 << 20;
const NEWLINE = 0x0a;
/** Read and write buffers larger than this are released after use rather than kept for the next one. */
const KEPT_BUFFER_BYTES = 8 * 1024 * 1024;
/** Age marks closer together than this are merged, so a long outage keeps few of them. */
const MARK_GRANULARITY_MS = 1000;

function comparePositions(a: SpoolPosition, b: SpoolPosition): number {
  return a.segment - b.segment || a.offset - b.offset;
}

export class Spool extends EventEmitter<SpoolEvents> {
  private state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  /** Oldest first; the first is the cursor's segment, the last the one appended to. */
  private segments: Segment[] = [];
  private cursor: SpoolPosition = { segment: 0, offset: 0 };
  /** Points before the cursor in the cursor's segment. */
  private cursorPoints = 0;
  private totalBytes = 0;
  private pendingPoints = 0;
  private droppedPoints = 0;
  private tornLines = 0;
  private marks: AgeMark[] = [];
  private appendHandle: fsp.FileHandle | undefined;
  private group: Group | undefined;
  /** performance.now() when the last group write started: disk pacing is real time, whatever the clock. */
  private lastGroupAt = Number.NEGATIVE_INFINITY;
  private flushing: Promise<void> | undefined;
  /** Bytes were written to the append segment since its last fdatasync started. */
  private unsynced = false;
  /** performance.now() when the last fdatasync started. */
  private lastSyncAt = Number.NEGATIVE_INFINITY;
  private syncing: Promise<void> | undefined;
  private syncs = 0;
  private cursorSave: Promise<void> | undefined;
  private cursorDirty = false;
  private cursorTimer: Timer | undefined;
  private lastCursorSave = -Infinity;
  /** The segment last read, kept open for the next read; buffers reused from one call to the next. */
  private reader: { seq: number; handle: fsp.FileHandle } | undefined;
  private readBuffer = Buffer.alloc(0);
  private tail: TailChunk[] = [];
  private tailBytes = 0;
  private writeBuffer = Buffer.alloc(0);
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly options: SpoolOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    super();
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Recovers the directory: cuts torn lines, checks the cursor, and opens the last segment for appends. */
  async open(): Promise<SpoolRecovery> {
    if (this.state !== 'new') throw new Error(`spool ${this.dir}: open() called twice`);
    this.state = 'opening';
    await fsp.mkdir(this.dir, { recursive: true });
    const saved = await this.readCursor();
    const seqs = (await fsp.readdir(this.dir))
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((seq): seq is string => seq !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const seq of seqs.filter((s) => s < saved.segment)) {
      await fsp.rm(this.segmentFile(seq), { force: true });
    }
    const kept = seqs.filter((s) => s >= saved.segment);
    // A missing cursor segment means it was consumed or dropped: continue at the next one.
    this.cursor = kept[0] === saved.segment ? saved : { segment: kept[0] ?? saved.segment + 1, offset: 0 };
    for (const seq of kept) this.segments.push(await this.recoverSegment(seq));
    this.totalBytes = this.segments.reduce((sum, s) => sum + s.bytes, 0);
    this.pendingPoints = this.segments.reduce((sum, s) => sum + s.points, 0) - this.cursorPoints;

    const last = this.segments.at(-1);
    if (last && last.bytes < this.options.segmentBytes) {
      this.appendHandle = await fsp.open(last.file, 'a');
    } else {
      await this.startSegment((last?.seq ?? this.cursor.segment - 1) + 1);
    }
    this.state = 'open';
    if (comparePositions(this.cursor, saved) !== 0) this.saveCursorSoon();
    return {
      pendingPoints: this.pendingPoints,
      pendingBytes: this.pendingBytes(),
      tornLines: this.tornLines,
      segments: this.segments.length,
    };
  }

  /**
   * Appends lines (each without a newline) and resolves once they are written to the segment file (not
   * yet synced: see the class comment). Lines appended while another write is in progress share the next
   * write.
   */
  append(lines: readonly string[]): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new Error(`spool ${this.dir} is ${this.state}`));
    if (lines.length === 0) return Promise.resolve();
    let group = this.group;
    if (!group) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      group = { texts: [], points: 0, done, resolve, reject };
      this.group = group;
    }
    group.texts.push(lines.length === 1 ? lines[0] : lines.join('\n'));
    group.points += lines.length;
    if (!this.flushing) this.flushing = this.flushGroups();
    return group.done;
  }

  /**
   * Up to `maxPoints` lines from `from` on (within one segment), or undefined when nothing is left to read.
   * Positions before the cursor (dropped meanwhile) are moved to the cursor. One read at a time.
   */
  async read(from: SpoolPosition, maxPoints: number, maxBytes: number): Promise<SpoolBatch | undefined> {
    const start = this.readableFrom(from);
    if (!start) return undefined;
    const { segment, position } = start;
    const inMemory = this.readTail(position, maxPoints, maxBytes);
    if (inMemory) return inMemory;
    const available = segment.bytes - position.offset;
    const averageLine = Math.ceil(this.totalBytes / Math.max(1, this.pendingPoints + this.cursorPoints));
    let want = Math.min(available, maxBytes, Math.ceil(maxPoints * averageLine * 1.1) + 1024);
    const handle = await this.readerFor(segment);
    if (!handle) return undefined;
    for (;;) {
      if (this.readBuffer.length < want)
        this.readBuffer = Buffer.allocUnsafe(Math.max(want, this.readBuffer.length * 2));
      const buffer = this.readBuffer;
      const { bytesRead } = await handle.read(buffer, 0, want, position.offset);
      let cut = -1;
      let points = 0;
      while (points < maxPoints) {
        const next = buffer.indexOf(NEWLINE, cut + 1);
        if (next < 0 || next >= bytesRead) break;
        cut = next;
        points++;
      }
      const exhausted = bytesRead < want || want >= available;
      const full = want >= maxBytes;
      if (points > 0 && (points === maxPoints || exhausted || full)) {
        const text = buffer.toString('utf8', 0, cut);
        if (this.readBuffer.length > KEPT_BUFFER_BYTES) this.readBuffer = Buffer.alloc(0);
        return {
          start: position,
          end: { segment: segment.seq, offset: position.offset + cut + 1 },
          text,
          points,
        };
      }
      if (exhausted) {
        this.logger.error(`spool: ${segment.file} has no complete line after offset ${position.offset}`);
        return undefined;
      }
      // Estimate too small, or one line longer than maxBytes: read more.
      want = Math.min(available, points > 0 ? Math.min(maxBytes, want * 2) : want * 2);
    }
  }

  /**
   * The batch from the in-memory tail when it starts exactly at `position` and its first chunk fits
   * `maxPoints`: whole chunks only, so the point count is known without scanning. Chunks before
   * `position` are forgotten: nothing reads behind itself.
   */
  private readTail(position: SpoolPosition, maxPoints: number, maxBytes: number): SpoolBatch | undefined {
    let skip = 0;
    while (
      skip < this.tail.length &&
      comparePositions({ segment: this.tail[skip].segment, offset: this.tail[skip].end }, position) <= 0
    ) {
      skip++;
    }
    this.forgetTail(skip);
    const first = this.tail[0];
    if (
      !first ||
      first.segment !== position.segment ||
      first.start !== position.offset ||
      first.points > maxPoints
    ) {
      return undefined;
    }
    let count = 1;
    let points = first.points;
    let end = first.end;
    while (count < this.tail.length) {
      const next = this.tail[count];
      if (next.segment !== first.segment || next.start !== end) break;
      if (points + next.points > maxPoints || next.end - first.start > maxBytes) break;
      points += next.points;
      end = next.end;
      count++;
    }
    const text =
      count === 1
        ? first.text
        : this.tail
            .slice(0, count)
            .map((chunk) => chunk.text)
            .join('\n');
    this.forgetTail(count);
    return { start: position, end: { segment: first.segment, offset: end }, text, points };
  }

  private forgetTail(count: number): void {
    for (let i = 0; i < count; i++) this.tailBytes -= this.tail[i].end - this.tail[i].start;
    if (count > 0) this.tail.splice(0, count);
  }

  /** The open handle of a segment for reading; undefined when the bound deleted it meanwhile. */
  private async readerFor(segment: Segment): Promise<fsp.FileHandle | undefined> {
    if (this.reader?.seq === segment.seq) return this.reader.handle;
    const previous = this.reader;
    this.reader = undefined;
    await previous?.handle.close();
    try {
      this.reader = { seq: segment.seq, handle: await fsp.open(segment.file, 'r') };
      return this.reader.handle;
    } catch (error) {
      // The 'dropped' event already told the reader.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Moves the cursor past a batch InfluxDB accepted. Batches must be committed in order; a batch of a
   * segment dropped meanwhile is ignored.
   */
  commit(batch: Pick<SpoolBatch, 'start' | 'end' | 'points'>): void {
    if (this.state === 'closed' || comparePositions(batch.end, this.cursor) <= 0) return;
    if (batch.start.segment < this.cursor.segment) return;
    while (this.segments.length > 1 && this.segments[0].seq < batch.start.segment) this.releaseOldest();
    this.cursor = batch.end;
    this.cursorPoints += batch.points;
    this.pendingPoints -= batch.points;
    this.releaseConsumed();
    this.forgetMarksUpTo(this.cursor);
    this.saveCursorSoon();
  }

  /** Deletes the cursor's segment once it is read to the end and appends go to a later one. */
  private releaseConsumed(): void {
    while (
      this.segments.length > 1 &&
      this.segments[0].seq === this.cursor.segment &&
      this.cursor.offset >= this.segments[0].bytes
    ) {
      this.releaseOldest();
    }
  }

  /** Deletes the oldest segment, everything in it acknowledged, and moves the cursor to the next one. */
  private releaseOldest(): void {
    const consumed = this.segments.shift() as Segment;
    this.totalBytes -= consumed.bytes;
    this.pendingPoints -= consumed.points - this.cursorPoints;
    this.cursorPoints = 0;
    this.cursor = { segment: this.segments[0].seq, offset: 0 };
    this.track(fsp.rm(consumed.file, { force: true }), `delete ${consumed.file}`);
  }

  /** Points appended and not yet committed: stats().pendingPoints, without building the stats. */
  get uncommittedPoints(): number {
    return this.pendingPoints;
  }

  /** The cursor: everything before it was acknowledged. */
  position(): SpoolPosition {
    return this.cursor;
  }

  stats(): SpoolStats {
    return {
      pendingPoints: this.pendingPoints,
      pendingBytes: this.pendingBytes(),
      droppedPoints: this.droppedPoints,
      tornLines: this.tornLines,
      segments: this.segments.length,
      oldestPendingTime: this.pendingPoints > 0 ? this.marks[0]?.time : undefined,
      syncs: this.syncs,
    };
  }

  /** Waits for appends in progress, syncs them, persists the cursor and closes the files; idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    const wasOpen = this.state === 'open';
    this.state = 'closing';
    try {
      if (this.flushing) await this.flushing;
    } catch (error) {
      this.logger.error(`spool: last append failed while closing: ${(error as Error).message}`);
    }
    await this.syncAppendSegment();
    try {
      if (this.cursorTimer) this.clock.clearTimeout(this.cursorTimer);
      this.cursorTimer = undefined;
      if (wasOpen) {
        if (this.cursorSave) await this.cursorSave;
        this.saveCursorNow();
        await this.cursorSave;
      }
    } catch (error) {
      this.logger.error(`spool: cannot save the cursor while closing: ${(error as Error).message}`);
    }
    await Promise.allSettled([...this.background]);
    try {
      await this.reader?.handle.close();
    } catch (error) {
      this.logger.error(`spool: cannot close a segment after reading: ${(error as Error).message}`);
    }
    this.reader = undefined;
    try {
      await this.appendHandle?.close();
    } catch (error) {
      this.logger.error(`spool: cannot close ${this.segments.at(-1)?.file}: ${(error as Error).message}`);
    }
    this.appendHandle = undefined;
    this.state = 'closed';
  }

  private pendingBytes(): number {
    return this.totalBytes - this.cursor.offset;
  }

  private segmentFile(seq: number): string {
    return path.join(this.dir, `${String(seq).padStart(16, '0')}.lp`);
  }

  private readableFrom(from: SpoolPosition): { segment: Segment; position: SpoolPosition } | undefined {
    let position = comparePositions(from, this.cursor) < 0 ? this.cursor : from;
    let index = this.segments.findIndex((s) => s.seq >= position.segment);
    if (index < 0) return undefined;
    if (this.segments[index].seq !== position.segment)
      position = { segment: this.segments[index].seq, offset: 0 };
    while (position.offset >= this.segments[index].bytes) {
      if (index === this.segments.length - 1) return undefined;
      index++;
      position = { segment: this.segments[index].seq, offset: 0 };
    }
    return { segment: this.segments[index], position };
  }

  private async flushGroups(): Promise<void> {
    // Let the appends of the current turn of the event loop (every message of the socket reads it
    // handles), or of the rest of the interval, join the first group.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.group) {
      const wait = this.lastGroupAt + (this.options.syncIntervalMs ?? 0) - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.lastGroupAt = performance.now();
      const group = this.group;
      this.group = undefined;
      try {
        await this.writeGroup(
          group.texts.length === 1 ? group.texts[0] : group.texts.join('\n'),
          group.points,
        );
        group.resolve();
      } catch (error) {
        group.reject(error as Error);
      }
    }
    this.flushing = undefined;
  }

  private async writeGroup(text: string, points: number): Promise<void> {
    const size = Buffer.byteLength(text) + 1;
    // Appends are one at a time, so the buffer of the previous one is free again.
    if (this.writeBuffer.length < size)
      this.writeBuffer = Buffer.allocUnsafe(Math.max(size, this.writeBuffer.length * 2));
    this.writeBuffer.write(text, 0);
    this.writeBuffer[size - 1] = NEWLINE;
    const data = this.writeBuffer.subarray(0, size);
    await this.makeRoom(data.length);
    let segment = this.segments.at(-1) as Segment;
    if (
      !this.appendHandle ||
      (segment.bytes > 0 && segment.bytes + data.length > this.options.segmentBytes)
    ) {
      segment = await this.startSegment(segment.seq + 1);
      const cursor = this.cursor;
      this.releaseConsumed();
      if (this.cursor !== cursor) this.saveCursorSoon();
    }
    const handle = this.appendHandle as fsp.FileHandle;
    try {
      // A write into the page cache, synchronous: a few kilobytes take microseconds, while a round trip
      // through the thread pool costs ten times that in CPU (a worker woken, the loop woken back). The
      // disk's latency is the fdatasync's, which stays in the thread pool.
      let written = 0;
      while (written < data.length) written += writeSync(handle.fd, data, written, data.length - written);
    } catch (error) {
      // Cut a partial append so that the next one starts on a line boundary.
      await handle.truncate(segment.bytes).catch((truncateError: Error) => {
        this.logger.error(
          `spool: cannot cut ${segment.file} back to ${segment.bytes} bytes: ${truncateError.message}`,
        );
      });
      throw new Error(`spool: cannot append to ${segment.file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.tail.push({ text, points, segment: segment.seq, start: segment.bytes, end: segment.bytes + size });
    this.tailBytes += size;
    let forget = 0;
    let excess = this.tailBytes - this.options.tailMaxBytes;
    while (excess > 0 && forget < this.tail.length) {
      excess -= this.tail[forget].end - this.tail[forget].start;
      forget++;
    }
    this.forgetTail(forget);
    // A buffer grown for a large group (after an outage) is not kept for the small ones that follow.
    if (this.writeBuffer.length > KEPT_BUFFER_BYTES) this.writeBuffer = Buffer.alloc(0);
    segment.bytes += data.length;
    segment.points += points;
    this.totalBytes += data.length;
    this.pendingPoints += points;
    this.addMark(segment.seq, segment.bytes, this.clock.now());
    this.emit('appended');
    this.unsynced = true;
    this.syncing ??= this.syncPaced();
  }

  /** fdatasyncs the append segment while writes leave it unsynced, at most once per `fsyncIntervalMs`. */
  private async syncPaced(): Promise<void> {
    while (this.unsynced && this.appendHandle) {
      const interval = this.options.fsyncIntervalMs ?? this.options.syncIntervalMs ?? 0;
      const wait = this.lastSyncAt + interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await this.syncNow();
    }
    this.syncing = undefined;
  }

  /**
   * fdatasync: the data and the file size, which is all a reader needs after a crash. A failure is
   * logged: the appends it covered were acknowledged already, and a power cut may lose them.
   */
  private async syncNow(): Promise<void> {
    const handle = this.appendHandle;
    if (!handle || !this.unsynced) return;
    this.unsynced = false;
    this.lastSyncAt = performance.now();
    const file = this.segments.at(-1)?.file;
    try {
      await handle.datasync();
      this.syncs++;
    } catch (error) {
      this.logger.error(
        `spool: cannot sync ${file}: ${(error as Error).message}; its last appends may be lost at a power cut`,
      );
    }
  }

  /** Waits for the sync in progress, then syncs what was written since: before the segment is closed. */
  private async syncAppendSegment(): Promise<void> {
    await this.syncing;
    await this.syncNow();
  }

  /** Deletes the oldest segments until `incoming` bytes fit in the bound. */
  private async makeRoom(incoming: number): Promise<void> {
    while (this.totalBytes + incoming > this.options.maxBytes && this.totalBytes > 0) {
      const oldest = this.segments[0];
      if (oldest === this.segments.at(-1)) await this.startSegment(oldest.seq + 1);
      this.segments.shift();
      const points = oldest.points - this.cursorPoints;
      const bytes = oldest.bytes - this.cursor.offset;
      this.totalBytes -= oldest.bytes;
      this.pendingPoints -= points;
      this.droppedPoints += points;
      this.cursor = { segment: this.segments[0].seq, offset: 0 };
      this.cursorPoints = 0;
      this.forgetMarksUpTo({ segment: oldest.seq, offset: Number.MAX_SAFE_INTEGER });
      this.track(fsp.rm(oldest.file, { force: true }), `delete ${oldest.file}`);
      this.saveCursorSoon();
      if (points > 0) {
        this.logger.warn(
          `spool: full (${this.options.maxBytes} bytes): dropped ${points} points of ${oldest.file}`,
        );
        this.emit('dropped', { points, bytes, segment: oldest.seq });
      }
    }
  }

  private async startSegment(seq: number): Promise<Segment> {
    await this.syncAppendSegment();
    const previous = this.appendHandle;
    this.appendHandle = undefined;
    await previous?.close();
    const file = this.segmentFile(seq);
    // A file of this name can only be left by an earlier attempt that failed before counting it: empty it.
    const handle = await fsp.open(
      file,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND,
    );
    try {
      await syncDirectory(this.dir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    this.appendHandle = handle;
    const segment = { seq, file, bytes: 0, points: 0 };
    this.segments.push(segment);
    return segment;
  }

  /** Counts the lines of a segment, cuts a torn last line, and places the cursor on a line boundary. */
  private async recoverSegment(seq: number): Promise<Segment> {
    const file = this.segmentFile(seq);
    const isCursorSegment = seq === this.cursor.segment;
    const cursorOffset = isCursorSegment ? this.cursor.offset : 0;
    const handle = await fsp.open(file, 'r+');
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.allocUnsafe(SCAN_CHUNK);
      let points = 0;
      let lastNewline = -1;
      let pointsBeforeCursor = 0;
      let boundaryBeforeCursor = 0;
      for (let offset = 0; offset < size;) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(SCAN_CHUNK, size - offset), offset);
        if (bytesRead === 0) break;
        for (let i = buffer.indexOf(NEWLINE); i >= 0 && i < bytesRead; i = buffer.indexOf(NEWLINE, i + 1)) {
          points++;
          lastNewline = offset + i;
          if (lastNewline < cursorOffset) {
            pointsBeforeCursor = points;
            boundaryBeforeCursor = lastNewline + 1;
          }
        }
        offset += bytesRead;
      }
      const bytes = lastNewline + 1;
      if (bytes < size) {
        this.tornLines++;
        this.logger.warn(`spool: ${file} ends with a torn line (${size - bytes} bytes): cut off`);
        await handle.truncate(bytes);
        await handle.sync();
      }
      if (isCursorSegment) {
        this.cursor = { segment: seq, offset: boundaryBeforeCursor };
        this.cursorPoints = pointsBeforeCursor;
      }
      const pendingFrom = isCursorSegment ? boundaryBeforeCursor : 0;
      if (bytes > pendingFrom) {
        // The age of recovered points is known only from their own timestamps.
        const head = Buffer.allocUnsafe(Math.min(4096, bytes - pendingFrom));
        const { bytesRead } = await handle.read(head, 0, head.length, pendingFrom);
        const end = head.indexOf(NEWLINE);
        const firstLine = head.toString('utf8', 0, end >= 0 && end < bytesRead ? end : bytesRead);
        this.marks.push({ segment: seq, offset: bytes, time: lineTimestamp(firstLine) ?? this.clock.now() });
      }
      return { seq, file, bytes, points };
    } finally {
      await handle.close();
    }
  }

  private addMark(segment: number, offset: number, time: number): void {
    const last = this.marks.at(-1);
    if (last && time - last.time < MARK_GRANULARITY_MS) {
      this.marks[this.marks.length - 1] = { segment, offset, time: last.time };
    } else {
      this.marks.push({ segment, offset, time });
    }
  }

  private forgetMarksUpTo(position: SpoolPosition): void {
    let n = 0;
    while (n < this.marks.length && comparePositions(this.marks[n], position) <= 0) n++;
    if (n > 0) this.marks.splice(0, n);
  }

  private async readCursor(): Promise<SpoolPosition> {
    const file = path.join(this.dir, CURSOR_FILE);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { segment: 0, offset: 0 };
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as Partial<SpoolPosition>;
      if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) {
        return {
          segment: Math.max(0, parsed.segment as number),
          offset: Math.max(0, parsed.offset as number),
        };
      }
    } catch {
      // reported below
    }
    // Replaying from the first segment only rewrites points InfluxDB already has (same series and time).
    this.logger.error(
      `spool: ${file} is unreadable (${JSON.stringify(text.slice(0, 80))}): replaying from the start`,
    );
    return { segment: 0, offset: 0 };
  }

  /**
   * Persists the cursor in the background, at most once per `cursorSaveIntervalMs`; requests made
   * meanwhile are merged into the next save.
   */
  private saveCursorSoon(): void {
    if (this.state !== 'open' && this.state !== 'opening') return;
    if (this.cursorSave || this.cursorTimer) {
      this.cursorDirty = true;
      return;
    }
    const wait = this.lastCursorSave + this.options.cursorSaveIntervalMs - this.clock.now();
    if (wait > 0) {
      this.cursorTimer = this.clock.setTimeout(() => {
        this.cursorTimer = undefined;
        this.saveCursorNow();
      }, wait);
      return;
    }
    this.saveCursorNow();
  }

  private saveCursorNow(): void {
    this.lastCursorSave = this.clock.now();
    this.cursorDirty = false;
    this.cursorSave = this.writeCursor(this.cursor)
      .catch((error: Error) => this.logger.error(`spool: cannot save the cursor: ${error.message}`))
      .finally(() => {
        this.cursorSave = undefined;
        if (this.cursorDirty) {
          this.cursorDirty = false;
          this.saveCursorSoon();
        }
      });
  }

  /** Temp file, fsync, rename, fsync of the directory: the cursor on disk is always a whole old or new one. */
  private writeCursor(position: SpoolPosition): Promise<void> {
    return writeFileAtomically(
      path.join(this.dir, CURSOR_FILE),
      JSON.stringify({ segment: position.segment, offset: position.offset }),
    );
  }

  private track(task: Promise<void>, what: string): void {
    const tracked = task
      .catch((error: Error) => this.logger.error(`spool: cannot ${what}: ${error.message}`))
      .finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }
}
