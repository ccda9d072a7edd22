import type { HttpJsonDeviceConfig } from '../../config/schema/httpSource';
import { readSecret } from '../../config/secrets';
import { compilePath } from '../mqtt/uplinks';
import type { HttpJsonOptions } from './jsonSource';

/**
 * The driver's options from an `http-json` device of the configuration: header secrets are read now,
 * where the driver is built, so that they never sit in the configuration object; a missing one names
 * the device and the header.
 */
export function httpJsonOptionsFromConfig(
  device: HttpJsonDeviceConfig,
  context: { configDir: string; env?: NodeJS.ProcessEnv },
): HttpJsonOptions {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(device.headers ?? {})) {
    try {
      headers[name] = typeof value === 'string' ? value : readSecret(value, context.configDir, context.env);
    } catch (error) {
      throw new Error(`device '${device.id}' headers.${name}: ${(error as Error).message}`, { cause: error });
    }
  }
  return {
    deviceId: device.id,
    url: device.url,
    periodMs: device.period_s * 1000,
    timeoutMs: device.timeout_ms,
    retries: device.retries,
    headers,
    timePath: device.time_path === undefined ? undefined : compilePath(device.time_path),
  };
}
