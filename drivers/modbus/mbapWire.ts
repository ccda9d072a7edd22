import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LinkJob, ModbusWire, WireAnswer } from './wire';

/** MBAP header: transaction id, protocol id (0), length of what follows, unit id. */
const HEADER = 7;
/** Largest Modbus TCP frame: the header and a 253-byte PDU. */
const MAX_FRAME = HEADER + 253;
const NO_REPLY = undefined;

/** A request on the wire, reused from one request to the next. */
class Slot {
  tid = 0;
  job: LinkJob | undefined = undefined;
  deadline = 0;
}

/** Errors in the shapes toDriverError and the link read (those of modbus-serial). */
class WireError extends Error {
  constructor(
    message: string,
    readonly errno?: string,
    readonly modbusCode?: number,
  ) {
    super(message);
  }
}

const timedOut = (): WireError => new WireError('Timed out', 'ETIMEDOUT');
const unusable = (why: string): WireError => new WireError(`Unexpected data error, ${why}`);

/**
 * Modbus TCP framing of our own over the link's socket, so that a request costs its frame and little
 * else: no closure, promise or transaction record per request (modbus-serial's TcpPort keeps the last
 * transactions of each connection, with the callbacks that hold our jobs and their batches). Request
 * frames come from Node's shared buffer pool, answers are read where the link received them; requests
 * in flight sit in reused slots, matched by transaction id; one timer per connection, armed for the
 * earliest deadline, expires them. An answer's registers are handed over where they were received
 * (buffer and offset), valid during the `complete` call. Answers for an unknown transaction (late,
 * after a timeout) are ignored; a frame that cannot be Modbus TCP (protocol id, length) means the byte
 * stream is lost: the socket is destroyed and the link reconnects.
 */
export class MbapWire implements ModbusWire {
  private readonly slots: Slot[] = [];
  private lastTid = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** A frame split across TCP segments, gathered until complete. */
  private readonly partial = Buffer.allocUnsafe(MAX_FRAME);
  private partialLength = 0;
  /** The reply handed over for FC3/FC4: where the registers are, in the buffer they arrived in. */
  private readonly registers: { buffer: Buffer; offset: number } = { buffer: this.partial, offset: 0 };

  private cancelled = false;

  /** The socket's bytes come through `received` (the link reads them into a reused buffer). */
  constructor(
    private readonly socket: Socket,
    private readonly answer: WireAnswer,
  ) {}

  send(job: LinkJob): void {
    if (!this.socket.writable) {
      this.answer(job, Object.assign(new WireError('Port Not Open'), { name: 'PortNotOpenError' }), NO_REPLY);
      return;
    }
    this.lastTid = (this.lastTid + 1) & 0xffff;
    let frame: Buffer;
    try {
      frame = encodeRequest(job, this.lastTid);
    } catch (error) {
      this.answer(job, error, NO_REPLY);
      return;
    }
    const slot = this.freeSlot();
    slot.tid = this.lastTid;
    slot.job = job;
    slot.deadline = performance.now() + job.timeoutMs;
    this.armTimer(slot.deadline);
    this.socket.write(frame);
  }

  cancel(): void {
    this.cancelled = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const slot of this.slots) slot.job = undefined;
  }

  private freeSlot(): Slot {
    for (const slot of this.slots) if (!slot.job) return slot;
    const slot = new Slot();
    this.slots.push(slot);
    return slot;
  }

  private armTimer(deadline: number): void {
    if (this.timer && this.timerAt <= deadline) return;
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.expire, Math.max(0, deadline - performance.now()));
  }

  /** Fails the requests past their deadline; the timer then waits for the next deadline, if any. */
  private readonly expire = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const slot of this.slots) {
      const job = slot.job;
      if (!job) continue;
      if (slot.deadline <= now) {
        slot.job = undefined;
        this.answer(job, timedOut(), NO_REPLY);
      } else next = Math.min(next, slot.deadline);
    }
    if (next < Number.POSITIVE_INFINITY) this.armTimer(next);
  };

  /**
   * The first `length` bytes of `chunk` arrived (a buffer the socket reuses for its next read). Whole
   * frames are read where they arrived; only a frame split across reads is copied.
   */
  received(chunk: Buffer, length: number): void {
    if (this.cancelled) return;
    let at = 0;
    while (at < length) {
      if (this.partialLength === 0 && length - at >= 6) {
        const size = frameSize(chunk, at);
        if (size === 0) return this.lost(chunk, at);
        if (length - at >= size) {
          this.frame(chunk, at, size);
          at += size;
          continue;
        }
      }
      const copied = this.gather(chunk, at, length);
      if (copied < 0) return;
      at += copied;
    }
  }

  /** Copies the next part of a split frame; handles it once complete. Returns the bytes taken, -1 when lost. */
  private gather(chunk: Buffer, at: number, length: number): number {
    const have = this.partialLength;
    const size = have >= 6 ? frameSize(this.partial, 0) : 6;
    const taken = Math.min(size - have, length - at);
    chunk.copy(this.partial, have, at, at + taken);
    this.partialLength += taken;
    if (this.partialLength < 6) return taken;
    const whole = frameSize(this.partial, 0);
    if (whole === 0) {
      this.lost(this.partial, 0);
      return -1;
    }
    if (this.partialLength === whole) {
      this.partialLength = 0;
      this.frame(this.partial, 0, whole);
    }
    return taken;
  }

  private lost(data: Buffer, at: number): void {
    this.partialLength = 0;
    this.socket.destroy(
      new Error(`not Modbus TCP: header ${data.subarray(at, at + 6).toString('hex')}; framing lost`),
    );
  }

  /** One whole answer: matched with its request, checked, and handed over. */
  private frame(data: Buffer, at: number, size: number): void {
    const tid = data.readUInt16BE(at);
    let slot: Slot | undefined;
    for (const s of this.slots)
      if (s.job && s.tid === tid) {
        slot = s;
        break;
      }
    if (!slot) return;
    const job = slot.job!;
    slot.job = undefined;
    const unit = data[at + 6];
    const fc = data[at + 7];
    const pdu = at + HEADER;
    if (unit !== job.unitId) this.answer(job, unusable(`unit ${unit} answered for ${job.unitId}`), NO_REPLY);
    else if (fc === (job.fc | 0x80) && size === HEADER + 2) {
      const code = data[pdu + 1];
      this.answer(job, new WireError(`Modbus exception ${code}`, undefined, code), NO_REPLY);
    } else if (fc !== job.fc) this.answer(job, unusable(`function ${fc} answered for ${job.fc}`), NO_REPLY);
    else if (fc <= 4) {
      const bytes = fc <= 2 ? Math.ceil(job.count / 8) : job.count * 2;
      if (data[pdu + 1] !== bytes || size !== HEADER + 2 + bytes)
        this.answer(job, unusable(`${data[pdu + 1]} bytes of data for ${bytes}`), NO_REPLY);
      else if (fc <= 2) this.answer(job, null, { data: unpackBits(data, pdu + 2, job.count) });
      else {
        this.registers.buffer = data;
        this.registers.offset = pdu + 2;
        this.answer(job, null, this.registers);
      }
    } else if (size !== HEADER + 5 || data.readUInt16BE(pdu + 1) !== job.address)
      this.answer(job, unusable(`write of ${job.address} echoed wrongly`), NO_REPLY);
    else this.answer(job, null, NO_REPLY);
  }
}

/** The whole frame's size from its header, or 0 when the header cannot be Modbus TCP. */
function frameSize(data: Buffer, at: number): number {
  const length = data.readUInt16BE(at + 4);
  if (data.readUInt16BE(at + 2) !== 0 || length < 3 || length > MAX_FRAME - 6) return 0;
  return 6 + length;
}

function encodeRequest(job: LinkJob, tid: number): Buffer {
  let frame: Buffer;
  if (job.fc <= 4 || job.fc === 5 || job.fc === 6) {
    frame = Buffer.allocUnsafe(HEADER + 5);
    frame.writeUInt16BE(job.address, HEADER + 1);
    const word =
      job.fc === 5
        ? (job.payload as boolean[])[0]
          ? 0xff00
          : 0
        : job.fc === 6
          ? (job.payload as number[])[0]
          : job.count;
    frame.writeUInt16BE(word, HEADER + 3);
  } else if (job.fc === 16) {
    const values = job.payload as number[];
    frame = Buffer.allocUnsafe(HEADER + 6 + values.length * 2);
    frame.writeUInt16BE(job.address, HEADER + 1);
    frame.writeUInt16BE(values.length, HEADER + 3);
    frame[HEADER + 5] = values.length * 2;
    for (let k = 0; k < values.length; k++) frame.writeUInt16BE(values[k], HEADER + 6 + 2 * k);
  } else {
    const bits = job.payload as boolean[];
    const bytes = Math.ceil(bits.length / 8);
    frame = Buffer.allocUnsafe(HEADER + 6 + bytes);
    frame.writeUInt16BE(job.address, HEADER + 1);
    frame.writeUInt16BE(bits.length, HEADER + 3);
    frame[HEADER + 5] = bytes;
    frame.fill(0, HEADER + 6);
    for (let k = 0; k < bits.length; k++) if (bits[k]) frame[HEADER + 6 + (k >> 3)] |= 1 << (k & 7);
  }
  frame.writeUInt16BE(tid, 0);
  frame.writeUInt16BE(0, 2);
  frame.writeUInt16BE(frame.length - 6, 4);
  frame[6] = job.unitId;
  frame[7] = job.fc;
  return frame;
}

function unpackBits(data: Buffer, at: number, count: number): boolean[] {
  const bits = new Array<boolean>(count);
  for (let k = 0; k < count; k++) bits[k] = (data[at + (k >> 3)] & (1 << (k & 7))) !== 0;
  return bits;
}
