import type { ModbusAddress, PointRef, PointWrite } from '../../../drivers/driver';
import { planReads, planWrites, splitRequest, type ReadRequest } from '../../../drivers/modbus/plan';

function addr(
  table: ModbusAddress['table'],
  address: number,
  type: ModbusAddress['type'] = 'uint16',
): ModbusAddress {
  return {
    protocol: 'modbus',
    table,
    address,
    type,
    wordOrder: 'big',
    byteOrder: 'big',
    scale: 1,
    offset: 0,
  };
}

function point(key: string, address: ModbusAddress): PointRef {
  return { key, address };
}

function ranges(requests: readonly ReadRequest[]): string[] {
  return requests.map((r) => `${r.table} fc${r.fc} ${r.start}+${r.count}`);
}

describe('planReads', () => {
  it('merges neighbours per table within the gap, sorted by address, keeping each point at its offset', () => {
    const points = [
      point('h20', addr('holding', 20, 'float32')),
      point('h0', addr('holding', 0)),
      point('h5', addr('holding', 5)),
      point('i0', addr('input', 0)),
      point('h40', addr('holding', 40)),
      point('c3', addr('coil', 3, 'bool')),
      point('c9', addr('coil', 9, 'bool')),
    ];
    const plan = planReads(points, 14);
    expect(ranges(plan.requests)).toEqual([
      'holding fc3 0+22',
      'holding fc3 40+1',
      'input fc4 0+1',
      'coil fc1 3+7',
    ]);
    expect(plan.requests[0].points.map((p) => [points[p.index].key, p.offset])).toEqual([
      ['h0', 0],
      ['h5', 5],
      ['h20', 20],
    ]);
    expect(plan.invalid).toEqual([]);
  });

  it('merges nothing across a gap larger than max_read_gap, and overlapping points share a request', () => {
    const plan = planReads(
      [
        point('a', addr('holding', 0)),
        point('b', addr('holding', 10)),
        point('b2', addr('holding', 10, 'int16')),
      ],
      8,
    );
    expect(ranges(plan.requests)).toEqual(['holding fc3 0+1', 'holding fc3 10+1']);
    expect(plan.requests[1].points).toHaveLength(2);
  });

  it('keeps requests within 125 registers and 2000 bits', () => {
    const registers = Array.from({ length: 300 }, (_, i) => point(`r${i}`, addr('input', i)));
    const bits = Array.from({ length: 4500 }, (_, i) => point(`d${i}`, addr('discrete', i, 'bool')));
    const plan = planReads([...registers, ...bits], 8);
    expect(ranges(plan.requests)).toEqual([
      'input fc4 0+125',
      'input fc4 125+125',
      'input fc4 250+50',
      'discrete fc2 0+2000',
      'discrete fc2 2000+2000',
      'discrete fc2 4000+500',
    ]);
  });

  it('never splits a multi-register value across requests', () => {
    const points = Array.from({ length: 70 }, (_, i) => point(`f${i}`, addr('holding', i * 2, 'float32')));
    const plan = planReads(points, 0);
    expect(ranges(plan.requests)).toEqual(['holding fc3 0+124', 'holding fc3 124+16']);
  });

  it('reports points it cannot read, with their label, instead of planning them', () => {
    const plan = planReads(
      [
        { key: 't', label: 'school / temperature', address: { protocol: 'opcua', nodeId: 'ns=1;s=T' } },
        point('end', addr('holding', 65535, 'uint32')),
        point('ok', addr('holding', 1)),
      ],
      8,
    );
    expect(plan.invalid.map((i) => [i.index, i.error.code, i.error.message])).toEqual([
      [0, 'bad-type', "point 't' (school / temperature): not a Modbus address (protocol 'opcua')"],
      [1, 'bad-type', "point 'end': holding address 65535 (uint32) is outside 0..65535"],
    ]);
    expect(ranges(plan.requests)).toEqual(['holding fc3 1+1']);
  });
});

describe('splitRequest', () => {
  it('splits a refused range first into contiguous runs, then into single addresses', () => {
    const plan = planReads(
      [
        point('a', addr('holding', 0)),
        point('b', addr('holding', 1, 'float32')),
        point('c', addr('holding', 6)),
        point('c2', addr('holding', 6, 'int16')),
      ],
      8,
    );
    expect(ranges(plan.requests)).toEqual(['holding fc3 0+7']);
    const runs = splitRequest(plan.requests[0]) ?? [];
    expect(ranges(runs)).toEqual(['holding fc3 0+3', 'holding fc3 6+1']);
    const singles = splitRequest(runs[0]) ?? [];
    expect(ranges(singles)).toEqual(['holding fc3 0+1', 'holding fc3 1+2']);
    expect(singles[1].points.map((p) => p.offset)).toEqual([0]);
    expect(splitRequest(singles[0])).toBeUndefined();
    expect(splitRequest(runs[1])).toBeUndefined();
  });
});

describe('planWrites', () => {
  const level = (i: number, value: number, start = 100): PointWrite => ({
    key: `lum-${i}`,
    address: addr('holding', start + i),
    value,
  });

  it('groups contiguous registers into one FC16, in address order whatever the input order', () => {
    const writes = [level(2, 30), level(0, 10), level(1, 20), level(5, 50)];
    const plan = planWrites(writes, true);
    expect(plan.rejected).toEqual([]);
    expect(plan.requests.map((r) => [r.fc, r.start, r.payload, r.writes])).toEqual([
      [16, 100, [10, 20, 30], [1, 2, 0]],
      [16, 105, [50], [3]],
    ]);
  });

  it('writes 100 luminaire levels as one request and splits at 123 registers', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => level(i, i));
    expect(planWrites(hundred, true).requests).toHaveLength(1);
    const many = Array.from({ length: 250 }, (_, i) => level(i, i % 101, 0));
    expect(planWrites(many, true).requests.map((r) => [r.start, r.payload.length])).toEqual([
      [0, 123],
      [123, 123],
      [246, 4],
    ]);
  });

  it('keeps a multi-register value whole and in its word order inside the group', () => {
    const writes: PointWrite[] = [
      { key: 'a', address: addr('holding', 0), value: 1 },
      { key: 'f', address: { ...addr('holding', 1, 'float32'), wordOrder: 'little' }, value: 1.5 },
    ];
    expect(planWrites(writes, true).requests.map((r) => r.payload)).toEqual([[1, 0x0000, 0x3fc0]]);
  });

  it('sends one FC6 per register and one FC5 per coil to devices without write-multiple', () => {
    const writes: PointWrite[] = [
      level(0, 7),
      { key: 'u32', address: addr('holding', 10, 'uint32'), value: 0x00010002 },
      { key: 'relay', address: addr('coil', 4, 'bool'), value: true },
    ];
    expect(planWrites(writes, false).requests.map((r) => [r.fc, r.start, r.payload, r.writes])).toEqual([
      [6, 10, [1], [1]],
      [6, 11, [2], [1]],
      [6, 100, [7], [0]],
      [5, 4, [true], [2]],
    ]);
  });

  it('groups contiguous coils into FC15', () => {
    const writes: PointWrite[] = [0, 1, 2, 7].map((a) => ({
      key: `c${a}`,
      address: addr('coil', a, 'bool'),
      value: a % 2 === 0,
    }));
    expect(planWrites(writes, true).requests.map((r) => [r.fc, r.start, r.payload])).toEqual([
      [15, 0, [true, false, true]],
      [15, 7, [false]],
    ]);
  });

  it('rejects values that do not fit, and read-only tables, without sending them', () => {
    const writes: PointWrite[] = [
      level(0, 10),
      { key: 'big', address: addr('holding', 101), value: 70000 },
      { key: 'half', address: addr('holding', 102, 'int16'), value: 1.5 },
      { key: 'in', address: addr('input', 3), value: 1 },
      level(3, 40),
    ];
    const plan = planWrites(writes, true);
    expect(plan.rejected.map((r) => [r.index, r.error.code, r.error.message])).toEqual([
      [1, 'bad-type', "point 'big': 70000 does not fit uint16: allowed 0..65535"],
      [2, 'bad-type', "point 'half': 1.5 does not fit int16: allowed -32768..32767"],
      [
        3,
        'bad-type',
        "point 'in': the input table is read-only (only holding registers and coils can be written)",
      ],
    ]);
    // The gap left by the rejected values splits the group: nothing is written in their place.
    expect(plan.requests.map((r) => [r.start, r.payload])).toEqual([
      [100, [10]],
      [103, [40]],
    ]);
  });

  it('puts a second write to the same register in a later request', () => {
    const plan = planWrites([level(0, 1), level(0, 2)], true);
    expect(plan.requests.map((r) => r.payload)).toEqual([[1], [2]]);
  });
});
