'use strict';
/* global require, process, __dirname, setTimeout, clearTimeout */
/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS, run by node as it is */
// Docker health check of the nocturne service: healthy while its retained state on <base>/bridge/state
// says online. The service publishes it on every connection to the broker, and the broker replaces it
// with the service's last will (offline) when that connection dies: so this tells whether the service
// runs AND reaches the broker, which a running process alone does not. Reads the service's own
// configuration and credentials; never sets a will, so it cannot mark the service offline.
//
//   node deploy/nocturne/healthcheck.js [/etc/nocturne/site.yaml]     exit 0 healthy, 1 not (reason on stderr)
const path = require('node:path');
const mqtt = require('mqtt');

const dist = path.join(__dirname, '..', '..', 'dist');
const { loadConfig } = require(path.join(dist, 'config', 'load.js'));
const { silentLogger } = require(path.join(dist, 'core', 'logger.js'));
const { clientOptions, coerceMqttConnectionOptions, displayUrl, readConnectionSecrets } = require(
  path.join(dist, 'drivers', 'mqtt', 'options.js'),
);

const TIMEOUT_MS = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? 5000);

function check(file) {
  const config = loadConfig(file);
  const options = coerceMqttConnectionOptions({
    config: config.mqtt,
    instance: config.service.instance,
    sharedBroker: config.cluster?.etcd !== undefined,
    configDir: path.dirname(path.resolve(file)),
    logger: silentLogger,
    connectTimeoutMs: TIMEOUT_MS,
  });
  const { will: _will, ...settings } = clientOptions(options, readConnectionSecrets(options));
  return new Promise((resolve) => {
    const client = mqtt.connect(options.url, {
      ...settings,
      clientId: `${options.clientId}-healthcheck-${process.pid}`,
      clean: true,
      reconnectPeriod: 0,
    });
    let timer;
    const done = (healthy, reason) => {
      clearTimeout(timer);
      client.end(true);
      if (!healthy) process.stderr.write(`unhealthy: ${reason}\n`);
      resolve(healthy ? 0 : 1);
    };
    timer = setTimeout(
      () =>
        done(
          false,
          `no state on ${options.stateTopic} from ${displayUrl(options.url)} within ${TIMEOUT_MS} ms`,
        ),
      TIMEOUT_MS,
    );
    client.on('error', (error) => done(false, `${displayUrl(options.url)}: ${error.message}`));
    client.on('connect', () =>
      client.subscribe(options.stateTopic, { qos: 0 }, (error, granted) => {
        if (error || granted?.[0]?.qos === 128)
          done(
            false,
            `cannot read ${options.stateTopic}: ${error ? error.message : 'refused by the broker'}`,
          );
      }),
    );
    client.on('message', (_topic, payload) => {
      let state;
      try {
        state = JSON.parse(payload.toString()).state;
      } catch {
        state = undefined;
      }
      done(state === 'online', `${options.stateTopic} says ${payload.toString()}`);
    });
  });
}

check(process.argv[2] ?? '/etc/nocturne/site.yaml').then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`unhealthy: ${error.message}\n`);
    process.exitCode = 1;
  },
);
