import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { SegmentFarm } from '../../../bench/support/segmentFarm';
import { buildTerritory } from '../../../config/demoTerritory';
import { toYaml } from '../../../config/generateDemo';
import { parseConfig } from '../../../config/load';
import type { Config, ConfigInput } from '../../../config/schema';
import { systemClock } from '../../../core/clock';
import { startEtcdCluster, type EtcdCluster } from '../../helpers/etcd';
import { logged } from '../../helpers/instancePair';
import { startMosquitto, type Mosquitto } from '../../helpers/mosquitto';
import { freePorts } from '../../helpers/ports';
import { killProcess, startServiceProcess, type ServiceProcess } from '../../helpers/serviceProcess';
import { eventually } from '../lighting/harness';

/**
 * Shards by commune on a real three-member etcd cluster and a real mosquitto: four communes, one
 * simulated Modbus segment controller each; shard 'nord' (Metz, Woippy) has a leader and a standby,
 * shard 'sud' (Montigny-lès-Metz, Marly) one instance. Each instance is its own process.
 */

const SCHEDULE_LEVEL = 20;
const RELIGHT_LEVEL = 90;
const SHARDS = [
  { name: 'nord', communes: ['metz', 'woippy'] },
  { name: 'sud', communes: ['montigny-les-metz', 'marly'] },
];
const TOKEN = 'shards-test-token-of-the-dispatch-centre';
const ADMIN_TOKEN = 'shards-test-token-of-the-administrator';
const INSTANCES = ['nord-a', 'nord-b', 'sud-a'] as const;
type Instance = (typeof INSTANCES)[number];

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('shards by commune', () => {
  let etcd: EtcdCluster;
  let broker: Mosquitto;
  let client: MqttClient;
  let dir: string;
  let territory: Config;
  const farm = new SegmentFarm(systemClock);
  const urls = {} as Record<Instance, string>;
  const running = {} as Partial<Record<Instance, ServiceProcess>>;

  beforeAll(async () => {
    [etcd, broker] = await Promise.all([startEtcdCluster(), startMosquitto()]);
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-shards-'));
    const ports = await freePorts(4 + INSTANCES.length);
    for (const [i, name] of INSTANCES.entries()) {
      const input = buildTerritory({
        communes: 4,
        modbusControllers: 4,
        opcuaControllers: 0,
        luminairesPerController: 8,
        zonesPerController: 2,
        presenceSensorsPerZone: 1,
        buildings: false,
        alerts: false,
        modbusPorts: ports.slice(0, 4),
        opcuaPorts: [],
        mqttUrl: broker.url,
        httpPort: ports[4 + i],
        stateDir: path.join(dir, name),
      });
      // The same level all day, so that what the devices get does not depend on the hour.
      input.programs = [{ id: 'constant', steps: [{ at: '12:00', level: SCHEDULE_LEVEL }] }];
      input.calendars = (input.calendars ?? []).map((c) => ({ id: c.id, default: 'constant', rules: [] }));
      input.users = [
        { id: 'cta-57', role: 'emergency', communes: ['*'], token_sha256: sha256(TOKEN) },
        { id: 'admin', role: 'admin', communes: ['*'], token_sha256: sha256(ADMIN_TOKEN) },
      ] as ConfigInput['users'];
      input.service = { ...input.service, log_level: 'info', instance: name };
      input.mqtt = { ...input.mqtt, client_id: `${name}-${process.pid}` };
      input.cluster = {
        etcd: {
          endpoints: etcd.endpoints,
          shard: name.slice(0, name.indexOf('-')),
          key_prefix: 'shards-test/',
          lease_ttl_s: 2,
          safety_margin_ms: 300,
        },
        shards: SHARDS,
      };
      const yaml = toYaml(input);
      const file = path.join(dir, `${name}.yaml`);
      await writeFile(file, yaml);
      territory = parseConfig(yaml, file);
      urls[name] = `http://127.0.0.1:${ports[4 + i]}`;
    }
    await farm.start(territory);
    client = await connectAsync(broker.url, { clientId: `sensors-${process.pid}` });
    for (const name of INSTANCES) running[name] = startServiceProcess(path.join(dir, `${name}.yaml`));
    await Promise.all([
      logged(running['nord-a']!, 'cluster: leading the shard'),
      logged(running['sud-a']!, 'cluster: leading the shard'),
    ]).catch(async () => {
      // nord-b may have won the race for 'nord': the roles are then swapped, nothing else changes.
      await logged(running['nord-b']!, 'cluster: leading the shard');
    });
    await eventually(
      () => INSTANCES.map((name) => running[name]!.output.join('')),
      (outputs) => outputs.filter((o) => o.includes('cluster: leading the shard')).length === 2,
      { what: 'a leader for each shard', timeoutMs: 15_000 },
    );
    await eventually(
      () => levels(territory.devices.map((d) => d.id)),
      (all) => all.every((level) => level === SCHEDULE_LEVEL),
      { what: 'schedule levels on every controller', timeoutMs: 15_000 },
    );
  }, 60_000);

  afterAll(async () => {
    await client?.endAsync();
    await Promise.all(INSTANCES.map((name) => killProcess(running[name], 'SIGKILL')));
    await farm.stop();
    await broker?.stop();
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The instance of shard 'nord' that leads it, and the one that stands by. */
  function nord(): { leader: Instance; standby: Instance } {
    const leads = running['nord-a']!.output.join('').includes('cluster: leading the shard');
    return leads ? { leader: 'nord-a', standby: 'nord-b' } : { leader: 'nord-b', standby: 'nord-a' };
  }

  function controllersOf(communes: string[]): string[] {
    return territory.devices.filter((d) => communes.includes(d.commune ?? '')).map((d) => d.id);
  }

  /** Levels in effect on every channel of these controllers. */
  function levels(devices: string[]): number[] {
    return devices.flatMap((id) =>
      farm
        .controller(id)
        .allChannels()
        .map((c) => c.inEffect),
    );
  }

  async function call(
    instance: Instance,
    method: string,
    url: string,
    body?: unknown,
    token = TOKEN,
  ): Promise<{
    status: number;
    body: { error?: string; message?: string; record?: { id: string }; progress?: { done: boolean } };
  }> {
    const response = await fetch(`${urls[instance]}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as never };
  }

  const relight = (instance: Instance, target: object, id: string): ReturnType<typeof call> =>
    call(instance, 'POST', '/api/relights?waitMs=10000', {
      id,
      target,
      level: RELIGHT_LEVEL,
      reason: 'incendie',
    });

  it('a relight for a commune of the other shard, sent to the wrong instance, is forwarded and confirmed at its devices', async () => {
    const answer = await relight('sud-a', { commune: 'woippy' }, 'incendie-woippy');
    expect(answer.status).toBe(201);
    expect(answer.body.progress?.done).toBe(true);
    expect(levels(controllersOf(['woippy'])).every((level) => level === RELIGHT_LEVEL)).toBe(true);
    // Nothing else moved: not Metz (same shard), not the other shard's communes.
    expect(
      levels(controllersOf(['metz', 'montigny-les-metz', 'marly'])).every((l) => l === SCHEDULE_LEVEL),
    ).toBe(true);
    // Its progress, and the zones of the other shard, can be read from the instance that forwarded it.
    const progress = await call('sud-a', 'GET', '/api/commands/incendie-woippy/progress');
    expect(progress).toMatchObject({ status: 200, body: { done: true } });
    const woippyZone = territory.zones.find((z) => z.commune === 'woippy')!;
    expect(await call('sud-a', 'GET', `/api/zones/${woippyZone.id}`)).toMatchObject({
      status: 200,
      body: { id: woippyZone.id, commune: 'woippy' },
    });
    // Audited once, by the instance that owns the command.
    const audited = async (instance: Instance): Promise<unknown[]> => {
      const { body } = await call(instance, 'GET', '/api/audit?action=relight', undefined, ADMIN_TOKEN);
      return (body as unknown as { id?: string }[]).filter((e) => e.id === 'incendie-woippy');
    };
    expect(await audited(nord().leader)).toHaveLength(1);
    expect(await audited('sud-a')).toHaveLength(0);
  });

  it('a standby forwards to its own shard’s leader, a clear by id included', async () => {
    const zone = territory.zones.find((z) => z.commune === 'metz')!;
    const answer = await relight(nord().standby, { zone: zone.id }, 'incendie-metz');
    expect(answer.status).toBe(201);
    const devices = [...new Set(zone.luminaires.map((l) => l.device))];
    const channels = new Set(zone.luminaires.map((l) => l.channel));
    const zoneLevels = (): number[] =>
      devices.flatMap((id) =>
        farm
          .controller(id)
          .allChannels()
          .filter((c) => channels.has(c.channel))
          .map((c) => c.inEffect),
      );
    expect(zoneLevels().every((level) => level === RELIGHT_LEVEL)).toBe(true);
    const inForce = await call(nord().standby, 'GET', '/api/relights');
    expect(inForce.status).toBe(200);
    expect((inForce.body as unknown as { id: string }[]).map((r) => r.id).sort()).toEqual([
      'incendie-metz',
      'incendie-woippy',
    ]);
    // The clear names the relight by id only: sent to the other shard, it finds its owner.
    const cleared = await call('sud-a', 'DELETE', '/api/relights/incendie-metz');
    expect(cleared.status).toBe(200);
    await eventually(zoneLevels, (all) => all.every((level) => level === SCHEDULE_LEVEL), {
      what: 'the schedule back on the zone',
    });
  });

  it('presence published for a commune reaches its shard’s devices only, from its leader alone', async () => {
    const raise = async (commune: string): Promise<void> => {
      const sensor = territory.presence_sensors.find((s) => s.zone.startsWith(`${commune}-`))!;
      const payload =
        sensor.class_path === 'class'
          ? { class: 'pedestrian' }
          : { uplink_message: { decoded_payload: { class: 'pedestrian' } } };
      const devices = controllersOf([commune]);
      expect(levels(devices).every((level) => level === SCHEDULE_LEVEL)).toBe(true);
      await client.publishAsync(sensor.topic, JSON.stringify(payload));
      await eventually(
        () => levels(devices),
        (all) => all.some((level) => level === sensor.levels.pedestrian),
        { what: `the luminaires of ${commune}'s sensor raised` },
      );
    };
    // Marly is shard 'sud''s (one instance), Metz shard 'nord''s (a leader and a standby).
    farm.takeWrites();
    await raise('marly');
    await raise('metz');
    // Nothing else moved (Woippy is still relit from the first test).
    expect(levels(controllersOf(['montigny-les-metz'])).every((l) => l === SCHEDULE_LEVEL)).toBe(true);
    // Each controller was written by one connection only: its shard's leader, never the standby too.
    const writers = new Map<string, Set<number | undefined>>();
    for (const write of farm.takeWrites())
      writers.set(write.device, (writers.get(write.device) ?? new Set()).add(write.from));
    expect(writers.has(controllersOf(['metz'])[0])).toBe(true);
    for (const [device, ports] of writers)
      expect({ device, writers: ports.size }).toEqual({ device, writers: 1 });
  });

  it('an MQTT relight request for one shard’s commune is answered by that shard’s leader alone', async () => {
    const answers: { transaction?: string; status: string; error?: string }[] = [];
    const onMessage = (_topic: string, payload: Buffer): void => {
      answers.push(JSON.parse(payload.toString()) as (typeof answers)[number]);
    };
    client.on('message', onMessage);
    await client.subscribeAsync('nocturne/bridge/response/relight', { qos: 1 });
    const request = {
      transaction: 'shards-1',
      id: 'incendie-montigny',
      target: { commune: 'montigny-les-metz' },
      level: RELIGHT_LEVEL,
      reason: 'incendie',
      actor: 'cta-57',
    };
    await client.publishAsync('nocturne/bridge/request/relight', JSON.stringify(request), { qos: 1 });
    await eventually(
      () => levels(controllersOf(['montigny-les-metz'])),
      (all) => all.every((level) => level === RELIGHT_LEVEL),
      { what: 'Montigny relit' },
    );
    await eventually(
      () => answers.filter((a) => a.transaction === 'shards-1'),
      (mine) => mine.length > 0,
      { what: 'an answer' },
    );
    // The other shard's leader got the request too: it leaves it, so no second (refusing) answer comes.
    await logged(
      running[nord().leader]!,
      "MQTT relight request for another shard's communes left to its leader",
    );
    client.off('message', onMessage);
    expect(answers.filter((a) => a.transaction === 'shards-1')).toEqual([
      expect.objectContaining({ transaction: 'shards-1', status: 'ok' }),
    ]);
  });

  it('refuses a target over two shards', async () => {
    const across = await relight('sud-a', { all: true }, 'incendie-partout');
    expect(across).toEqual({
      status: 400,
      body: {
        error: 'invalid',
        message:
          'the target reaches communes of shards nord, sud: send one command per shard (by commune or zone)',
      },
    });
  });

  it('a program change goes to every shard’s leader, audited by each', async () => {
    const program = { id: 'constant', steps: [{ at: '12:00', level: 30 }] };
    // A refused change changes nothing anywhere: the first shard's answer comes back.
    const refused = await call(
      nord().standby,
      'PUT',
      '/api/programs/constant',
      { ...program, steps: [] },
      ADMIN_TOKEN,
    );
    expect(refused.status).toBe(400);
    const changed = await call(nord().standby, 'PUT', '/api/programs/constant', program, ADMIN_TOKEN);
    expect(changed.status).toBe(200);
    // Metz (shard 'nord') and Marly (shard 'sud') follow it, but where presence still holds a raise;
    // Woippy and Montigny are still relit.
    const onProgram = (device: string): boolean =>
      farm
        .controller(device)
        .allChannels()
        .some((c) => c.inEffect === 30);
    await eventually(
      () => controllersOf(['metz', 'marly']).filter(onProgram),
      (following) => following.length === 2,
      { what: 'the new program on both shards’ controllers', timeoutMs: 10_000 },
    );
    // Audited by each leader that made it (the refusal by the first only), not by the instance asked.
    const results = async (instance: Instance): Promise<string[]> => {
      const { body } = await call(instance, 'GET', '/api/audit?action=put-program', undefined, ADMIN_TOKEN);
      return (body as unknown as { result: string }[]).map((e) => e.result);
    };
    expect(await results(nord().leader)).toEqual(['ok', 'refused']);
    expect(await results('sud-a')).toEqual(['ok']);
    expect(await results(nord().standby)).toEqual([]);
  });

  it('a shard without a leader: a clear 503 naming it', async () => {
    await killProcess(running['sud-a'], 'SIGTERM');
    const answer = await relight(nord().leader, { commune: 'marly' }, 'incendie-marly');
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({
      error: 'unavailable',
      message: expect.stringContaining("no instance leads shard 'sud' now") as string,
    });
    // Its own shard still answers.
    expect((await relight(nord().standby, { commune: 'metz' }, 'incendie-metz-2')).status).toBe(201);
  });
});
