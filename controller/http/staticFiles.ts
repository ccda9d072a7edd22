import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors';
import { sendMaybeCompressed } from './mapSupport';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Flat file names only: no slash, no dot-dot, nothing outside the console's folder can be named. */
const FILE_NAME = /^[a-z][a-z0-9-]*\.(html|js|css|svg|png)$/;

/**
 * The CSP sources of the inline scripts of the console's page, one 'sha256-…' each, read at start
 * (index.html asks for its first answers before the modules load). If index.html is edited while the
 * service runs, the browser refuses its new inline script, and the console asks for those answers
 * itself, later.
 */
export function inlineScriptSources(dir: string): string[] {
  let html: string;
  try {
    html = readFileSync(path.join(dir, 'index.html'), 'utf8');
  } catch {
    return [];
  }
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    ([, script]) => `'sha256-${createHash('sha256').update(script).digest('base64')}'`,
  );
}

/**
 * The console's files (plain HTML, CSS and JavaScript modules, no build step), served from one flat
 * folder, and the API's reading page at /api/docs. Written here rather than with @fastify/static,
 * whose content-disposition dependency is ESM-only and does not load under jest's CommonJS runtime.
 */
export function registerStaticFiles(app: FastifyInstance, dir: string): void {
  // Each file gzipped once while its content stays the same (read again at each request, so an edited
  // file is served at once): a page load asks for a score of them.
  const gzipped = new Map<string, { plain: Buffer; gzipped: Buffer }>();
  const gzippedOf = (name: string, plain: Buffer): Buffer => {
    let known = gzipped.get(name);
    if (!known?.plain.equals(plain)) {
      known = { plain, gzipped: gzipSync(plain) };
      gzipped.set(name, known);
    }
    return known.gzipped;
  };
  const send = async (name: string): Promise<{ type: string; body: Buffer }> => {
    if (!FILE_NAME.test(name)) throw new ApiError(404, 'not-found', `no file '${name}'`);
    try {
      return { type: CONTENT_TYPES[path.extname(name)], body: await readFile(path.join(dir, name)) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new ApiError(404, 'not-found', `no file '${name}'`);
      throw error;
    }
  };
  const serve =
    (name: (params: { file?: string }) => string) =>
    async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const fileName = name(request.params as { file?: string });
      const file = await send(fileName);
      // Kept, but revalidated on every load: the names carry no content hash, so a console cached
      // for longer could outlive an upgrade of the API it talks to. Gzipped, they weigh a third.
      void reply.header('cache-control', 'no-cache');
      return sendMaybeCompressed(request, reply, file.type, file.body, gzippedOf(fileName, file.body));
    };
  const hidden = { schema: { hide: true } };
  app.get(
    '/',
    hidden,
    serve(() => 'index.html'),
  );
  app.get(
    '/:file',
    hidden,
    serve((params) => params.file ?? ''),
  );
  app.get(
    '/api/docs',
    hidden,
    serve(() => 'docs.html'),
  );
}
