import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EtcdConfig } from '../../config/schema/cluster';
import { readSecret } from '../../config/secrets';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { writeFileAtomically } from '../../drivers/durableFile';
import { EtcdCoordination } from '../../drivers/etcd/etcdCoordination';
import { lightingStateFile } from '../lighting/runtime/store';
import { ClusterMember } from './member';

export interface ClusterMemberContext {
  /** Relative paths (secrets, certificates) start here. */
  configDir: string;
  stateDir: string;
  /** service.instance, the member's name unless the section gives one. */
  instance: string;
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
  const stateFile = lightingStateFile(context.stateDir);
  return new ClusterMember({
    coordination,
    timing: { ttlMs: etcd.lease_ttl_s * 1000, marginMs: etcd.safety_margin_ms },
    keepLocalCopy: (text) => writeFileAtomically(stateFile, text),
    now,
    clock: context.clock,
    logger,
    fenced: (reason) => context.fenced(reason),
  });
}
