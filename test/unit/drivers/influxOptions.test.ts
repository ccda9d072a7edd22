import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InfluxConfig } from '../../../config/schema';
import { coerceInfluxWriterOptions, influxWriterOptionsFromConfig } from '../../../drivers/influx/options';

const MIB = 1024 * 1024;

describe('coerceInfluxWriterOptions', () => {
  test('defaults; no target without a URL', () => {
    const resolved = coerceInfluxWriterOptions({ spoolDir: '/var/spool' });
    expect(resolved).toMatchObject({
      target: undefined,
      batchSize: 5000,
      flushMs: 1000,
      gzip: true,
      spoolMaxBytes: 512 * MIB,
      segmentBytes: 32 * MIB,
      maxInFlight: 2,
      backoff: { initialMs: 200, maxMs: 10_000, factor: 2, jitter: 0.5 },
    });
  });

  test('a small bound gets small segments', () => {
    expect(coerceInfluxWriterOptions({ spoolDir: 'x', spoolMaxBytes: 64 * 1024 }).segmentBytes).toBe(4096);
  });

  test('a URL needs a bucket; the target carries org and token', () => {
    expect(() => coerceInfluxWriterOptions({ spoolDir: 'x', url: 'http://influx:8086' })).toThrow(
      "influx writer: a bucket is required with url 'http://influx:8086'",
    );
    expect(
      coerceInfluxWriterOptions({ spoolDir: 'x', url: 'https://influx', bucket: 'telemetry', token: 't' })
        .target,
    ).toEqual({ url: 'https://influx', org: '', bucket: 'telemetry', token: 't' });
    expect(() => coerceInfluxWriterOptions({ spoolDir: 'x', url: 'influx:8086', bucket: 'b' })).toThrow(
      "url 'influx:8086' must start with http:// or https://",
    );
  });

  test('errors name the option and the value', () => {
    expect(() => coerceInfluxWriterOptions({ spoolDir: 'x', batchSize: 0 })).toThrow(
      'influx writer: batchSize is 0, must be a number > 0',
    );
    expect(() => coerceInfluxWriterOptions({ spoolDir: 'x', flushMs: Number.NaN })).toThrow('flushMs is NaN');
    expect(() =>
      coerceInfluxWriterOptions({ spoolDir: 'x', spoolMaxBytes: 1000, segmentBytes: 2000 }),
    ).toThrow('segmentBytes (2000) must not exceed spoolMaxBytes (1000)');
    expect(() => coerceInfluxWriterOptions({ spoolDir: '' })).toThrow('spoolDir is required');
  });
});

describe('influxWriterOptionsFromConfig', () => {
  const influx: InfluxConfig = {
    url: 'http://127.0.0.1:8086',
    org: 'metz',
    bucket: 'telemetry/autogen',
    token: { env: 'NOCTURNE_INFLUX_TOKEN' },
    batch_size: 2000,
    flush_ms: 500,
    gzip: false,
    spool_max_mb: 1.5,
    spool_sync_ms: 20,
  };

  test('maps the section, reads the token, and puts the spool under the state dir', () => {
    expect(
      influxWriterOptionsFromConfig(influx, {
        stateDir: './var',
        configDir: '/etc/nocturne',
        env: { NOCTURNE_INFLUX_TOKEN: 'secret' },
      }),
    ).toEqual({
      url: 'http://127.0.0.1:8086',
      org: 'metz',
      bucket: 'telemetry/autogen',
      token: 'secret',
      batchSize: 2000,
      flushMs: 500,
      gzip: false,
      syncIntervalMs: 20,
      spoolDir: '/etc/nocturne/var/spool',
      spoolMaxBytes: Math.round(1.5 * MIB),
    });
  });

  test('a token file is read relative to the configuration, without its trailing newline', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'nocturne-options-'));
    try {
      await fsp.writeFile(path.join(dir, 'influx.token'), 'from-file\n');
      const options = influxWriterOptionsFromConfig(
        { ...influx, token: { file: 'influx.token' } },
        { stateDir: '/srv/state', configDir: dir },
      );
      expect(options).toMatchObject({ token: 'from-file', spoolDir: '/srv/state/spool' });
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing secret names the configuration entry', () => {
    expect(() =>
      influxWriterOptionsFromConfig(influx, { stateDir: 'var', configDir: '/etc', env: {} }),
    ).toThrow('influx.token: environment variable NOCTURNE_INFLUX_TOKEN is not set');
  });

  test('no section: spool only', () => {
    expect(influxWriterOptionsFromConfig(undefined, { stateDir: 'var', configDir: '/etc/nocturne' })).toEqual(
      {
        spoolDir: '/etc/nocturne/var/spool',
      },
    );
  });
});
