import { DriverError } from '../driver';

/** Modbus exception codes by name, as the specification (and our DriverError.detail) spells them. */
export const MODBUS_EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'IllegalFunction',
  2: 'IllegalDataAddress',
  3: 'IllegalDataValue',
  4: 'SlaveDeviceFailure',
  5: 'Acknowledge',
  6: 'SlaveDeviceBusy',
  7: 'NegativeAcknowledge',
  8: 'MemoryParityError',
  10: 'GatewayPathUnavailable',
  11: 'GatewayTargetDeviceFailedToRespond',
};

/** Detail of a reply that arrived but could not be used (bad CRC, wrong length, wrong unit or function). */
export const INVALID_RESPONSE = 'InvalidResponse';

/** Exceptions worth asking again: the device or gateway says "later". */
const TRANSIENT_EXCEPTIONS = new Set([
  'Acknowledge',
  'SlaveDeviceBusy',
  'GatewayTargetDeviceFailedToRespond',
]);

/**
 * Maps what modbus-serial calls back with to a DriverError. `where` says which device and request,
 * e.g. "device 'sc-01' (unit 3) read holding 100..119".
 */
export function toDriverError(error: unknown, where: string, timeoutMs: number): DriverError {
  if (error instanceof DriverError) return error;
  const e = error as { modbusCode?: unknown; errno?: unknown; code?: unknown; message?: unknown };
  if (typeof e.modbusCode === 'number') {
    const name = MODBUS_EXCEPTION_NAMES[e.modbusCode] ?? `Exception${e.modbusCode}`;
    return new DriverError('exception', `${where}: device answered ${name} (code ${e.modbusCode})`, name, {
      cause: error,
    });
  }
  if (e.errno === 'ETIMEDOUT')
    return new DriverError('timeout', `${where}: no answer within ${timeoutMs} ms`, undefined, {
      cause: error,
    });
  const message = typeof e.message === 'string' ? e.message : String(error);
  // modbus-serial reports replies it cannot use (CRC, length, unit or function mismatch) as plain Errors.
  if (/^(CRC error|Data length error|Unexpected data error)/.test(message))
    return new DriverError('exception', `${where}: unusable reply (${message})`, INVALID_RESPONSE, {
      cause: error,
    });
  return new DriverError('disconnected', `${where}: ${message}`, errnoOf(error), { cause: error });
}

export function errnoOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; errno?: unknown } | undefined;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.errno === 'string') return e.errno;
  return undefined;
}

/** Errors worth a retry of the same request: no answer, a garbled answer, or a device that says "later". */
export function isRetryable(error: DriverError): boolean {
  if (error.code === 'timeout') return true;
  return (
    error.code === 'exception' &&
    (error.detail === INVALID_RESPONSE || TRANSIENT_EXCEPTIONS.has(error.detail ?? ''))
  );
}

/** Failures that mean the device itself did not answer (as opposed to answering with an error). */
export function isUnanswered(error: DriverError): boolean {
  return error.code === 'timeout' || error.detail === 'GatewayTargetDeviceFailedToRespond';
}
