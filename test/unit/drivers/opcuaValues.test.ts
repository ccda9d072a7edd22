import {
  DataChangeFilter,
  DataType,
  DataValue,
  DeadbandType,
  MessageSecurityMode,
  SecurityPolicy,
  StatusCodes,
  Variant,
  VariantArrayType,
  coerceNodeId,
  make_warningLog,
} from 'node-opcua';
import { OpcuaDevice } from '../../../config/schema/devices';
import { silentLogger, type Logger } from '../../../core/logger';
import { DriverError } from '../../../drivers/driver';
import { routeOpcuaLibraryLogs } from '../../../drivers/opcua/libraryLog';
import { leafCertificate, sha1 } from '../../../drivers/opcua/pki';
import {
  builtInTypeOf,
  chunks,
  groupByMonitoring,
  limitOf,
  monitorError,
  monitoringParameters,
  resolveTargets,
  securityOf,
} from '../../../drivers/opcua/targets';
import {
  classifyError,
  decodeValue,
  encodeValue,
  errorCodeOf,
  qualityOf,
  sampleOf,
} from '../../../drivers/opcua/values';

/**
 * On Node 20 and 21, importing node-opcua starts an RSA key generation (its CVE-2023-46809 self-test)
 * that ends with warning W27; this file is done before it, so it waits for it to leave no handle open.
 */
const selfTestLogger: Logger = {
  ...silentLogger,
  warn: (msg) => {
    if (msg.includes('W27')) selfTestDone();
  },
};
let selfTestDone: () => void = () => undefined;
const selfTest = new Promise<void>((resolve) => {
  selfTestDone = resolve;
});
routeOpcuaLibraryLogs(selfTestLogger);
afterAll(async () => {
  if (Number(process.versions.node.split('.')[0]) >= 22) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([selfTest, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
});

const LABEL = "buildings[2].points[3] 'ecole/temperature'";
const NODE = 'ns=1;s=Room1.Level';

function refusal(value: number | boolean, dataType: DataType): DriverError {
  try {
    encodeValue(value, dataType, LABEL, NODE);
  } catch (error) {
    return error as DriverError;
  }
  throw new Error(`${String(value)} was accepted as ${DataType[dataType]}`);
}

describe('encodeValue', () => {
  it.each([
    [DataType.Byte, 0, 255],
    [DataType.SByte, -128, 127],
    [DataType.Int16, -32_768, 32_767],
    [DataType.UInt16, 0, 65_535],
    [DataType.Int32, -2_147_483_648, 2_147_483_647],
    [DataType.UInt32, 0, 4_294_967_295],
  ])('accepts the whole range of %s and nothing beyond', (dataType, min, max) => {
    expect(encodeValue(min, dataType, LABEL, NODE)).toMatchObject({ dataType, value: min });
    expect(encodeValue(max, dataType, LABEL, NODE)).toMatchObject({ dataType, value: max });
    for (const outside of [min - 1, max + 1, min + 0.5]) {
      expect(refusal(outside, dataType)).toMatchObject({
        code: 'bad-type',
        message: `${LABEL}: cannot write ${outside} to node ${NODE} of type ${DataType[dataType]}; it takes integers ${min}..${max}`,
      });
    }
  });

  it('writes 64-bit integers as node-opcua expects them', () => {
    expect(encodeValue(-5, DataType.Int64, LABEL, NODE).value).toEqual([0xffffffff, 0xfffffffb]);
    expect(refusal(2 ** 60, DataType.UInt64).code).toBe('bad-type');
  });

  it('accepts any finite number for Double and Float within its range', () => {
    expect(encodeValue(21.5, DataType.Double, LABEL, NODE)).toMatchObject({
      dataType: DataType.Double,
      value: 21.5,
    });
    expect(encodeValue(-1e30, DataType.Float, LABEL, NODE).value).toBe(-1e30);
    expect(refusal(1e39, DataType.Float).message).toContain('finite numbers within ±');
    expect(refusal(Number.NaN, DataType.Double).code).toBe('bad-type');
    expect(refusal(Number.POSITIVE_INFINITY, DataType.Double).code).toBe('bad-type');
  });

  it('takes booleans, and 0/1, for Boolean nodes; no booleans for numeric nodes', () => {
    expect(encodeValue(true, DataType.Boolean, LABEL, NODE).value).toBe(true);
    expect(encodeValue(0, DataType.Boolean, LABEL, NODE).value).toBe(false);
    expect(refusal(2, DataType.Boolean).message).toContain('true/false or 0/1');
    expect(refusal(true, DataType.UInt16).code).toBe('bad-type');
  });

  it('refuses nodes that are not numbers or booleans', () => {
    expect(refusal(1, DataType.String).message).toContain('of type String; it takes nothing');
  });
});

describe('decodeValue', () => {
  const variant = (dataType: DataType, value: unknown, arrayType = VariantArrayType.Scalar): Variant =>
    new Variant({ dataType, arrayType, value });

  it('returns numbers and booleans as they are, and null for an empty value', () => {
    expect(decodeValue(variant(DataType.UInt16, 75), LABEL, NODE)).toBe(75);
    expect(decodeValue(variant(DataType.Boolean, true), LABEL, NODE)).toBe(true);
    expect(decodeValue(new Variant(), LABEL, NODE)).toBeNull();
  });

  it('joins the two words of 64-bit integers, with their sign', () => {
    expect(decodeValue(variant(DataType.Int64, [0xffffffff, 0xfffffffb]), LABEL, NODE)).toBe(-5);
    expect(decodeValue(variant(DataType.UInt64, [1, 2]), LABEL, NODE)).toBe(2 ** 32 + 2);
    expect(() => decodeValue(variant(DataType.UInt64, [0xffffffff, 0]), LABEL, NODE)).toThrow('too large');
  });

  it('names the label and what the node holds when it is not a number or boolean', () => {
    expect(() => decodeValue(variant(DataType.String, 'on'), LABEL, NODE)).toThrow(
      `${LABEL}: node ${NODE} holds a String; only numbers and booleans are supported`,
    );
    expect(() => decodeValue(variant(DataType.Double, [1, 2], VariantArrayType.Array), LABEL, NODE)).toThrow(
      'holds an array of Double',
    );
  });
});

describe('status codes', () => {
  it('gives the quality from the severity bits', () => {
    expect(qualityOf(StatusCodes.Good)).toBe('good');
    expect(qualityOf(StatusCodes.GoodClamped)).toBe('good');
    expect(qualityOf(StatusCodes.UncertainLastUsableValue)).toBe('uncertain');
    expect(qualityOf(StatusCodes.BadSensorFailure)).toBe('bad');
  });

  it.each([
    ['BadNodeIdUnknown', 'not-found'],
    ['BadUserAccessDenied', 'exception'],
    ['BadNotWritable', 'exception'],
    ['BadTypeMismatch', 'bad-type'],
    ['BadOutOfRange', 'bad-type'],
    ['BadTimeout', 'timeout'],
    ['BadSessionIdInvalid', 'disconnected'],
    ['BadCertificateUntrusted', 'security'],
    ['BadIdentityTokenRejected', 'security'],
  ] as const)('maps %s to %s', (name, code) => {
    expect(errorCodeOf(StatusCodes[name])).toBe(code);
  });
});

describe('sampleOf', () => {
  it('carries the source time, and the quality of the status', () => {
    const sourceTimestamp = new Date('2026-01-15T06:30:00Z');
    const dataValue = new DataValue({
      value: { dataType: DataType.Double, value: 20.5 },
      statusCode: StatusCodes.UncertainSensorNotAccurate,
      sourceTimestamp,
    });
    expect(sampleOf('t', LABEL, NODE, dataValue, 1000)).toEqual({
      key: 't',
      value: 20.5,
      quality: 'uncertain',
      sourceTime: sourceTimestamp.getTime(),
      time: 1000,
    });
  });

  it('turns a bad status into a bad sample whose error names the label and the status', () => {
    const sample = sampleOf(
      't',
      LABEL,
      NODE,
      new DataValue({ statusCode: StatusCodes.BadNodeIdUnknown }),
      1000,
    );
    expect(sample).toMatchObject({ key: 't', value: null, quality: 'bad', time: 1000 });
    expect(sample.error).toMatchObject({
      code: 'not-found',
      detail: 'BadNodeIdUnknown',
      message: `${LABEL}: node ${NODE} is bad (BadNodeIdUnknown)`,
    });
  });
});

describe('classifyError', () => {
  it('reads the status name in node-opcua messages', () => {
    const denied = new Error('BadUserAccessDenied (0x801f0000)');
    expect(classifyError(denied, 'opening a session', 'connect')).toMatchObject({
      code: 'security',
      detail: 'BadUserAccessDenied',
      message: 'opening a session: BadUserAccessDenied (0x801f0000)',
    });
    expect(classifyError(denied, 'write', 'service').code).toBe('exception');
  });

  it('recognises timeouts, certificates and broken connections', () => {
    expect(
      classifyError(new Error('Transaction has timed out ( timeout = 5000 ms)'), 'read', 'service').code,
    ).toBe('timeout');
    expect(classifyError(new Error('server Certificate verification failed'), 'c', 'connect').code).toBe(
      'security',
    );
    expect(classifyError(new Error('connect ECONNREFUSED 127.0.0.1:4840'), 'c', 'connect').code).toBe(
      'disconnected',
    );
  });

  it('keeps DriverErrors as they are', () => {
    const error = new DriverError('security', 'no password');
    expect(classifyError(error, 'c', 'connect')).toBe(error);
  });
});

describe('certificates', () => {
  it('takes the first certificate of a DER chain, with short and long lengths', () => {
    const short = Buffer.from([0x30, 0x03, 1, 2, 3]);
    const long = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), Buffer.alloc(256, 7)]);
    expect(leafCertificate(Buffer.concat([short, long]))).toEqual(short);
    expect(leafCertificate(Buffer.concat([long, short]))).toEqual(long);
    expect(sha1(short)).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('routeOpcuaLibraryLogs', () => {
  it("sends node-opcua's warnings and errors to our logger, without colours", () => {
    const lines: string[] = [];
    const logger: Logger = {
      error: (msg) => void lines.push(`error ${msg}`),
      warn: (msg) => void lines.push(`warn ${msg}`),
      info: () => undefined,
      debug: () => undefined,
      child: () => logger,
    };
    routeOpcuaLibraryLogs(logger);
    make_warningLog('test')('\u001b[31mcertificate\u001b[39m', 42);
    routeOpcuaLibraryLogs(selfTestLogger);
    expect(lines).toEqual(['warn certificate 42']);
  });
});

describe('request shaping', () => {
  const opcua = (nodeId: string, extra: object = {}) => ({ protocol: 'opcua' as const, nodeId, ...extra });

  it('keeps valid node ids as targets and names the label of the others', () => {
    const { targets, failures } = resolveTargets([
      { key: 'a', label: LABEL, address: opcua('ns=1;s=A') },
      { key: 'b', address: opcua('ns=1;i=abc') },
      {
        key: 'c',
        address: {
          protocol: 'modbus',
          table: 'holding',
          address: 1,
          type: 'uint16',
          wordOrder: 'big',
          byteOrder: 'big',
          scale: 1,
          offset: 0,
        },
      },
    ]);
    expect(targets.map((t) => [t.index, t.label, t.nodeId.toString()])).toEqual([[0, LABEL, 'ns=1;s=A']]);
    expect(failures.map((f) => [f.index, f.error.code, f.error.message])).toEqual([
      [1, 'not-found', "b: 'ns=1;i=abc' is not a valid OPC UA node id"],
      [2, 'bad-type', 'c: a modbus address cannot be used on an OPC UA device'],
    ]);
  });

  it('groups points that share sampling and deadband, for one CreateMonitoredItems call each', () => {
    const { targets } = resolveTargets([
      { key: 'a', address: opcua('ns=1;s=A', { samplingMs: 1000 }) },
      { key: 'b', address: opcua('ns=1;s=B', { samplingMs: 500 }) },
      { key: 'c', address: opcua('ns=1;s=C', { samplingMs: 1000 }) },
      {
        key: 'd',
        address: opcua('ns=1;s=D', { samplingMs: 1000, deadband: { type: 'absolute', value: 1 } }),
      },
    ]);
    expect(groupByMonitoring(targets).map((g) => g.map((t) => t.key))).toEqual([['a', 'c'], ['b'], ['d']]);
  });

  it('queues every sample taken between two publications, and filters with the deadband', () => {
    const fast = monitoringParameters(opcua('x', { samplingMs: 100 }), 500);
    expect(fast).toMatchObject({ samplingInterval: 100, queueSize: 5, discardOldest: true, filter: null });
    expect(monitoringParameters(opcua('x', { samplingMs: 0 }), 500).queueSize).toBe(100);
    expect(monitoringParameters(opcua('x'), 500)).toMatchObject({ samplingInterval: 500, queueSize: 1 });
    const percent = monitoringParameters(opcua('x', { deadband: { type: 'percent', value: 2 } }), 500);
    expect(percent.filter).toBeInstanceOf(DataChangeFilter);
    expect(percent.filter).toMatchObject({ deadbandType: DeadbandType.Percent, deadbandValue: 2 });
  });

  it('explains a refused percent deadband by the missing EURange', () => {
    const [target] = resolveTargets([
      { key: 'p', label: LABEL, address: opcua('ns=1;s=P', { deadband: { type: 'percent', value: 2 } }) },
    ]).targets;
    expect(monitorError(target, StatusCodes.BadMonitoredItemFilterUnsupported)).toMatchObject({
      code: 'not-found',
      message: expect.stringContaining('has no EURange property') as unknown,
    });
    expect(monitorError(target, StatusCodes.BadNodeIdUnknown).code).toBe('not-found');
    expect(monitorError(target, StatusCodes.BadTooManyMonitoredItems).code).toBe('exception');
  });

  it('splits requests only above the limit; 0 means none', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([1, 2, 3], 0)).toEqual([[1, 2, 3]]);
    expect(chunks([1, 2, 3], 3)).toEqual([[1, 2, 3]]);
    expect(limitOf(new DataValue({ value: { dataType: DataType.UInt32, value: 250 } }))).toBe(250);
    expect(limitOf(new DataValue({ statusCode: StatusCodes.BadNodeIdUnknown }))).toBe(0);
  });

  it('knows the built-in types by their node ids', () => {
    expect(builtInTypeOf(coerceNodeId('i=5'))).toBe(DataType.UInt16);
    expect(builtInTypeOf(coerceNodeId('i=29'))).toBeUndefined(); // Enumeration: a subtype to resolve
    expect(builtInTypeOf(coerceNodeId('ns=2;i=5'))).toBeUndefined();
  });

  it('takes security mode and policy together, and refuses a mix of None and a real policy', () => {
    const device = (security: object) =>
      OpcuaDevice.parse({ id: 'bms', protocol: 'opcua', endpoint: 'opc.tcp://h:4840', security });
    expect(securityOf(device({ mode: 'SignAndEncrypt', policy: 'Basic256Sha256' }))).toEqual({
      securityMode: MessageSecurityMode.SignAndEncrypt,
      securityPolicy: SecurityPolicy.Basic256Sha256,
    });
    expect(() => securityOf(device({ mode: 'Sign', policy: 'None' }))).toThrow(
      "device 'bms': security mode Sign cannot go with policy None",
    );
  });
});
