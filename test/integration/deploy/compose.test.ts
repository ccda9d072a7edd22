import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../../config/load';
import {
  CLUSTER_SITE_FILE,
  COMPOSE_SERVICES,
  ETCD_MEMBERS,
  SECRET_ENV,
  SITE_FILE,
  composeClusterSiteConfig,
  composeSiteConfig,
} from '../../../deploy/nocturne/siteConfig';

// The compose stack as Debian's docker-compose 1.29 reads it (`config` needs no Docker engine), the files it
// mounts, the image it builds and the configuration nocturne runs with in it.

const ROOT = path.join(__dirname, '..', '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const CLUSTER_FILE = path.join(ROOT, 'docker-compose.cluster.yml');
const ENV_EXAMPLE = path.join(ROOT, '.env.example');
const INIT_ENV = path.join(ROOT, 'deploy', 'init-env.sh');
const EXPECTED_SERVICES = ['grafana', 'influxdb', 'mosquitto', 'nocturne', 'simulators'];

interface ComposeService {
  build?: string | { context: string; dockerfile?: string };
  image?: string;
  command?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: (string | { type: string; source: string; target: string })[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
interface ComposeConfig {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}
interface Mount {
  source: string;
  target: string;
  bind: boolean;
}

let dir: string;
let envFile: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'nocturne-compose-'));
  const init = spawnSync('sh', [INIT_ENV, dir], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`init-env.sh failed: ${init.stderr}`);
  envFile = path.join(dir, '.env');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function compose(
  env: string,
  args: string[],
  files: string[] = [COMPOSE_FILE],
): { status: number | null; stdout: string; stderr: string } {
  // Nothing from the test's own environment: compose sees only the env file.
  const result = spawnSync(
    'docker-compose',
    ['--project-directory', ROOT, '--env-file', env, ...files.flatMap((file) => ['-f', file]), ...args],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
  );
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const resolved = new Map<string, ComposeConfig>();

/** The stack with every profile, as compose resolves it (variables, paths, defaults). */
function resolvedConfig(files: string[] = [COMPOSE_FILE]): ComposeConfig {
  const key = files.join(' ');
  const known = resolved.get(key);
  if (known) return known;
  const result = compose(envFile, ['--profile', 'demo', 'config'], files);
  if (result.status !== 0) throw new Error(`docker-compose config: ${result.stderr}`);
  const config = parseYaml(result.stdout) as ComposeConfig;
  resolved.set(key, config);
  return config;
}

/** The two instances on etcd: docker-compose.yml with docker-compose.cluster.yml over it. */
const CLUSTER_FILES = [COMPOSE_FILE, CLUSTER_FILE];

function mounts(service: ComposeService): Mount[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string')
      return { source: volume.source, target: volume.target, bind: volume.type === 'bind' };
    const [source, target] = volume.split(':');
    return { source, target, bind: source.startsWith('/') || source.startsWith('.') };
  });
}

function envExampleKeys(): string[] {
  return readFileSync(ENV_EXAMPLE, 'utf8')
    .split('\n')
    .map((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((key): key is string => key !== undefined);
}

function readEnv(file: string): Map<string, string> {
  return new Map(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
}

describe('.env', () => {
  test('.env.example holds no secret: compose refuses it until the secrets are set', () => {
    const secrets = [...readEnv(ENV_EXAMPLE)].filter(([, value]) => value === '').map(([key]) => key);
    expect(secrets).toEqual(
      expect.arrayContaining(['INFLUX_ADMIN_TOKEN', 'GRAFANA_ADMIN_PASSWORD', 'MQTT_PASSWORD_NOCTURNE']),
    );
    const result = compose(ENV_EXAMPLE, ['config', '-q']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/set (\w+) in \.env \(sh deploy\/init-env\.sh\)/);
  });

  test('init-env.sh fills every secret, private to its owner, and never overwrites', () => {
    const env = readEnv(envFile);
    expect([...env.keys()]).toEqual(envExampleKeys());
    const example = readEnv(ENV_EXAMPLE);
    for (const [key, value] of example) {
      if (value !== '') expect({ key, value: env.get(key) }).toEqual({ key, value });
      else expect({ key, length: env.get(key)!.length }).toEqual({ key, length: 48 });
    }
    // First start: nocturne and Grafana use the admin token; the others differ from each other.
    expect(env.get('INFLUX_WRITE_TOKEN')).toBe(env.get('INFLUX_ADMIN_TOKEN'));
    expect(env.get('INFLUX_READ_TOKEN')).toBe(env.get('INFLUX_ADMIN_TOKEN'));
    const others = [...example].filter(([k, v]) => v === '' && !/^INFLUX_(WRITE|READ)_TOKEN$/.test(k));
    expect(new Set(others.map(([k]) => env.get(k))).size).toBe(others.length);
    expect(statSync(envFile).mode & 0o077).toBe(0);
    const again = spawnSync('sh', [INIT_ENV, dir], { encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('exists');
  });

  test('every variable the compose files read is in .env.example, and every one there is read', () => {
    const text = [COMPOSE_FILE, CLUSTER_FILE].map((file) => readFileSync(file, 'utf8')).join('\n');
    const used = new Set([...text.matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]));
    // Compose itself reads COMPOSE_PROJECT_NAME from .env.
    const listed = envExampleKeys().filter((key) => key !== 'COMPOSE_PROJECT_NAME');
    expect([...used].sort()).toEqual([...listed].sort());
  });
});

describe('docker-compose.yml, as docker-compose 1.29 reads it', () => {
  test('config -q accepts it, without and with the demo profile', () => {
    for (const args of [
      ['config', '-q'],
      ['--profile', 'demo', 'config', '-q'],
    ]) {
      const result = compose(envFile, args);
      expect({ args, status: result.status, stderr: result.stderr }).toEqual({ args, status: 0, stderr: '' });
    }
  });

  test('InfluxDB creates its bucket with the retention of .env (3 years unless set), as documented', () => {
    expect(resolvedConfig().services.influxdb.environment).toMatchObject({
      DOCKER_INFLUXDB_INIT_BUCKET: 'nocturne',
      DOCKER_INFLUXDB_INIT_RETENTION: '156w',
    });
    const doc = readFileSync(path.join(ROOT, 'docs', 'telemetry-storage.md'), 'utf8');
    expect(doc).toContain('INFLUX_RETENTION');
    expect(doc).toContain('156w');
  });

  test('the services; the simulators only in the demo profile', () => {
    const config = resolvedConfig();
    expect(Object.keys(config.services).sort()).toEqual(EXPECTED_SERVICES);
    expect(config.services.simulators.profiles).toEqual(['demo']);
    for (const name of EXPECTED_SERVICES.filter((s) => s !== 'simulators'))
      expect({ name, profiles: config.services[name].profiles }).toEqual({ name, profiles: undefined });
  });

  test('every service has a health check, and waits for the health of what it depends on', () => {
    const { services } = resolvedConfig();
    for (const [name, service] of Object.entries(resolvedConfig(CLUSTER_FILES).services)) {
      expect({ name, checked: (service.healthcheck?.test?.length ?? 0) > 0 }).toEqual({
        name,
        checked: true,
      });
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect({ name, dependency, condition }).toEqual({ name, dependency, condition: 'service_healthy' });
        // A service of a profile can only be a dependency of services of that profile.
        expect(service.profiles ?? []).toEqual(
          expect.arrayContaining(resolvedConfig(CLUSTER_FILES).services[dependency].profiles ?? []),
        );
      }
    }
    expect(Object.keys(services.nocturne.depends_on ?? {}).sort()).toEqual(['influxdb', 'mosquitto']);
    expect(Object.keys(services.grafana.depends_on ?? {})).toEqual(['influxdb']);
  });

  test('state lives in named volumes, and every mounted host path exists', () => {
    const config = resolvedConfig();
    const declared = Object.keys(config.volumes ?? {});
    const stateful: Record<string, string> = {
      nocturne: '/var/lib/nocturne',
      influxdb: '/var/lib/influxdb2',
      grafana: '/var/lib/grafana',
      mosquitto: '/mosquitto/data',
    };
    for (const [name, service] of Object.entries(config.services)) {
      for (const mount of mounts(service)) {
        if (mount.bind)
          expect({ name, source: mount.source, exists: existsSync(mount.source) }).toEqual({
            name,
            source: mount.source,
            exists: true,
          });
        else expect(declared).toContain(mount.source);
      }
      if (stateful[name]) {
        const state = mounts(service).find((m) => m.target === stateful[name]);
        expect({ name, named: state?.bind === false }).toEqual({ name, named: true });
      }
    }
  });

  test('Grafana mounts exactly the provisioning folders that exist, and the dashboards where the provider reads them', () => {
    const grafanaDir = path.join(ROOT, 'grafana');
    const grafanaMounts = mounts(resolvedConfig().services.grafana).filter((m) => m.bind);
    // Every folder of grafana/provisioning is in the container under /etc/grafana/provisioning.
    const provisioning = path.join(grafanaDir, 'provisioning');
    const folders = readdirSync(provisioning).filter((f) =>
      statSync(path.join(provisioning, f)).isDirectory(),
    );
    expect(folders.sort()).toEqual(['dashboards', 'datasources']);
    const inContainer = (host: string): string | undefined => {
      for (const mount of grafanaMounts) {
        const relative = path.relative(mount.source, host);
        if (!relative.startsWith('..') && !path.isAbsolute(relative))
          return path.posix.join(mount.target, relative);
      }
      return undefined;
    };
    for (const folder of folders)
      expect({ folder, at: inContainer(path.join(provisioning, folder)) }).toEqual({
        folder,
        at: `/etc/grafana/provisioning/${folder}`,
      });
    // The dashboard provider reads the dashboards where grafana/dashboards is mounted.
    const providerFile = path.join(provisioning, 'dashboards', 'nocturne.yaml');
    const provider = (
      parseYaml(readFileSync(providerFile, 'utf8')) as { providers: { options: { path: string } }[] }
    ).providers[0];
    expect(inContainer(path.join(grafanaDir, 'dashboards'))).toBe(provider.options.path);
    // Nothing else of grafana/ is mounted, and nothing outside it.
    expect(grafanaMounts.map((m) => path.relative(grafanaDir, m.source)).sort()).toEqual([
      'dashboards',
      'provisioning',
    ]);
  });

  test('the variables the datasource provisioning reads are set in the Grafana container', () => {
    const environment = resolvedConfig().services.grafana.environment ?? {};
    const file = path.join(ROOT, 'grafana', 'provisioning', 'datasources', 'influxdb.yaml');
    const names = [...readFileSync(file, 'utf8').matchAll(/^[^#]*?\$\{?([A-Z][A-Z0-9_]*)/gm)].map(
      (m) => m[1],
    );
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect({ name, set: Boolean(environment[name]) }).toEqual({ name, set: true });
    expect(environment.INFLUX_URL).toBe(`http://${COMPOSE_SERVICES.influx}:8086`);
  });

  test('nocturne and the simulators run the image built here with site.yaml and its secrets', () => {
    const { services } = resolvedConfig();
    for (const name of ['nocturne', 'simulators']) {
      const service = services[name];
      const context = typeof service.build === 'string' ? service.build : service.build?.context;
      expect({ name, context, image: service.image }).toEqual({
        name,
        context: ROOT,
        image: 'nocturne:local',
      });
      expect(mounts(service)).toContainEqual({
        source: SITE_FILE,
        target: '/etc/nocturne/site.yaml',
        bind: true,
      });
      for (const variable of Object.values(SECRET_ENV))
        expect({ name, variable, set: Boolean(service.environment?.[variable]) }).toEqual({
          name,
          variable,
          set: true,
        });
    }
    expect(services.nocturne.command).toEqual([
      'node',
      'bin/nocturne.js',
      'start',
      '/etc/nocturne/site.yaml',
    ]);
    expect(services.simulators.command?.slice(0, 4)).toEqual([
      'node',
      'bin/nocturne.js',
      'simulate',
      '/etc/nocturne/site.yaml',
    ]);
    // The simulated sensors publish with the sensors' gateway account, not the service's.
    expect(services.simulators.environment?.NOCTURNE_MQTT_USERNAME).toBe('sensors');
  });

  test('mosquitto gets a password for every user of the ACL, and only for them', () => {
    const environment = resolvedConfig().services.mosquitto.environment ?? {};
    const users = Object.keys(environment)
      .filter((key) => key.startsWith('MQTT_PASSWORD_'))
      .map((key) => key.slice('MQTT_PASSWORD_'.length).toLowerCase().replaceAll('_', '-'));
    const aclUsers = [
      ...readFileSync(path.join(ROOT, 'deploy', 'mosquitto', 'acl'), 'utf8').matchAll(/^user (\S+)$/gm),
    ].map((m) => m[1]);
    expect(users.sort()).toEqual(aclUsers.sort());
  });
});

describe('the image', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);

  test('two stages on node:24-slim; the runtime has production dependencies only and runs as a user', () => {
    expect(stages.map((s) => s.split('\n')[0])).toEqual(['node:24-slim AS build', 'node:24-slim AS runtime']);
    const [build, runtime] = stages;
    expect(build).toMatch(/^RUN npm ci$/m);
    expect(build).toMatch(/^RUN npx tsc -p tsconfig.json$/m);
    expect(runtime).toMatch(/^RUN npm ci --omit=dev/m);
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    const user = /^USER (\S+)$/m.exec(runtime);
    expect(user?.[1]).toBeDefined();
    expect(user?.[1]).not.toMatch(/^(root|0)$/);
    expect(runtime.indexOf('USER')).toBeLessThan(runtime.indexOf('CMD'));
  });

  test('its command and the health check compose runs are in it', () => {
    const { services } = resolvedConfig();
    const cmd = /^CMD (.+)$/m.exec(stages[1])?.[1];
    expect(JSON.parse(cmd!)).toEqual(services.nocturne.command);
    const script = services.nocturne.healthcheck!.test[2];
    expect(stages[1]).toContain(`COPY ${script} ./${script}`);
    expect(existsSync(path.join(ROOT, script))).toBe(true);
  });

  test('what it copies is in the build context, and the sources it compiles import nothing left out', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    const isIgnored = (file: string): boolean =>
      ignored.some((pattern) => file === pattern || file.startsWith(`${pattern}/`));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1].split(' '));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources)
      expect({ source, exists: existsSync(path.join(ROOT, source)), ignored: isIgnored(source) }).toEqual({
        source,
        exists: true,
        ignored: false,
      });
    const compiled = sources.filter((s) => statSync(path.join(ROOT, s)).isDirectory());
    const outside: string[] = [];
    const walk = (dirName: string): void => {
      for (const entry of readdirSync(path.join(ROOT, dirName), { withFileTypes: true })) {
        const relative = path.join(dirName, entry.name);
        if (entry.isDirectory()) walk(relative);
        else if (entry.name.endsWith('.ts'))
          for (const [, specifier] of readFileSync(path.join(ROOT, relative), 'utf8').matchAll(
            /from '(\.[^']+)'/g,
          )) {
            const target = path.relative(ROOT, path.resolve(ROOT, dirName, specifier));
            if (!compiled.some((d) => target === d || target.startsWith(`${d}/`)))
              outside.push(`${relative} → ${target}`);
          }
      }
    };
    compiled.forEach(walk);
    expect(outside).toEqual([]);
  });

  test('.dockerignore keeps secrets and local builds out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.env.*', 'node_modules', 'dist', '.git']));
  });
});

describe('deploy/nocturne/site.yaml', () => {
  test('is the generated one, up to date with the territory', () => {
    const committed = parseYaml(readFileSync(SITE_FILE, 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(composeSiteConfig())));
  });

  test('is valid once its secrets are in the environment, and names only compose services', () => {
    const env = { [SECRET_ENV.mqttPassword]: 'x', [SECRET_ENV.influxToken]: 'y' };
    const config = loadConfig(SITE_FILE, { env });
    expect(new URL(config.mqtt.url!).hostname).toBe(COMPOSE_SERVICES.mqtt);
    expect(new URL(config.influx!.url).hostname).toBe(COMPOSE_SERVICES.influx);
    // MQTT sources without a broker of their own read from the service's broker, checked above.
    const hosts = new Set(
      config.devices
        .filter((d) => d.protocol !== 'mqtt' || d.broker)
        .map((d) =>
          d.protocol === 'opcua'
            ? new URL(d.endpoint).hostname
            : d.protocol === 'mqtt'
              ? new URL(d.broker!.url).hostname
              : 'host' in d
                ? d.host
                : '',
        ),
    );
    expect([...hosts]).toEqual([COMPOSE_SERVICES.devices]);
    const { services } = resolvedConfig();
    for (const name of Object.values(COMPOSE_SERVICES)) expect(Object.keys(services)).toContain(name);
    expect(() => loadConfig(SITE_FILE, { env: {} })).toThrow(/MQTT_PASSWORD is not set/);
  });
});

describe('docker-compose.cluster.yml: two instances on a three-member etcd', () => {
  const INSTANCES = { nocturne: 'nocturne-a', 'nocturne-standby': 'nocturne-b' } as const;

  test('config -q accepts it over docker-compose.yml, without and with the demo profile', () => {
    for (const args of [
      ['config', '-q'],
      ['--profile', 'demo', 'config', '-q'],
    ]) {
      const result = compose(envFile, args, CLUSTER_FILES);
      expect({ args, status: result.status, stderr: result.stderr }).toEqual({ args, status: 0, stderr: '' });
    }
  });

  test('three etcd members that list each other, each with its own data volume', () => {
    const { services, volumes } = resolvedConfig(CLUSTER_FILES);
    const expectedCluster = ETCD_MEMBERS.map((m) => `${m}=http://${m}:2380`).join(',');
    const dataVolumes = new Set<string>();
    for (const member of ETCD_MEMBERS) {
      const environment = services[member]?.environment ?? {};
      expect(environment).toMatchObject({
        ETCD_NAME: member,
        ETCD_INITIAL_CLUSTER: expectedCluster,
        ETCD_INITIAL_CLUSTER_STATE: 'new',
        ETCD_ADVERTISE_CLIENT_URLS: `http://${member}:2379`,
        ETCD_INITIAL_ADVERTISE_PEER_URLS: `http://${member}:2380`,
      });
      const data = mounts(services[member]).find((m) => m.target === environment.ETCD_DATA_DIR);
      expect({ member, bind: data?.bind }).toEqual({ member, bind: false });
      dataVolumes.add(data!.source);
    }
    expect(dataVolumes.size).toBe(ETCD_MEMBERS.length);
    for (const volume of dataVolumes) expect(Object.keys(volumes ?? {})).toContain(volume);
  });

  test('both instances run site-cluster.yaml under their own name, address and state, after every member is healthy', () => {
    const { services } = resolvedConfig(CLUSTER_FILES);
    const states = new Set<string>();
    for (const [name, instance] of Object.entries(INSTANCES)) {
      const service = services[name];
      expect({ name, command: service.command }).toEqual({
        name,
        command: ['node', 'bin/nocturne.js', 'start', '/etc/nocturne/site.yaml'],
      });
      expect(mounts(service)).toContainEqual({
        source: CLUSTER_SITE_FILE,
        target: '/etc/nocturne/site.yaml',
        bind: true,
      });
      // The same secrets and InfluxDB settings as the first instance; its own name and address.
      expect(service.environment).toEqual({
        ...services.nocturne.environment,
        NOCTURNE_SERVICE_INSTANCE: instance,
        NOCTURNE_HTTP_HOST: name,
      });
      const state = mounts(service).find((m) => m.target === '/var/lib/nocturne');
      expect({ name, bind: state?.bind }).toEqual({ name, bind: false });
      states.add(state!.source);
      expect(Object.keys(service.depends_on ?? {}).sort()).toEqual(
        [...ETCD_MEMBERS, 'influxdb', 'mosquitto'].sort(),
      );
    }
    expect(states.size).toBe(2);
  });

  test('site-cluster.yaml is site.yaml with the members, up to date, and valid in each container', () => {
    const committed = parseYaml(readFileSync(CLUSTER_SITE_FILE, 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(composeClusterSiteConfig())));
    const { services } = resolvedConfig(CLUSTER_FILES);
    for (const name of Object.keys(INSTANCES)) {
      const { MQTT_PASSWORD, INFLUX_TOKEN, NOCTURNE_SERVICE_INSTANCE, NOCTURNE_HTTP_HOST } =
        services[name].environment ?? {};
      const config = loadConfig(CLUSTER_SITE_FILE, {
        env: { MQTT_PASSWORD, INFLUX_TOKEN, NOCTURNE_SERVICE_INSTANCE, NOCTURNE_HTTP_HOST },
      });
      expect(config.cluster?.etcd?.endpoints).toEqual(ETCD_MEMBERS.map((m) => `http://${m}:2379`));
      expect({ instance: config.service.instance, host: config.http.host }).toEqual({
        instance: NOCTURNE_SERVICE_INSTANCE,
        host: name,
      });
      expect(config.devices).toEqual(loadConfig(SITE_FILE, { env: { MQTT_PASSWORD, INFLUX_TOKEN } }).devices);
    }
  });
});
