import {
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  MessageSecurityMode,
  NodeIdType,
  SecurityPolicy,
  StatusCodes,
  coerceNodeId,
  type DataValue,
  type MonitoringParametersOptions,
  type NodeId,
  type StatusCode,
} from 'node-opcua';
import type { OpcuaDeviceConfig } from '../../config/schema';
import { DriverError, type OpcuaAddress, type PointAddress } from '../driver';
import { qualityOf, statusError } from './values';

/** Pure helpers that shape the driver's requests: targets from points, chunks, monitoring, security. */

/** A point or write whose address is a valid OPC UA node id, with its position in the caller's list. */
export interface Target {
  index: number;
  key: string;
  label: string;
  address: OpcuaAddress;
  nodeId: NodeId;
  nodeIdText: string;
}

/** node-opcua's security settings for a device; mode and policy must agree (both None, or neither). */
export function securityOf(config: OpcuaDeviceConfig): {
  securityMode: MessageSecurityMode;
  securityPolicy: SecurityPolicy;
} {
  const { mode, policy } = config.security;
  if ((mode === 'None') !== (policy === 'None')) {
    throw new DriverError(
      'security',
      `device '${config.id}': security mode ${mode} cannot go with policy ${policy}; ` +
        'use mode None with policy None, or Sign/SignAndEncrypt with a policy such as Basic256Sha256',
    );
  }
  return { securityMode: MessageSecurityMode[mode], securityPolicy: SecurityPolicy[policy] };
}

/** Splits points or writes into valid OPC UA targets and per-index errors. */
export function resolveTargets(items: readonly { key: string; address: PointAddress; label?: string }[]): {
  targets: Target[];
  failures: { index: number; error: DriverError }[];
} {
  const targets: Target[] = [];
  const failures: { index: number; error: DriverError }[] = [];
  items.forEach((item, index) => {
    const label = item.label ?? item.key;
    const address = item.address;
    if (address.protocol !== 'opcua') {
      failures.push({
        index,
        error: new DriverError(
          'bad-type',
          `${label}: a ${address.protocol} address cannot be used on an OPC UA device`,
        ),
      });
      return;
    }
    try {
      const nodeId = coerceNodeId(address.nodeId);
      targets.push({ index, key: item.key, label, address, nodeId, nodeIdText: address.nodeId });
    } catch {
      failures.push({
        index,
        error: new DriverError('not-found', `${label}: '${address.nodeId}' is not a valid OPC UA node id`),
      });
    }
  });
  return { targets, failures };
}

/** Targets sharing sampling interval and deadband, which one CreateMonitoredItems call can carry. */
export function groupByMonitoring(targets: Target[]): Target[][] {
  const groups = new Map<string, Target[]>();
  for (const t of targets) {
    const { samplingMs, deadband } = t.address;
    const key = `${samplingMs ?? ''}|${deadband?.type ?? ''}|${deadband?.value ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(t);
    else groups.set(key, [t]);
  }
  return [...groups.values()];
}

/** Sampling, queue and deadband filter of the monitored items of points sharing an address's settings. */
export function monitoringParameters(
  address: OpcuaAddress,
  publishingMs: number,
): MonitoringParametersOptions {
  const samplingInterval = address.samplingMs ?? publishingMs;
  const deadband = address.deadband;
  return {
    samplingInterval,
    // room for every sample taken between two publications, so that none is lost
    queueSize: Math.min(100, Math.max(1, Math.ceil(publishingMs / Math.max(1, samplingInterval)))),
    discardOldest: true,
    filter: deadband
      ? new DataChangeFilter({
          trigger: DataChangeTrigger.StatusValue,
          deadbandType: deadband.type === 'percent' ? DeadbandType.Percent : DeadbandType.Absolute,
          deadbandValue: deadband.value,
        })
      : null,
  };
}

/** Why the server refused to monitor a point; a refused percent deadband means the node has no EURange. */
export function monitorError(target: Target, status: StatusCode): DriverError {
  const filterRefused =
    status.value === StatusCodes.BadMonitoredItemFilterUnsupported.value ||
    status.value === StatusCodes.BadFilterNotAllowed.value;
  if (target.address.deadband?.type === 'percent' && filterRefused) return euRangeMissing(target, status);
  return statusError(status, `${target.label}: cannot monitor node ${target.nodeIdText}`);
}

export function euRangeMissing(target: Target, status: StatusCode): DriverError {
  return new DriverError(
    'not-found',
    `${target.label}: node ${target.nodeIdText} has no EURange property, which a percent deadband needs ` +
      `(${status.name}); use an absolute deadband`,
    status.name,
  );
}

/** Numeric ids 1..25 of namespace 0 are the built-in types themselves. */
export function builtInTypeOf(typeId: NodeId): DataType | undefined {
  if (typeId.namespace !== 0 || typeId.identifierType !== NodeIdType.NUMERIC) return undefined;
  const id = typeId.value as number;
  return id >= 1 && id <= 25 ? id : undefined;
}

/** An operation limit read from the server; 0 (none) when absent or unreadable. */
export function limitOf(dataValue: DataValue | undefined): number {
  const value: unknown = dataValue?.value.value;
  return dataValue && qualityOf(dataValue.statusCode) === 'good' && typeof value === 'number' && value > 0
    ? value
    : 0;
}

/** Requests of at most `size` operations; 0 means the server sets no limit. */
export function chunks<T>(items: T[], size: number): T[][] {
  if (size <= 0 || items.length <= size) return [items];
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
