import { DriverError, type ModbusAddress, type PointRef, type PointWrite } from '../driver';
import { encodeBit, encodeRegisters, fastDecodeOf, isBitTable, widthOf, type FastDecode } from './codec';

/**
 * Read and write plans: which Modbus requests carry which points. Pure; computed once per point set for
 * reads (polling reuses the plan) and once per call for writes (values change every call), with working
 * arrays reused from one call to the next.
 */

export type Table = ModbusAddress['table'];
export type ReadFunction = 1 | 2 | 3 | 4;
export type WriteFunction = 5 | 6 | 15 | 16;

/** Protocol limits per request (Modbus application protocol v1.1b3, sections 6.1-6.12). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;
export const MAX_WRITE_REGISTERS = 123;
export const MAX_WRITE_BITS = 1968;

const READ_FUNCTION: Record<Table, ReadFunction> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const TABLE_ORDER: readonly Table[] = ['holding', 'input', 'coil', 'discrete'];

/** A point inside a read request: `offset` is in registers (or bits) from the request start. */
export interface PlannedPoint {
  readonly index: number;
  /** The caller's key, copied so that decoding a reply touches only the plan. */
  readonly key: string;
  readonly offset: number;
  readonly address: ModbusAddress;
  /** Decided once here so that every poll of a plain 16-bit register skips the general decoder. */
  readonly fast: FastDecode;
}

export class ReadRequest {
  /** Set once the device refused this merged range: the smaller requests that replace it from then on. */
  split?: ReadRequest[];

  constructor(
    readonly table: Table,
    readonly fc: ReadFunction,
    readonly start: number,
    readonly count: number,
    readonly points: readonly PlannedPoint[],
  ) {}
}

export interface InvalidPoint {
  readonly index: number;
  readonly error: DriverError;
}

export interface ReadPlan {
  /** The point set the plan was made for (a copy, to tell whether a cached plan still applies). */
  readonly points: readonly PointRef[];
  readonly requests: readonly ReadRequest[];
  readonly invalid: readonly InvalidPoint[];
}

interface Span {
  index: number;
  key: string;
  address: ModbusAddress;
  start: number;
  end: number;
}

export function pointName(point: { key: string; label?: string }): string {
  return point.label && point.label !== point.key
    ? `point '${point.key}' (${point.label})`
    : `point '${point.key}'`;
}

/** Checks a point's address; returns its span or why it cannot be used. */
function spanOf(point: PointRef | PointWrite, index: number): Span | DriverError {
  const address = point.address;
  if (address.protocol !== 'modbus')
    return new DriverError(
      'bad-type',
      `${pointName(point)}: not a Modbus address (protocol '${address.protocol}')`,
    );
  const start = address.address;
  const end = start + widthOf(address);
  if (!Number.isInteger(start) || start < 0 || end > 65536)
    return new DriverError(
      'bad-type',
      `${pointName(point)}: ${address.table} address ${start} (${address.type}) is outside 0..65535`,
    );
  return { index, key: point.key, address, start, end };
}

/**
 * Groups points per table, sorted by address, merging neighbours whose gap is at most `maxGap`
 * registers (bits, for coils and discrete inputs) into requests within the protocol limits.
 */
export function planReads(points: readonly PointRef[], maxGap: number): ReadPlan {
  const byTable: Record<Table, Span[]> = { holding: [], input: [], coil: [], discrete: [] };
  const invalid: InvalidPoint[] = [];
  for (let i = 0; i < points.length; i++) {
    const span = spanOf(points[i], i);
    if (span instanceof DriverError) invalid.push({ index: i, error: span });
    else byTable[span.address.table].push(span);
  }
  const requests: ReadRequest[] = [];
  for (const table of TABLE_ORDER) {
    const spans = byTable[table];
    if (spans.length === 0) continue;
    spans.sort((a, b) => a.start - b.start || a.end - b.end);
    mergeSpans(table, spans, maxGap, requests);
  }
  return { points: points.slice(), requests, invalid };
}

function mergeSpans(table: Table, spans: readonly Span[], maxGap: number, out: ReadRequest[]): void {
  const limit = isBitTable(table) ? MAX_READ_BITS : MAX_READ_REGISTERS;
  let first = 0;
  let start = spans[0].start;
  let end = spans[0].end;
  for (let i = 1; i <= spans.length; i++) {
    const next = spans[i];
    if (next && next.start - end <= maxGap && Math.max(end, next.end) - start <= limit) {
      end = Math.max(end, next.end);
      continue;
    }
    const members = spans.slice(first, i);
    out.push(
      new ReadRequest(
        table,
        READ_FUNCTION[table],
        start,
        end - start,
        members.map((s) => ({
          index: s.index,
          key: s.key,
          offset: s.start - start,
          address: s.address,
          fast: fastDecodeOf(s.address),
        })),
      ),
    );
    if (next) {
      first = i;
      start = next.start;
      end = next.end;
    }
  }
}

/**
 * Smaller requests to try when the device refuses a merged range (IllegalDataAddress): first the
 * contiguous runs without the gaps, then each address alone. Undefined when it cannot be split further.
 */
export function splitRequest(request: ReadRequest): ReadRequest[] | undefined {
  if (request.points.length < 2) return undefined;
  const spans: Span[] = request.points.map((p) => ({
    index: p.index,
    key: p.key,
    address: p.address,
    start: request.start + p.offset,
    end: request.start + p.offset + widthOf(p.address),
  }));
  const runs: ReadRequest[] = [];
  mergeSpans(request.table, spans, 0, runs);
  if (runs.length > 1) return runs;
  // One contiguous run: one request per distinct range (identical ranges, e.g. a register read as two types, stay together).
  const singles: ReadRequest[] = [];
  for (let i = 0; i < spans.length;) {
    let j = i + 1;
    while (j < spans.length && spans[j].start === spans[i].start && spans[j].end === spans[i].end) j++;
    mergeSpans(request.table, spans.slice(i, j), 0, singles);
    i = j;
  }
  return singles.length > 1 ? singles : undefined;
}

export class WriteRequest {
  constructor(
    readonly table: 'holding' | 'coil',
    readonly fc: WriteFunction,
    readonly start: number,
    /** Register values for FC6/FC16, bit values for FC5/FC15. */
    readonly payload: number[] | boolean[],
    /** Indexes of the writes this request carries. */
    readonly writes: readonly number[],
  ) {}
}

export interface WritePlan {
  readonly requests: WriteRequest[];
  readonly rejected: readonly InvalidPoint[];
}

const NONE_REJECTED: readonly InvalidPoint[] = Object.freeze([]);
/** `[0, 1, ..., n - 1]`, frozen and shared: the write indexes of a request carrying all n writes in order. */
const IN_ORDER: (readonly number[])[] = [];
const IN_ORDER_CACHED = 256;

function inOrder(n: number): readonly number[] {
  if (n > IN_ORDER_CACHED) return Array.from({ length: n }, (_, k) => k);
  return (IN_ORDER[n] ??= Object.freeze(Array.from({ length: n }, (_, k) => k)));
}

/**
 * planWrites's working arrays, kept from one call to the next (it runs to the end without yielding): per
 * accepted write in input order, its input index, sort key (table, address), width, and registers offset
 * or bit; and the encoded registers. They only grow, to the largest write seen.
 */
class WriteScratch {
  indexes = new Int32Array(64);
  keys = new Int32Array(64);
  widths = new Int32Array(64);
  values = new Int32Array(64);
  /** A plain array: codec.encodeRegisters fills it; never truncated, `used` says how much counts. */
  readonly registers: number[] = [];

  reserve(n: number): void {
    if (n <= this.indexes.length) return;
    const size = Math.max(n, this.indexes.length * 2);
    this.indexes = new Int32Array(size);
    this.keys = new Int32Array(size);
    this.widths = new Int32Array(size);
    this.values = new Int32Array(size);
  }
}

const scratch = new WriteScratch();

/**
 * Encodes every write (applying the inverse scale) and groups contiguous ones into write-multiple
 * requests (FC16/FC15), or one single write per register or coil (FC6/FC5) for devices without them.
 * Values that do not fit their type are rejected with a bad-type error and never sent.
 *
 * Runs on every command (values change): its working arrays are reused (WriteScratch), so a plan costs
 * its requests and their payloads, and little else.
 */
export function planWrites(writes: readonly PointWrite[], writeMultiple: boolean): WritePlan {
  let rejected: InvalidPoint[] | undefined;
  scratch.reserve(writes.length);
  const { indexes, keys, widths, values, registers } = scratch;
  let used = 0;
  let count = 0;
  let sorted = true;
  for (let i = 0; i < writes.length; i++) {
    const write = writes[i];
    const address = write.address;
    if (address.protocol !== 'modbus' || (address.table !== 'holding' && address.table !== 'coil')) {
      (rejected ??= []).push({ index: i, error: unwritable(write) });
      continue;
    }
    const coil = address.table === 'coil';
    const start = address.address;
    const width = widthOf(address);
    if (!Number.isInteger(start) || start < 0 || start + width > 65536) {
      (rejected ??= []).push({ index: i, error: spanOf(write, i) as DriverError });
      continue;
    }
    let value = 0;
    let problem: string | undefined;
    if (coil) {
      const bit = encodeBit(write.value);
      if (typeof bit === 'string') problem = bit;
      else value = bit ? 1 : 0;
    } else {
      value = used;
      problem = encodeRegisters(write.value, address, registers, used);
      if (problem === undefined) used += width;
    }
    if (problem !== undefined) {
      (rejected ??= []).push({
        index: i,
        error: new DriverError('bad-type', `${pointName(write)}: ${problem}`),
      });
      continue;
    }
    // Holding registers sort before coils.
    const key = coil ? 65536 + start : start;
    if (count > 0 && keys[count - 1] > key) sorted = false;
    indexes[count] = i;
    keys[count] = key;
    widths[count] = width;
    values[count] = value;
    count++;
  }
  // Writes usually come in address order; only otherwise is a sorted permutation needed.
  let order: number[] | undefined;
  if (!sorted) {
    order = Array.from({ length: count }, (_, k) => k);
    order.sort((a, b) => keys[a] - keys[b] || a - b);
  }
  // Every write accepted and in order: the requests' write indexes are runs of 0..n-1.
  const identity = order === undefined && count === writes.length;

  if (!writeMultiple) {
    const requests: WriteRequest[] = [];
    for (let g = 0; g < count; g++) {
      const k = order ? order[g] : g;
      const start = keys[k] % 65536;
      if (keys[k] >= 65536)
        requests.push(new WriteRequest('coil', 5, start, [values[k] === 1], [indexes[k]]));
      else
        for (let w = 0; w < widths[k]; w++)
          requests.push(new WriteRequest('holding', 6, start + w, [registers[values[k] + w]], [indexes[k]]));
    }
    return { requests, rejected: rejected ?? NONE_REJECTED };
  }
  // Group boundaries counted first, so that the requests array is made at its size (an array pushed to
  // starts with room for 17).
  let groups = 0;
  let headKey = -1;
  for (let g = 0; g < count; g++)
    if (g === 0 || !extendsGroup(order, g, headKey)) {
      groups++;
      headKey = keys[order ? order[g] : g];
    }
  const grouped = new Array<WriteRequest>(groups);
  let first = 0;
  let r = 0;
  headKey = keys[order ? order[0] : 0];
  for (let g = 1; g <= count; g++) {
    if (g < count && extendsGroup(order, g, headKey)) continue;
    grouped[r++] = groupRequest(order, first, g, identity && first === 0 && g === count);
    first = g;
    if (g < count) headKey = keys[order ? order[g] : g];
  }
  return { requests: grouped, rejected: rejected ?? NONE_REJECTED };
}

/**
 * Whether the write at sorted position g joins the group before it, which starts at `headKey`: the next
 * address of the same table, and the group still within the protocol's limit.
 */
function extendsGroup(order: readonly number[] | undefined, g: number, headKey: number): boolean {
  const { keys, widths } = scratch;
  const previous = order ? order[g - 1] : g - 1;
  const next = order ? order[g] : g;
  const coils = headKey >= 65536;
  return (
    keys[next] === keys[previous] + widths[previous] &&
    keys[next] >= 65536 === coils &&
    keys[next] + widths[next] - headKey <= (coils ? MAX_WRITE_BITS : MAX_WRITE_REGISTERS)
  );
}

/** One FC16 or FC15 for the contiguous writes at sorted positions from..to-1 (of the scratch arrays). */
function groupRequest(
  order: readonly number[] | undefined,
  from: number,
  to: number,
  all: boolean,
): WriteRequest {
  const { keys, widths, values, indexes, registers } = scratch;
  const at = (g: number): number => (order ? order[g] : g);
  let writeIndexes: readonly number[];
  if (all) writeIndexes = inOrder(to);
  else {
    const list = new Array<number>(to - from);
    for (let g = from; g < to; g++) list[g - from] = indexes[at(g)];
    writeIndexes = list;
  }
  const head = at(from);
  if (keys[head] >= 65536) {
    const bits = new Array<boolean>(to - from);
    for (let g = from; g < to; g++) bits[g - from] = values[at(g)] === 1;
    return new WriteRequest('coil', 15, keys[head] - 65536, bits, writeIndexes);
  }
  const tail = at(to - 1);
  const payload = new Array<number>(keys[tail] + widths[tail] - keys[head]);
  let p = 0;
  for (let g = from; g < to; g++) {
    const k = at(g);
    const offset = values[k];
    for (let w = 0; w < widths[k]; w++) payload[p++] = registers[offset + w];
  }
  return new WriteRequest('holding', 16, keys[head], payload, writeIndexes);
}

function unwritable(write: PointWrite): DriverError {
  const address = write.address;
  if (address.protocol !== 'modbus')
    return new DriverError(
      'bad-type',
      `${pointName(write)}: not a Modbus address (protocol '${address.protocol}')`,
    );
  return new DriverError(
    'bad-type',
    `${pointName(write)}: the ${address.table} table is read-only (only holding registers and coils can be written)`,
  );
}
