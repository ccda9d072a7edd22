import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HttpBinding, HttpJsonDevice } from '../../../config/schema/httpSource';
import { httpJsonOptionsFromConfig } from '../../../drivers/http/options';

const HUBEAU =
  'https://hubeau.eaufrance.fr/api/v2/hydrometrie/observations_tr?code_entite=A443064001&grandeur_hydro=H&size=1';

/** The messages a device is refused with, as `path: message`. */
function refusal(input: unknown): string[] {
  const result = HttpJsonDevice.safeParse(input);
  if (result.success) throw new Error('expected the device to be refused');
  return result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('HttpJsonDevice', () => {
  test('defaults: a poll every 10 minutes, 10 s per request, 2 retries', () => {
    const device = HttpJsonDevice.parse({ id: 'vigicrues-moselle', protocol: 'http-json', url: HUBEAU });
    expect(device).toEqual({
      id: 'vigicrues-moselle',
      protocol: 'http-json',
      url: HUBEAU,
      period_s: 600,
      timeout_ms: 10_000,
      retries: 2,
    });
  });

  test('takes headers with secret references and a time path', () => {
    const device = HttpJsonDevice.parse({
      id: 'air',
      protocol: 'http-json',
      url: 'http://127.0.0.1:8080/aq.json',
      headers: { 'X-Api-Key': { env: 'ATMO_KEY' }, Accept: 'application/json' },
      time_path: 'data.0.date_obs',
      period_s: 10,
    });
    expect(device.headers).toEqual({ 'X-Api-Key': { env: 'ATMO_KEY' }, Accept: 'application/json' });
    expect(device.time_path).toBe('data.0.date_obs');
  });

  test.each([
    ['ftp://example.org/data.json'],
    ['hubeau.eaufrance.fr/api/v2/hydrometrie/observations_tr'],
    ['https://'],
    ['https://exa mple.org/x'],
  ])('refuses the URL %s, saying what a URL must be', (url) => {
    const messages = refusal({ id: 'x', protocol: 'http-json', url });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^url: (must be an 'http:\/\/' or 'https:\/\/' URL|is not a valid URL)/);
  });

  test('refuses a period under 10 s, a lighting section, an unknown key and a bad time path', () => {
    expect(refusal({ id: 'x', protocol: 'http-json', url: HUBEAU, period_s: 5 })).toEqual([
      expect.stringMatching(/^period_s: /),
    ]);
    expect(
      refusal({ id: 'x', protocol: 'http-json', url: HUBEAU, lighting: { channels: 1, map: 'm' } }),
    ).toEqual([
      'lighting: an HTTP JSON source only reads values: luminaires are driven over Modbus or OPC UA',
    ]);
    expect(refusal({ id: 'x', protocol: 'http-json', url: HUBEAU, topic: 'a/b' })).toEqual([
      expect.stringMatching(/topic/),
    ]);
    expect(refusal({ id: 'x', protocol: 'http-json', url: HUBEAU, time_path: 'data..date' })).toEqual([
      expect.stringMatching(/^time_path: must be a dot path/),
    ]);
    expect(
      refusal({ id: 'x', protocol: 'http-json', url: HUBEAU, headers: { 'X-Key': 'a\r\nInjected: 1' } }),
    ).toEqual([expect.stringMatching(/^headers\.X-Key: /)]);
  });
});

describe('HttpBinding', () => {
  test('path is required; scale 1 and offset 0 by default', () => {
    expect(HttpBinding.parse({ path: 'data.0.resultat_obs' })).toEqual({
      path: 'data.0.resultat_obs',
      scale: 1,
      offset: 0,
    });
    expect(HttpBinding.safeParse({ scale: 0.001 }).success).toBe(false);
    expect(
      HttpBinding.parse({ path: 'indice', scale: 0.001, offset: 2, states: { bon: 1, moyen: 2 } }),
    ).toEqual({ path: 'indice', scale: 0.001, offset: 2, states: { bon: 1, moyen: 2 } });
  });
});

describe('httpJsonOptionsFromConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nocturne-http-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('reads header secrets from the environment and files, converts times and the time path', () => {
    writeFileSync(path.join(dir, 'token.txt'), 's3cret\n');
    const device = HttpJsonDevice.parse({
      id: 'air',
      protocol: 'http-json',
      url: HUBEAU,
      period_s: 900,
      headers: { 'X-Api-Key': { env: 'ATMO_KEY' }, Authorization: { file: 'token.txt' }, 'X-Plain': 'yes' },
      time_path: 'data.0.date_obs',
    });
    expect(httpJsonOptionsFromConfig(device, { configDir: dir, env: { ATMO_KEY: 'k-123' } })).toEqual({
      deviceId: 'air',
      url: HUBEAU,
      periodMs: 900_000,
      timeoutMs: 10_000,
      retries: 2,
      headers: { 'X-Api-Key': 'k-123', Authorization: 's3cret', 'X-Plain': 'yes' },
      timePath: ['data', '0', 'date_obs'],
    });
  });

  test('a missing secret names the device and the header', () => {
    const device = HttpJsonDevice.parse({
      id: 'air',
      protocol: 'http-json',
      url: HUBEAU,
      headers: { 'X-Api-Key': { env: 'ATMO_KEY' } },
    });
    expect(() => httpJsonOptionsFromConfig(device, { configDir: dir, env: {} })).toThrow(
      "device 'air' headers.X-Api-Key: environment variable ATMO_KEY is not set",
    );
  });
});
