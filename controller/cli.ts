import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CONFIG_DOC_FILE, SCHEMA_FILE, configDocText, schemaText } from '../config/exportSchema';
import { ConfigError, formatIssue } from '../config/issues';
import { loadConfig } from '../config/load';
import { DEMO_CONFIG } from '../config/paths';
import { PROFILE_LIBRARY } from '../config/profiles';
import { stringify } from 'yaml';
import { CLIENT_USAGE, runClientCommand } from './http/client';
import { EXPORT_USAGE, runExportCommand } from './http/exportCommand';
import { newToken } from './http/auth';
import { runAuditCommand } from './audit/exportCommand';
import { runDemo } from './demo';
import { runService } from './main';
import { summarize } from './summary';

const USAGE = `usage: nocturne <command> [options]

  start [config]      run the control service (default config: the demo territory)
  validate [config]   check a configuration: every error with file:line, or a one-line summary
  simulate [config]   run the device simulators for a configuration (see docs/simulators.md)
  demo                the demo territory: simulators, embedded MQTT broker and the service
  schema [--write]    print the configuration's JSON Schema; --write updates config/nocturne.schema.json and docs/config.md
  token <user-id>     a new random token for a user, and the token_sha256 line for the configuration
  audit export --user <id> [--format json|csv] [--config file] [--output file]
                      a person's own actions from the audit log (RGPD right of access)
  profiles [id]       the shipped device profiles (register maps of lighting gateways); with an id, its
                      register_maps entry to read or adapt (a site names it in lighting.map as it is)

${CLIENT_USAGE}${EXPORT_USAGE}`;

/** Returns the process exit code; long-running commands resolve when they have stopped. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'validate':
      return validate(rest[0] ?? DEMO_CONFIG);
    case 'start':
      return runService(rest[0] ?? DEMO_CONFIG);
    case 'simulate': {
      const { runSimulators } = await import('../simulators/main.js'); // loaded on demand: node-opcua is heavy
      return runSimulators(rest);
    }
    case 'demo':
      return runDemo(rest);
    case 'schema':
      return schema(rest);
    case 'token':
      return token(rest);
    case 'profiles':
      return profiles(rest);
    case 'audit':
      return runAuditCommand(rest, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
        writeFile: (file, text) => writeFileSync(file, text),
      });
    case 'relight':
    case 'clear':
    case 'status':
    case 'report':
    case 'user':
      return runClientCommand(command, rest, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
        env: process.env,
        readSecret,
      });
    case 'export':
      return runExportCommand(
        rest,
        {
          stdout: (text) => process.stdout.write(text),
          stderr: (text) => process.stderr.write(text),
          env: process.env,
        },
        process.stdout,
      );
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`nocturne: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

/** One line from stdin; on a terminal, with a prompt and without echo. */
async function readSecret(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const lines = createInterface({ input })[Symbol.asyncIterator]();
    const first = await lines.next();
    return first.done ? '' : first.value;
  }
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  let typed = '';
  try {
    for await (const chunk of input) {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n') return typed;
        if (char === '\u0003') throw new Error('cancelled');
        typed = char === '\u007f' ? typed.slice(0, -1) : typed + char;
      }
    }
    return typed;
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stderr.write('\n');
  }
}

function validate(file: string): number {
  try {
    const config = loadConfig(file);
    process.stdout.write(`${file}: valid: ${summarize(config)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) process.stderr.write(`${formatIssue(issue)}\n`);
    process.stderr.write(`${file}: ${error.issues.length} error${error.issues.length === 1 ? '' : 's'}\n`);
    return 1;
  }
}

/** Prints a new token once; only its hash goes into the configuration. */
function token(args: string[]): number {
  const [user] = args;
  if (args.length !== 1 || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(user)) {
    process.stderr.write('usage: nocturne token <user-id>   (the id of the users[] entry, lowercase)\n');
    return 2;
  }
  const { token: secret, sha256 } = newToken();
  process.stdout.write(
    [
      `token for '${user}' (shown once: hand it over by a safe channel, it cannot be recovered):`,
      `  ${secret}`,
      `configuration, in the users[] entry with id: ${user}:`,
      `    token_sha256: ${sha256}`,
      '',
    ].join('\n'),
  );
  return 0;
}

function schema(args: string[]): number {
  const { values } = parseArgs({ args, options: { write: { type: 'boolean', default: false } } });
  if (!values.write) {
    process.stdout.write(schemaText());
    return 0;
  }
  writeFileSync(SCHEMA_FILE, schemaText());
  writeFileSync(CONFIG_DOC_FILE, configDocText());
  process.stdout.write(`wrote ${SCHEMA_FILE} and ${CONFIG_DOC_FILE}\n`);
  return 0;
}

/** Lists the shipped profiles, or prints one as the register_maps entry it is. */
function profiles(args: string[]): number {
  const [id] = args;
  if (id === undefined) {
    for (const profile of PROFILE_LIBRARY)
      process.stdout.write(`${profile.id}\n    ${profile.description}\n    source: ${profile.source}\n`);
    return 0;
  }
  const profile = PROFILE_LIBRARY.find((p) => p.id === id);
  if (!profile) {
    process.stderr.write(
      `nocturne profiles: no shipped profile '${id}' (shipped: ${PROFILE_LIBRARY.map((p) => p.id).join(', ')})\n`,
    );
    return 1;
  }
  process.stdout.write(stringify({ register_maps: [profile] }, { flow: false }));
  return 0;
}
