import http from 'node:http';

/**
 * Writes line protocol (timestamps in ms) straight to influxd's own `/write`, for tests and benchmarks
 * that need known data in InfluxDB without going through the service's writer. Throws InfluxDB's error.
 */
export function writeLines(directUrl: string, database: string, lines: readonly string[]): Promise<void> {
  const body = lines.join('\n');
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${directUrl}/write?db=${encodeURIComponent(database)}&precision=ms`,
      { method: 'POST', agent: false, timeout: 120_000 },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (data: Buffer) => parts.push(data));
        response.on('end', () =>
          response.statusCode === 204
            ? resolve()
            : reject(
                new Error(`influxd /write: HTTP ${response.statusCode}: ${Buffer.concat(parts).toString()}`),
              ),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('influxd /write: no answer within 120 s')));
    request.on('error', reject);
    request.end(body);
  });
}
