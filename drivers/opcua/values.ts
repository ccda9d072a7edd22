import {
  DataType,
  StatusCodes,
  Variant,
  VariantArrayType,
  type DataValue,
  type StatusCode,
} from 'node-opcua';
import { DriverError, type DriverErrorCode, type Quality, type Sample, type Value } from '../driver';

/**
 * Pure conversions between OPC UA and the driver boundary, where values are plain numbers and booleans:
 * Variants of the node's built-in type, qualities from status codes, DriverErrors from status codes
 * and from library errors. No I/O here.
 */

/** Integer types and the values they hold. 64-bit integers are limited to what a JS number holds exactly. */
const INTEGER_RANGES: ReadonlyMap<DataType, readonly [number, number]> = new Map([
  [DataType.SByte, [-128, 127]],
  [DataType.Byte, [0, 255]],
  [DataType.Int16, [-32_768, 32_767]],
  [DataType.UInt16, [0, 65_535]],
  [DataType.Int32, [-2_147_483_648, 2_147_483_647]],
  [DataType.UInt32, [0, 4_294_967_295]],
  [DataType.Int64, [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]],
  [DataType.UInt64, [0, Number.MAX_SAFE_INTEGER]],
]);
const FLOAT_MAX = 3.4028234663852886e38;
const TWO_POW_32 = 4_294_967_296;

/** Built-in types a point may have: numbers and booleans. */
function isSupportedType(dataType: DataType): boolean {
  return (
    dataType === DataType.Boolean ||
    dataType === DataType.Float ||
    dataType === DataType.Double ||
    INTEGER_RANGES.has(dataType)
  );
}

/** What a type accepts, for error messages. */
function describeRange(dataType: DataType): string {
  if (dataType === DataType.Boolean) return 'true/false or 0/1';
  if (dataType === DataType.Float) return `finite numbers within ±${FLOAT_MAX}`;
  if (dataType === DataType.Double) return 'finite numbers';
  const range = INTEGER_RANGES.get(dataType);
  return range ? `integers ${range[0]}..${range[1]}` : 'nothing: not a number or boolean type';
}

/**
 * The Variant to write `value` to a node of built-in type `dataType`.
 * Throws DriverError('bad-type') naming `label` and the allowed range when the value does not fit.
 */
export function encodeValue(value: Value, dataType: DataType, label: string, nodeId: string): Variant {
  const refuse = (): DriverError =>
    new DriverError(
      'bad-type',
      `${label}: cannot write ${JSON.stringify(value)} to node ${nodeId} of type ${DataType[dataType]}; ` +
        `it takes ${describeRange(dataType)}`,
    );
  if (dataType === DataType.Boolean) {
    if (typeof value === 'boolean') return scalar(dataType, value);
    if (value === 0 || value === 1) return scalar(dataType, value === 1);
    throw refuse();
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw refuse();
  if (dataType === DataType.Double) return scalar(dataType, value);
  if (dataType === DataType.Float) {
    if (Math.abs(value) > FLOAT_MAX) throw refuse();
    return scalar(dataType, value);
  }
  const range = INTEGER_RANGES.get(dataType);
  if (!range || !Number.isInteger(value) || value < range[0] || value > range[1]) throw refuse();
  return scalar(dataType, value);
}

/**
 * The plain value of a Variant read from a node: null when the node holds no value.
 * Throws DriverError('bad-type') for arrays and for types that are not numbers or booleans.
 */
export function decodeValue(variant: Variant, label: string, nodeId: string): Value | null {
  const dataType = variant.dataType;
  if (dataType === DataType.Null) return null;
  const refuse = (what: string): DriverError =>
    new DriverError(
      'bad-type',
      `${label}: node ${nodeId} holds ${what}; only numbers and booleans are supported`,
    );
  if (variant.arrayType !== VariantArrayType.Scalar) throw refuse(`an array of ${DataType[dataType]}`);
  if (dataType === DataType.Boolean) return variant.value as boolean;
  if (dataType === DataType.Int64 || dataType === DataType.UInt64) {
    // node-opcua carries 64-bit integers as [high, low] 32-bit words
    const [high, low] = variant.value as [number, number];
    const result = (dataType === DataType.Int64 ? high | 0 : high) * TWO_POW_32 + low;
    if (!Number.isSafeInteger(result)) throw refuse(`a ${DataType[dataType]} too large for a number`);
    return result;
  }
  if (isSupportedType(dataType)) return variant.value as number;
  throw refuse(`a ${DataType[dataType]}`);
}

function scalar(dataType: DataType, value: Value): Variant {
  return new Variant({ dataType, arrayType: VariantArrayType.Scalar, value });
}

/** Good → good, Uncertain → uncertain, Bad → bad: the two severity bits of the status code. */
export function qualityOf(status: StatusCode): Quality {
  const severity = status.value >>> 30;
  if (severity === 0) return 'good';
  if (severity === 1) return 'uncertain';
  return 'bad';
}

const NOT_FOUND = codes('BadNodeIdUnknown', 'BadNodeIdInvalid', 'BadAttributeIdInvalid', 'BadNoMatch');
const BAD_TYPE = codes('BadTypeMismatch', 'BadOutOfRange', 'BadDataEncodingUnsupported');
const TIMEOUT = codes('BadTimeout', 'BadRequestTimeout');
const DISCONNECTED = codes(
  'BadCommunicationError',
  'BadConnectionClosed',
  'BadSecureChannelClosed',
  'BadSessionClosed',
  'BadSessionIdInvalid',
  'BadServerNotConnected',
  'BadServerHalted',
  'BadShutdown',
  'BadNoCommunication',
);
const SECURITY = codes(
  'BadIdentityTokenInvalid',
  'BadIdentityTokenRejected',
  'BadSecurityChecksFailed',
  'BadSecurityPolicyRejected',
  'BadSecurityModeRejected',
  'BadCertificateInvalid',
  'BadCertificateUntrusted',
  'BadCertificateTimeInvalid',
  'BadCertificateHostNameInvalid',
  'BadCertificateUriInvalid',
  'BadCertificateRevoked',
  'BadCertificateIssuerRevoked',
  'BadUserSignatureInvalid',
);

function codes(...names: (keyof typeof StatusCodes)[]): ReadonlySet<number> {
  return new Set(names.map((name) => (StatusCodes[name] as StatusCode).value));
}

/**
 * The driver error code for a bad status of one operation. Access refusals on a node
 * (BadUserAccessDenied, BadNotWritable, BadNotReadable) are device answers: 'exception'.
 */
export function errorCodeOf(status: StatusCode): DriverErrorCode {
  const value = (status.value & 0xffff0000) >>> 0;
  if (NOT_FOUND.has(value)) return 'not-found';
  if (BAD_TYPE.has(value)) return 'bad-type';
  if (TIMEOUT.has(value)) return 'timeout';
  if (DISCONNECTED.has(value)) return 'disconnected';
  if (SECURITY.has(value)) return 'security';
  return 'exception';
}

/** A DriverError for a bad status code, carrying the status name as detail. */
export function statusError(status: StatusCode, message: string): DriverError {
  return new DriverError(errorCodeOf(status), `${message} (${status.name})`, status.name);
}

/** The sample for one DataValue read or notified by the server. */
export function sampleOf(
  key: string,
  label: string,
  nodeId: string,
  dataValue: DataValue,
  now: number,
): Sample {
  const sourceTime = dataValue.sourceTimestamp?.getTime();
  const base = sourceTime === undefined ? { key, time: now } : { key, time: now, sourceTime };
  const quality = qualityOf(dataValue.statusCode);
  if (quality === 'bad') {
    return {
      ...base,
      value: null,
      quality,
      error: statusError(dataValue.statusCode, `${label}: node ${nodeId} is bad`),
    };
  }
  try {
    return { ...base, value: decodeValue(dataValue.value, label, nodeId), quality };
  } catch (error) {
    return { ...base, value: null, quality: 'bad', error: error as DriverError };
  }
}

/** A bad sample carrying `error`, for points that could not be read at all. */
export function failedSample(key: string, error: DriverError, now: number): Sample {
  return { key, value: null, quality: 'bad', time: now, error };
}

/** The status name inside a node-opcua error message, e.g. 'BadUserAccessDenied (0x801f0000)'. */
function statusNameIn(message: string): string | undefined {
  return /\b((?:Bad|Uncertain)[A-Za-z0-9]+)\b/.exec(message)?.[1];
}

/**
 * Classifies an error thrown by node-opcua for a whole service call or connection step.
 * node-opcua reports service faults and timeouts as plain Errors, so the message is all there is.
 * While connecting ('connect'), an access refusal means the credentials were refused: 'security'.
 */
export function classifyError(error: unknown, context: string, phase: 'service' | 'connect'): DriverError {
  if (error instanceof DriverError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const oneLine = message.replace(/\s+/g, ' ').trim();
  const name = statusNameIn(message);
  let code: DriverErrorCode;
  if (name && name in StatusCodes) {
    code = errorCodeOf(StatusCodes[name as keyof typeof StatusCodes] as StatusCode);
    if (phase === 'connect' && code === 'exception' && name === 'BadUserAccessDenied') code = 'security';
  } else if (/timed? ?out/i.test(message)) {
    code = 'timeout';
  } else if (/certificate|security mode|security policy/i.test(message)) {
    code = 'security';
  } else {
    code = 'disconnected';
  }
  return new DriverError(code, `${context}: ${oneLine}`, name, { cause: error });
}

/** The same error, its message prefixed with where it happened. */
export function prefixed(error: DriverError, where: string): DriverError {
  return new DriverError(error.code, `${where}: ${error.message}`, error.detail, { cause: error });
}
