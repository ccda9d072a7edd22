import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isWildcardHost } from '../../config/clusterChecks';
import type { EtcdConfig } from '../../config/schema/cluster';
import { readSecret } from '../../config/secrets';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { writeFileAtomically } from '../../drivers/durableFile';
import { EtcdCoordination } from '../../drivers/etcd/etcdCoordination';
import type { StateDocument } from '../../drivers/coordination';
import { lightingStateFile } from '../lighting/runtime/store';
import { alertsStateFile } from '../telemetry/alerts/store';
import { ClusterMember } from './member';

export interface ClusterMemberContext {
  /** Relative paths (secrets, certificates) start here. */
  configDir: string;
  stateDir: string;
  /** service.instance, the member's name unless the section gives one. */
  instance: string;
  /** The API's address: what the leader publishes unless the section gives advertise_url. */
  http: { host: string; port: number };
  env: NodeJS.ProcessEnv;
  clock: Clock;
  logger: Logger;
  fenced(reason: string): void;
}

/** The cluster member of the `cluster.etcd` section, on etcd (the composition root's one place that names it). */
export function clusterMemberFromConfig(etcd: EtcdConfig, context: ClusterMemberContext): ClusterMember {
  const { configDir, logger } = context;
  const read = (name: string): Buffer => readFileSync(path.resolve(configDir, name));
  const file = (name: string | undefined): Buffer | undefined =>
    name === undefined ? undefined : read(name);
  const now = (): number => performance.now();
  const coordination = new EtcdCoordination({
    endpoints: etcd.endpoints,
    prefix: etcd.key_prefix,
    shard: etcd.shard,
    member: etcd.member ?? context.instance,
    advertiseUrl: advertisedUrl(etcd, context.http),
    leaseTtlS: etcd.lease_ttl_s,
    callTimeoutMs: etcd.call_timeout_ms,
    auth:
      etcd.username !== undefined && etcd.password !== undefined
        ? { username: etcd.username, password: readSecret(etcd.password, configDir, context.env) }
        : undefined,
    tls: etcd.tls && {
      rootCertificate: read(etcd.tls.ca_file),
      certChain: file(etcd.tls.cert_file),
      privateKey: file(etcd.tls.key_file),
    },
    now,
    logger,
  });
  const localFiles: Record<StateDocument, string> = {
    'lighting-state': lightingStateFile(context.stateDir),
    alerts: alertsStateFile(context.stateDir),
  };
  return new ClusterMember({
    coordination,
    timing: { ttlMs: etcd.lease_ttl_s * 1000, marginMs: etcd.safety_margin_ms },
    keepLocalCopy: (document, text) => writeFileAtomically(localFiles[document], text),
    now,
    clock: context.clock,
    logger,
    fenced: (reason) => context.fenced(reason),
  });
}

/**
 * Where the other instances reach this one's API: advertise_url, else the address it listens on. None
 * on a wildcard address (0.0.0.0 reaches each caller's own machine): the configuration check requires
 * advertise_url with shards; without, a standby then answers 503 instead of forwarding.
 */
function advertisedUrl(etcd: EtcdConfig, http: { host: string; port: number }): string | undefined {
  if (etcd.advertise_url !== undefined) return etcd.advertise_url;
  if (isWildcardHost(http.host)) return undefined;
  return `http://${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}`;
}
