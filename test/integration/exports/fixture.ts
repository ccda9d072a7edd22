import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { loadConfig } from '../../../config/load';
import type { Config } from '../../../config/schema';
import { ManualClock } from '../../../core/clock';
import { AuditLog } from '../../../controller/audit/auditLog';
import { Bus } from '../../../controller/bus';
import type { ApiOptions } from '../../../controller/http/options';
import type { ApiServices } from '../../../controller/http/routes';
import { ApiServer } from '../../../controller/http/server';
import { RecordingLogger } from '../../unit/api/harness';
import { InTestServices } from '../../unit/api/inTestServices';

/** The territory of test/fixtures/config/exports.yaml; a user's token is `token-<id>-0123456789`. */
export const EXPORTS_CONFIG: Config = loadConfig(path.join(__dirname, '../../fixtures/config/exports.yaml'));

export const bearerOf = (user: string): { authorization: string } => ({
  authorization: `Bearer token-${user}-0123456789`,
});

export interface TerritoryApi {
  url: string;
  audit: AuditLog;
  /** Where the audit log writes its files. */
  auditDir: string;
  close(): Promise<void>;
}

/**
 * The API of the exports territory on 127.0.0.1 (port chosen by the system), with the in-test lighting
 * and energy services, a real audit log, and the services under test added.
 */
export async function startTerritoryApi(
  extra: Pick<ApiServices, 'exports'> & Record<string, unknown>,
  now = Date.parse('2026-12-01T08:00:00Z'),
  options: ApiOptions = {},
): Promise<TerritoryApi> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'nocturne-exports-'));
  const logger = new RecordingLogger();
  const clock = new ManualClock(now);
  const audit = new AuditLog(stateDir, { bus: new Bus(logger), clock, logger });
  const services = Object.assign(new InTestServices(), extra);
  const server = new ApiServer({
    config: {
      ...EXPORTS_CONFIG,
      http: { host: '127.0.0.1', port: 0, trusted_proxies: [], session_days: 30 },
    },
    stateDir,
    services,
    audit,
    clock,
    logger,
    options,
  });
  audit.listen();
  await audit.start();
  await server.start(new AbortController().signal);
  return {
    url: server.url,
    audit,
    auditDir: path.join(stateDir, 'audit'),
    close: async () => {
      await server.stop();
      await audit.stop();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
