import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * What the console's map needs from the server beyond the API: Leaflet's files, served from
 * node_modules (no CDN: the console works on a closed network), and the Content Security Policy that
 * lets the browser load a commune's tiles when it configured a tile server.
 */

const LEAFLET_FILES: Record<string, string> = {
  'leaflet.js': 'text/javascript; charset=utf-8',
  'leaflet.css': 'text/css; charset=utf-8',
};

/**
 * The console's CSP: its own files only, and inline only the scripts of these sources (hashes); no
 * framing; images also from the tile server.
 */
export function consoleCsp(tileUrl: string | undefined, scriptSources: readonly string[] = []): string {
  const tiles = tileUrl === undefined ? '' : ` ${tileOrigin(tileUrl)}`;
  const scripts = ["'self'", ...scriptSources].join(' ');
  return (
    `default-src 'self'; script-src ${scripts}; style-src 'self'; img-src 'self' data:${tiles}; connect-src 'self'; ` +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
  );
}

/** 'https://{s}.tile.example.org/{z}/{x}/{y}.png' → 'https://*.tile.example.org' (the schema checked its shape). */
export function tileOrigin(tileUrl: string): string {
  const { protocol, host } = new URL(tileUrl.replace('{s}.', 's.'));
  return `${protocol}//${tileUrl.includes('{s}.') ? host.replace(/^s\./, '*.') : host}`;
}

/**
 * The body gzipped when the browser accepts it: the console's own files, Leaflet and a map of 10,000
 * luminaires are its first load, and each shrinks three- to five-fold.
 */
export function sendMaybeCompressed(
  request: FastifyRequest,
  reply: FastifyReply,
  type: string,
  body: Buffer | string,
  gzipped?: Buffer,
): FastifyReply {
  void reply.type(type).header('vary', 'accept-encoding');
  if (!acceptsGzip(request)) return reply.send(body);
  return reply.header('content-encoding', 'gzip').send(gzipped ?? gzipSync(body));
}

/** A body kept gzipped only: sent so, or unzipped for a client that does not accept gzip. */
export function sendGzipped(
  request: FastifyRequest,
  reply: FastifyReply,
  type: string,
  gzipped: Buffer,
): FastifyReply {
  void reply.type(type).header('vary', 'accept-encoding');
  if (!acceptsGzip(request)) return reply.send(gunzipSync(gzipped));
  return reply.header('content-encoding', 'gzip').send(gzipped);
}

function acceptsGzip(request: FastifyRequest): boolean {
  return /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
}

/**
 * GET /vendor/leaflet.js and /vendor/leaflet.css, read and compressed once, at start: on the first
 * map's load they would wait behind its data on the one event loop.
 */
export function registerMapAssets(app: FastifyInstance): void {
  const dir = path.dirname(require.resolve('leaflet/dist/leaflet.js'));
  for (const [name, type] of Object.entries(LEAFLET_FILES)) {
    const file = readFile(path.join(dir, name)).then((plain) => ({ plain, gzipped: gzipSync(plain) }));
    // A missing file fails its requests, not the service's start.
    file.catch(() => undefined);
    app.get(`/vendor/${name}`, { schema: { hide: true } }, async (request, reply) => {
      const { plain, gzipped } = await file;
      void reply.header('cache-control', 'no-cache');
      return sendMaybeCompressed(request, reply, type, plain, gzipped);
    });
  }
}
