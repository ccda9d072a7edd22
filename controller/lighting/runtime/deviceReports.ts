import type { Logger } from '../../../core/logger';
import { describeDriverError, type Driver, type PointRef, type Sample } from '../../../drivers/driver';
import { channelKey, type DeviceBinding, type PerChannelValue } from './bindings';

/** What the device reported in a poll, per slot (NaN where it did not say). */
export interface DeviceReports {
  output: Float64Array;
  power: Float64Array;
  energy: Float64Array;
  lampStatus: Float64Array;
}

/**
 * One poll of what a segment controller reports per channel (light output, power, energy, lamp status):
 * telemetry, not dispatch. The ReportPoller asks for it every `reportMs`; the driver queues it behind
 * commands and read-backs. Undefined when the device did not answer (logged at debug: the device's health
 * says it already).
 */
export async function readReports(
  driver: Driver,
  b: DeviceBinding,
  logger: Logger,
): Promise<DeviceReports | undefined> {
  const kinds = Object.keys(b.reports) as PerChannelValue[];
  if (kinds.length === 0) return undefined;
  const n = b.channels.length;
  const refs: PointRef[] = [];
  for (const kind of kinds) {
    const at = b.reports[kind]!;
    for (let k = 0; k < n; k++)
      refs.push({ key: channelKey(kind, b.channels[k]), address: at(b.channels[k]) });
  }
  let samples: Sample[];
  try {
    samples = await driver.read(refs);
  } catch (error) {
    logger.debug(() => `device '${b.deviceId}': report read failed: ${describeDriverError(error)}`);
    return undefined;
  }
  const reports: DeviceReports = {
    output: new Float64Array(n).fill(Number.NaN),
    power: new Float64Array(n).fill(Number.NaN),
    energy: new Float64Array(n).fill(Number.NaN),
    lampStatus: new Float64Array(n).fill(Number.NaN),
  };
  kinds.forEach((kind, block) => {
    const into = reports[kind];
    for (let k = 0; k < n; k++) {
      const sample = samples[block * n + k];
      if (sample?.quality === 'good' && typeof sample.value === 'number')
        into[k] =
          kind === 'output'
            ? b.toOutput(sample.value)
            : kind === 'lampStatus'
              ? b.decodeStatus(sample.value)
              : sample.value;
    }
  });
  return reports;
}
