import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigPath } from './issues';
import type { Config } from './schema';

export type SecretRef = { env: string } | { file: string };

/** Every secret reference in a configuration, with where it sits. */
export function secretSources(config: Config): { path: ConfigPath; ref: SecretRef }[] {
  const out: { path: ConfigPath; ref: SecretRef }[] = [];
  if (config.mqtt.password) out.push({ path: ['mqtt', 'password'], ref: config.mqtt.password });
  if (config.influx?.token) out.push({ path: ['influx', 'token'], ref: config.influx.token });
  const etcdPassword = config.cluster?.etcd?.password;
  if (etcdPassword) out.push({ path: ['cluster', 'etcd', 'password'], ref: etcdPassword });
  config.alerts.webhooks.forEach((webhook, i) => {
    if (typeof webhook.url !== 'string')
      out.push({ path: ['alerts', 'webhooks', i, 'url'], ref: webhook.url });
    for (const [name, value] of Object.entries(webhook.headers)) {
      if (typeof value !== 'string')
        out.push({ path: ['alerts', 'webhooks', i, 'headers', name], ref: value });
    }
  });
  const { email, sms } = config.notifications ?? {};
  if (email?.user !== undefined && typeof email.user !== 'string')
    out.push({ path: ['notifications', 'email', 'user'], ref: email.user });
  if (email?.password) out.push({ path: ['notifications', 'email', 'password'], ref: email.password });
  if (sms && typeof sms.url !== 'string') out.push({ path: ['notifications', 'sms', 'url'], ref: sms.url });
  for (const field of ['headers', 'params'] as const)
    for (const [name, value] of Object.entries(sms?.[field] ?? {}))
      if (typeof value !== 'string') out.push({ path: ['notifications', 'sms', field, name], ref: value });
  config.devices.forEach((device, i) => {
    if (device.protocol === 'opcua' && device.auth.type === 'username') {
      out.push({ path: ['devices', i, 'auth', 'password'], ref: device.auth.password });
    }
    if (device.protocol === 'mqtt' && device.broker?.password)
      out.push({ path: ['devices', i, 'broker', 'password'], ref: device.broker.password });
    if (device.protocol === 'http-json')
      for (const [name, value] of Object.entries(device.headers ?? {}))
        if (typeof value !== 'string') out.push({ path: ['devices', i, 'headers', name], ref: value });
  });
  return out;
}

/** Reads a secret at the moment it is needed, so it never sits in the configuration object or a log. */
export function readSecret(ref: SecretRef, configDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined) throw new Error(`environment variable ${ref.env} is not set`);
    return value;
  }
  return readFileSync(path.resolve(configDir, ref.file), 'utf8').replace(/\r?\n$/, '');
}
