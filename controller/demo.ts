import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load';
import { DEMO_CONFIG, PROJECT_ROOT } from '../config/paths';
import { DEMO_USERS } from '../config/demoTerritory';
import { runService } from './main';

const SIMULATORS_ENTRY = path.join(PROJECT_ROOT, 'dist', 'simulators', 'main.js');

/**
 * The demo: the simulators in their own process (as real devices would be), then the service with its
 * embedded MQTT broker in this one. Ctrl-C stops both.
 */
export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', default: DEMO_CONFIG },
      'presence-rate': { type: 'string', default: '2' },
      'control-port': { type: 'string', default: '8081' },
    },
  });
  const file = values.config;
  const config = loadConfig(file);
  mkdirSync(config.service.state_dir, { recursive: true });
  const simulatorLog = path.join(config.service.state_dir, 'simulators.log');

  const simulators = spawn(
    process.execPath,
    [
      SIMULATORS_ENTRY,
      file,
      '--presence-rate',
      values['presence-rate'],
      '--control-port',
      values['control-port'],
      '--ignore-sigint',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  simulators.stderr.pipe(createWriteStream(simulatorLog, { flags: 'a' }));
  let ready: { modbus: number[]; opcua: number[]; control: number };
  try {
    ready = await readyLine(simulators);
  } catch (error) {
    process.stderr.write(
      `nocturne demo: the simulators did not start (${(error as Error).message}); see ${simulatorLog}\n`,
    );
    simulators.kill('SIGTERM');
    return 1;
  }

  const http = `http://${config.http.host}:${config.http.port}`;
  const mqtt = config.mqtt.url ?? `mqtt://${config.mqtt.embedded_host}:${config.mqtt.embedded_port}`;
  const tokens = DEMO_USERS.map(
    (u) => `    ${u.token.padEnd(22)} ${u.role.padEnd(17)} ${u.communes.join(', ')}`,
  ).join('\n');
  process.stdout.write(
    [
      '',
      'nocturne demo: Eurométropole de Metz, six pilot communes, simulated devices',
      `  console      ${http}/            (log in with a token below)`,
      `  API          ${http}/api/docs    (OpenAPI)`,
      `  MQTT         ${mqtt}   e.g. mosquitto_sub -h ${config.mqtt.embedded_host} -p ${config.mqtt.embedded_port} -t '${config.mqtt.base_topic}/#' -v`,
      `  simulators   ${ready.modbus.length} Modbus and ${ready.opcua.length} OPC UA servers; state and faults at http://127.0.0.1:${ready.control}/state (docs/simulators.md)`,
      `  logs         service below; simulators in ${simulatorLog}`,
      '  tokens:',
      tokens,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  const simulatorsExited = new Promise<number>((resolve) =>
    simulators.once('exit', (code) => resolve(code ?? 1)),
  );
  const code = await Promise.race([runService(file, { prettyLogs: true }), simulatorsExited.then(() => 1)]);
  // The devices stop after the service, which can then close its sessions with them cleanly.
  if (simulators.exitCode === null && simulators.signalCode === null) {
    simulators.kill('SIGTERM');
    await simulatorsExited;
  }
  return code;
}

function readyLine(child: ChildProcess): Promise<{ modbus: number[]; opcua: number[]; control: number }> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('no ready line within 60 s')), 60_000);
    lines.on('line', (line) => {
      try {
        const message = JSON.parse(line) as {
          ready?: boolean;
          modbus: number[];
          opcua: number[];
          control: number;
        };
        if (message.ready) {
          clearTimeout(timer);
          resolve(message);
        }
      } catch {
        // Only the ready line is JSON; anything else is ignored.
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with code ${code}`));
    });
  });
}
