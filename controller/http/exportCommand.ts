import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { EXPORT_FORMATS, EXPORT_KINDS, type ExportFormat, type ExportKind } from '../exports/selection';
import { CONNECTION_OPTIONS, EXIT, UsageError, connect, reportFailure, type ClientIo } from './client';

export const EXPORT_USAGE = `  export <point|building|zone|commune> <id> --from <date> --to <date> [--format csv|ndjson] [--out <file>]
                      a series from InfluxDB through the service, streamed to stdout or a file;
                      a point is building/point; dates are 2026-11-01 (local midnight) or ISO with offset
`;

/** `nocturne export …`: GET /api/exports, the body piped to `stdout` or `--out` as it arrives. */
export async function runExportCommand(args: string[], io: ClientIo, stdout: Writable): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ...CONNECTION_OPTIONS,
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string', default: 'csv' },
        out: { type: 'string' },
      },
    });
    const [kind, id, ...extra] = positionals;
    if (!EXPORT_KINDS.includes(kind as ExportKind) || id === undefined || extra.length > 0)
      throw new UsageError(`export takes what (${EXPORT_KINDS.join(', ')}) and its id`);
    if (!EXPORT_FORMATS.includes(values.format as ExportFormat))
      throw new UsageError(`--format must be ${EXPORT_FORMATS.join(' or ')} (is '${values.format}')`);
    if (!values.from || !values.to) throw new UsageError('--from and --to are required');
    const query = new URLSearchParams({ kind, id, from: values.from, to: values.to, format: values.format });
    const body = await connect(values, io).download(`/api/exports?${query.toString()}`);
    const output = values.out === undefined ? stdout : createWriteStream(values.out);
    await pipeline(Readable.fromWeb(body), output, {
      end: values.out !== undefined,
    });
    if (values.out !== undefined) io.stderr(`wrote ${values.out}\n`);
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, io);
  }
}
