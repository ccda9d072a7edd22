import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue } from '../../config/issues';
import { loadConfig } from '../../config/load';
import { DEMO_CONFIG } from '../../config/paths';
import { systemClock } from '../../core/clock';
import { silentLogger } from '../../core/logger';
import { Bus } from '../bus';
import { AuditLog } from './auditLog';
import { AUDIT_EXPORT_FORMATS, auditExport, type AuditExportFormat } from './export';

export const AUDIT_USAGE =
  'usage: nocturne audit export --user <id> [--format json|csv] [--config <file>] [--output <file>]\n';

/**
 * `nocturne audit export --user <id>`: a person's own actions from the audit files of the configuration's
 * state directory (read only: the service may be running), for a right-of-access request.
 */
export async function runAuditCommand(
  args: string[],
  io: {
    stdout: (text: string) => void;
    stderr: (text: string) => void;
    writeFile: (file: string, text: string) => void;
  },
): Promise<number> {
  const [sub, ...rest] = args;
  let values: { user?: string; format?: string; config?: string; output?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        user: { type: 'string' },
        format: { type: 'string', default: 'json' },
        config: { type: 'string', default: DEMO_CONFIG },
        output: { type: 'string' },
      },
    }));
  } catch (error) {
    io.stderr(`nocturne audit: ${(error as Error).message}\n${AUDIT_USAGE}`);
    return 2;
  }
  if (sub !== 'export' || values.user === undefined) {
    io.stderr(AUDIT_USAGE);
    return 2;
  }
  if (!(AUDIT_EXPORT_FORMATS as readonly string[]).includes(values.format!)) {
    io.stderr(`nocturne audit export: --format must be json or csv (is '${values.format}')\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig(values.config!);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) io.stderr(`${formatIssue(issue)}\n`);
    return 1;
  }
  const stateDir = path.resolve(path.dirname(values.config!), config.service.state_dir);
  const log = new AuditLog(stateDir, {
    bus: new Bus(silentLogger),
    clock: systemClock,
    logger: silentLogger,
  });
  let entries;
  try {
    entries = await log.query({ actor: values.user, limit: Number.MAX_SAFE_INTEGER }, ['*']);
  } catch (error) {
    io.stderr(`nocturne audit export: cannot read ${log.dir}: ${(error as Error).message}\n`);
    return 1;
  }
  const { body } = auditExport(values.user, entries, values.format as AuditExportFormat, {
    timeZone: config.site.timezone,
    exportedAt: systemClock.now(),
  });
  if (values.output === undefined) io.stdout(body);
  else {
    io.writeFile(values.output, body);
    io.stderr(`${entries.length} entries of '${values.user}' written to ${values.output}\n`);
  }
  return 0;
}
