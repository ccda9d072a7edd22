import { distance } from 'fastest-levenshtein';
import { checkAlerts } from '../controller/telemetry/alerts/checks';
import { checkProgram } from '../controller/lighting/schedule';
import type { ConfigPath } from './issues';
import { CHANNEL_BLOCKS, DALI_GROUPS, SINGLE_REGISTERS, channelAddress, registerCount } from './registers';
import type { Config, DeviceConfig, MqttSourceDeviceConfig, PointConfig, RegisterMapConfig } from './schema';
import { compileTopicPattern, DEFAULT_TOPICS, SENSOR_CAPTURE } from '../drivers/mqtt/uplinks';
import { expandSensors, isLorawanSource, matchOf, RADIO_POINTS } from './sensors';
import { isLoopbackHost } from './loopback';
import { checkShards } from './clusterChecks';

export type Report = (path: ConfigPath, message: string) => void;

/**
 * Checks what a schema cannot: references between entries, uniqueness, and register overlaps. `expanded`
 * is the configuration with its sensors as sites (config/sensors.ts), when the caller has it already.
 */
export function crossCheck(config: Config, report: Report, expanded: Config = expandSensors(config)): void {
  const communes = uniqueIds(config.communes, ['communes'], 'commune', report);
  const registerMaps = uniqueIds(config.register_maps, ['register_maps'], 'register map', report);
  const nodeMaps = uniqueIds(config.node_maps, ['node_maps'], 'node map', report);
  const devices = uniqueIds(config.devices, ['devices'], 'device', report);
  const programs = uniqueIds(config.programs, ['programs'], 'program', report);
  const calendars = uniqueIds(config.calendars, ['calendars'], 'calendar', report);
  const zones = uniqueIds(config.zones, ['zones'], 'zone', report);
  uniqueIds(config.presence_sensors, ['presence_sensors'], 'presence sensor', report);
  uniqueIds(config.buildings, ['buildings'], 'building', report);
  uniqueIds(config.users, ['users'], 'user', report);
  uniqueIds(config.open_data.datasets, ['open_data', 'datasets'], 'open data set', report);

  const suggest = suggester();
  const need = (ids: Map<string, unknown>, id: string, path: ConfigPath, what: string): boolean => {
    if (ids.has(id)) return true;
    report(path, `unknown ${what} '${id}'${suggest(id, ids)}`);
    return false;
  };

  const { url, embedded_host: host, embedded_expose: expose } = config.mqtt;
  // Empty or absent (in a lenient view of a broken file) is the schema's to report.
  if (url === undefined && !expose && typeof host === 'string' && host !== '' && !isLoopbackHost(host)) {
    report(
      ['mqtt', 'embedded_host'],
      `the embedded broker has no authentication: on '${host}', not a loopback address (127.x.x.x, ::1, localhost), anyone who reaches it can publish commands; set embedded_expose: true to accept that, or give mqtt.url of a broker with authentication`,
    );
  }

  const tls = config.mqtt.tls;
  if (tls) {
    if (config.mqtt.url === undefined || !/^(mqtts|ssl|wss):/.test(config.mqtt.url)) {
      report(
        ['mqtt', 'tls'],
        `tls needs an mqtts://, ssl:// or wss:// url (url is ${config.mqtt.url === undefined ? 'absent: the embedded broker has no TLS' : `'${config.mqtt.url}'`})`,
      );
    }
    if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
      report(['mqtt', 'tls'], 'a client certificate needs both cert_file and key_file');
    }
  }

  config.devices.forEach((device, i) => {
    const path = ['devices', i];
    if (device.commune !== undefined) need(communes, device.commune, [...path, 'commune'], 'commune');
    if (
      device.protocol === 'opcua' &&
      (device.security.mode === 'None') !== (device.security.policy === 'None')
    ) {
      report(
        [...path, 'security'],
        `mode '${device.security.mode}' and policy '${device.security.policy}' do not go together: None goes only with None`,
      );
    }
    if (device.protocol === 'mqtt') checkMqttSource(device, path, report);
    if (!device.lighting) return;
    if (device.commune === undefined)
      report([...path, 'commune'], 'a segment controller must name its commune');
    const maps = device.protocol === 'opcua' ? nodeMaps : registerMaps;
    const kind =
      device.protocol === 'opcua'
        ? 'node map (node_maps)'
        : 'register map (register_maps, or a shipped profile: nocturne profiles)';
    if (need(maps, device.lighting.map, [...path, 'lighting', 'map'], kind) && device.protocol !== 'opcua')
      checkGroups(
        device.lighting,
        registerMaps.get(device.lighting.map)!,
        [...path, 'lighting', 'groups'],
        report,
      );
  });

  config.calendars.forEach((calendar, i) => {
    need(programs, calendar.default, ['calendars', i, 'default'], 'program');
    calendar.rules.forEach((rule, j) => {
      const path = ['calendars', i, 'rules', j];
      need(programs, rule.program, [...path, 'program'], 'program');
      const conditions = [rule.dates, rule.from, rule.to, rule.weekdays, rule.nth_weekday, rule.holidays];
      if (conditions.every((c) => c === undefined)) {
        report(path, 'a rule needs at least one of dates, from/to, weekdays, nth_weekday, holidays');
      }
      if ((rule.from === undefined) !== (rule.to === undefined)) {
        report(path, 'from and to go together');
      } else if (rule.from !== undefined && rule.to !== undefined && rule.from.length !== rule.to.length) {
        report(
          [...path, 'to'],
          `from and to must both be 'MM-DD' or both 'YYYY-MM-DD' (from is '${rule.from}')`,
        );
      }
    });
  });

  const luminaires = new Map<string, { zone: string; commune: string }>();
  const channelOwners = new Map<string, string>();
  config.zones.forEach((zone, i) => {
    need(communes, zone.commune, ['zones', i, 'commune'], 'commune');
    need(calendars, zone.calendar, ['zones', i, 'calendar'], 'calendar');
    zone.luminaires.forEach((lum, j) => {
      const path = ['zones', i, 'luminaires', j];
      if (luminaires.has(lum.id)) {
        report(
          [...path, 'id'],
          `duplicate luminaire id '${lum.id}' (already in zone '${luminaires.get(lum.id)!.zone}')`,
        );
      }
      luminaires.set(lum.id, { zone: zone.id, commune: zone.commune });
      const device = devices.get(lum.device);
      if (!need(devices, lum.device, [...path, 'device'], 'device')) return;
      if (!device?.lighting) {
        report(
          [...path, 'device'],
          `device '${lum.device}' is not a segment controller (it has no 'lighting' section)`,
        );
        return;
      }
      if (lum.channel > device.lighting.channels) {
        report(
          [...path, 'channel'],
          `must be at most ${device.lighting.channels}, the channels of '${lum.device}' (is ${lum.channel})`,
        );
      }
      if (device.commune !== undefined && device.commune !== zone.commune) {
        report(
          [...path, 'device'],
          `device '${lum.device}' belongs to commune '${device.commune}', zone '${zone.id}' to '${zone.commune}'`,
        );
      }
      const key = `${lum.device}#${lum.channel}`;
      const owner = channelOwners.get(key);
      if (owner !== undefined) {
        report(
          [...path, 'channel'],
          `channel ${lum.channel} of '${lum.device}' already drives luminaire '${owner}'`,
        );
      } else channelOwners.set(key, lum.id);
    });
  });
  config.zones.forEach((zone, i) =>
    zone.luminaires.forEach((lum, j) =>
      lum.neighbours?.forEach((n, k) =>
        need(luminaires, n, ['zones', i, 'luminaires', j, 'neighbours', k], 'luminaire'),
      ),
    ),
  );

  const topics = new Map<string, string>();
  config.presence_sensors.forEach((sensor, i) => {
    const path = ['presence_sensors', i];
    if (!need(zones, sensor.zone, [...path, 'zone'], 'zone')) return;
    const commune = zones.get(sensor.zone)!.commune;
    if ((sensor.at === undefined) === (sensor.luminaires === undefined)) {
      report(path, "give either 'at' (with ahead/behind) or 'luminaires', not both or neither");
    }
    const refs: [string, ConfigPath][] = (sensor.luminaires ?? []).map((id, k) => [
      id,
      [...path, 'luminaires', k],
    ]);
    if (sensor.at !== undefined) refs.push([sensor.at, [...path, 'at']]);
    for (const [id, refPath] of refs) {
      if (!need(luminaires, id, refPath, 'luminaire')) continue;
      const lum = luminaires.get(id)!;
      if (lum.commune !== commune)
        report(
          refPath,
          `luminaire '${id}' is in commune '${lum.commune}', the sensor's zone in '${commune}'`,
        );
    }
    const other = topics.get(sensor.topic);
    if (other !== undefined)
      report([...path, 'topic'], `topic '${sensor.topic}' is already used by sensor '${other}'`);
    else topics.set(sensor.topic, sensor.id);
  });

  config.open_data.datasets.forEach((dataset, i) =>
    dataset.communes.forEach((commune, j) =>
      need(communes, commune, ['open_data', 'datasets', i, 'communes', j], 'commune'),
    ),
  );

  const pointRefs = new Set<string>();
  const sensorNaming = new Map<string, { keys: string; at: string }>();
  config.buildings.forEach((building, i) => {
    need(communes, building.commune, ['buildings', i, 'commune'], 'commune');
    uniqueIds(building.points, ['buildings', i, 'points'], 'point', report);
    building.points.forEach((point, j) => {
      pointRefs.add(`${building.id}/${point.id}`);
      const path = ['buildings', i, 'points', j];
      if (!need(devices, point.device, [...path, 'device'], 'device')) return;
      const device = devices.get(point.device)!;
      const wanted = bindingOf(device.protocol);
      const given = BINDINGS.filter((k) => point[k] !== undefined);
      if (given.length !== 1) {
        report(path, `give exactly one binding: '${wanted}' for ${device.protocol} device '${device.id}'`);
      } else if (given[0] !== wanted) {
        report(
          [...path, given[0]],
          `device '${device.id}' speaks ${SPEAKS[wanted]}: bind the point with '${wanted}'`,
        );
      } else if (point.mqtt && device.protocol === 'mqtt') {
        checkMqttBinding(point.mqtt, device, [...path, 'mqtt'], report);
        const keys = Object.keys(point.mqtt.match).sort().join(', ');
        const first = sensorNaming.get(device.id);
        if (first === undefined) sensorNaming.set(device.id, { keys, at: `${building.id}/${point.id}` });
        else if (first.keys !== keys)
          report(
            [...path, 'mqtt', 'match'],
            `the points of device '${device.id}' name their sensor by the same captures: '${first.at}' uses ${first.keys || 'none'}, this one ${keys || 'none'}`,
          );
      }
      const bits = point.modbus && (point.modbus.table === 'coil' || point.modbus.table === 'discrete');
      if (point.modbus && bits !== (point.modbus.type === 'bool')) {
        report(
          [...path, 'modbus', 'type'],
          bits
            ? `a ${point.modbus.table} holds a bool (is '${point.modbus.type}')`
            : `bool is for coils and discrete inputs (table is '${point.modbus.table}')`,
        );
      }
    });
  });
  checkSensors(config, { communes, devices }, need, pointRefs, report);
  config.programs.forEach((program, i) => {
    for (const problem of checkProgram(program)) report(['programs', i, ...problem.path], problem.message);
    program.steps.forEach((step, j) => {
      if (step.lux && !pointRefs.has(step.lux.point)) {
        report(
          ['programs', i, 'steps', j, 'lux', 'point'],
          `unknown point '${step.lux.point}' (expected 'building/point')`,
        );
      }
    });
  });

  config.tariffs.forEach((tariff, i) => {
    if (tariff.commune !== undefined) need(communes, tariff.commune, ['tariffs', i, 'commune'], 'commune');
  });

  uniqueIds(config.evaluation.investments, ['evaluation', 'investments'], 'investment', report);
  config.evaluation.investments.forEach((investment, i) => {
    if (investment.commune !== undefined)
      need(communes, investment.commune, ['evaluation', 'investments', i, 'commune'], 'commune');
  });
  const evaluated = new Set<string>();
  config.evaluation.communes.forEach((choice, i) => {
    need(communes, choice.commune, ['evaluation', 'communes', i, 'commune'], 'commune');
    if (evaluated.has(choice.commune))
      report(['evaluation', 'communes', i, 'commune'], `commune '${choice.commune}' is listed twice`);
    evaluated.add(choice.commune);
  });

  config.users.forEach((user, i) =>
    user.communes.forEach((c, j) => {
      if (c !== '*') need(communes, c, ['users', i, 'communes', j], 'commune');
    }),
  );
  const hashes = new Map<string, string>();
  config.users.forEach((user, i) => {
    if (user.token_sha256 === undefined) return;
    const other = hashes.get(user.token_sha256);
    if (other !== undefined) report(['users', i, 'token_sha256'], `same token as user '${other}'`);
    hashes.set(user.token_sha256, user.id);
  });

  // Rules name sensors' points as 'sensor/point', like any site's.
  checkAlerts(expanded, report);
  if (config.notifications) checkNotifications(config.notifications, config.users, need, communes, report);
  checkRegisterOverlaps(config, report);
  checkShards(config, communes, need, report);
}

interface Range {
  start: number;
  end: number;
  what: string;
  path: ConfigPath;
}

/** DALI groups: the profile must have group registers, each group once, its members channels of the device. */
function checkGroups(
  lighting: NonNullable<DeviceConfig['lighting']>,
  map: RegisterMapConfig,
  path: ConfigPath,
  report: Report,
): void {
  // Absent in a lenient view of a file the schema refused.
  const groups = lighting.groups ?? [];
  if (groups.length === 0) return;
  if (!map.group_level) {
    report(path, `register map '${map.id}' has no group_level registers: its groups cannot be commanded`);
    return;
  }
  const seen = new Set<number>();
  groups.forEach((group, g) => {
    if (seen.has(group.group)) report([...path, g, 'group'], `DALI group ${group.group} appears twice`);
    seen.add(group.group);
    (group.channels ?? []).forEach((channel, c) => {
      if (channel > lighting.channels)
        report(
          [...path, g, 'channels', c],
          `channel ${channel} is beyond the device's ${lighting.channels} channels`,
        );
    });
  });
}

function checkRegisterOverlaps(config: Config, report: Report): void {
  const ranges = new Map<string, Range[]>();
  const add = (device: DeviceConfig, table: string, range: Range): void => {
    const key = `${device.id}\u0000${table}`;
    const list = ranges.get(key) ?? [];
    list.push(range);
    ranges.set(key, list);
  };
  const maps = new Map(config.register_maps.map((m) => [m.id, m]));
  config.devices.forEach((device, i) => {
    if (!device.lighting || device.protocol === 'opcua') return;
    const map = maps.get(device.lighting.map);
    if (!map) return;
    const channels = device.lighting.channels;
    for (const name of CHANNEL_BLOCKS) {
      const block = map[name];
      if (!block) continue;
      const size = registerCount(block.type);
      const path = ['devices', i, 'lighting', 'map'];
      if (block.addresses && block.addresses.length < channels) {
        report(
          ['devices', i, 'lighting', 'channels'],
          `${channels} channels, but map '${map.id}' lists ${block.addresses.length} addresses for ${name}`,
        );
        continue;
      }
      const end = channelAddress(block, channels) + size - 1;
      if (end > 65535)
        report(
          ['devices', i, 'lighting', 'channels'],
          `${channels} channels put ${name} past register 65535 in map '${map.id}'`,
        );
      if (block.start !== undefined && (block.stride === undefined || block.stride === size)) {
        add(device, block.table, { start: block.start, end, what: `lighting ${name}`, path });
        continue;
      }
      // A strided block interleaves with others (per-channel records, as DALI gateways lay them out), and
      // a list of addresses goes anywhere: each channel's registers are a range of their own.
      for (let channel = 1; channel <= channels; channel++) {
        const start = channelAddress(block, channel);
        add(device, block.table, {
          start,
          end: start + size - 1,
          what: `lighting ${name} (channel ${channel})`,
          path,
        });
      }
    }
    for (const name of SINGLE_REGISTERS) {
      const reg = map[name];
      if (!reg) continue;
      add(device, reg.table, {
        start: reg.address,
        end: reg.address + registerCount(reg.type) - 1,
        what: `lighting ${name}`,
        path: ['devices', i, 'lighting', 'map'],
      });
    }
    const group = map.group_level;
    for (let g = 0; group && g < DALI_GROUPS; g++) {
      const start = channelAddress(group, g + 1);
      add(device, group.table, {
        start,
        end: start + registerCount(group.type) - 1,
        what: `lighting group_level (group ${g})`,
        path: ['devices', i, 'lighting', 'map'],
      });
    }
    for (const [name, reg] of Object.entries(map.identification ?? {}))
      add(device, reg.table, {
        start: reg.address,
        end: reg.address,
        what: `lighting identification ${name}`,
        path: ['devices', i, 'lighting', 'map'],
      });
    for (const name of ['broadcast_level', 'command_counter'] as const) {
      const reg = map[name];
      if (reg)
        add(device, reg.table, {
          start: reg.address,
          end: reg.address + registerCount(reg.type) - 1,
          what: `lighting ${name}`,
          path: ['devices', i, 'lighting', 'map'],
        });
    }
  });
  const devices = new Map(config.devices.map((d) => [d.id, d]));
  config.buildings.forEach((building, i) =>
    building.points.forEach((point, j) => {
      const device = devices.get(point.device);
      if (!device || !point.modbus) return;
      const { table, address, type } = point.modbus;
      add(device, table, {
        start: address,
        end: address + registerCount(type) - 1,
        what: `point '${building.id}/${point.id}'`,
        path: ['buildings', i, 'points', j, 'modbus', 'address'],
      });
    }),
  );
  for (const [key, list] of ranges) {
    const [deviceId, table] = key.split('\u0000');
    list.sort((a, b) => a.start - b.start);
    let widest = list[0];
    for (const range of list.slice(1)) {
      if (range.start <= widest.end) {
        report(
          range.path,
          `${table} registers ${range.start}-${range.end} of device '${deviceId}' (${range.what}) overlap ${widest.start}-${widest.end} (${widest.what})`,
        );
      }
      if (range.end > widest.end) widest = range;
    }
  }
}

/**
 * Sensor models and sensors, where they are written: each sensor becomes a site (config/sensors.ts), so
 * its id must not be a building's, its model and source must exist, and its source must be able to name it.
 */
function checkSensors(
  config: Config,
  known: { communes: Map<string, unknown>; devices: Map<string, DeviceConfig> },
  need: (ids: Map<string, unknown>, id: string, path: ConfigPath, what: string) => boolean,
  pointRefs: Set<string>,
  report: Report,
): void {
  const models = uniqueIds(config.sensor_models, ['sensor_models'], 'sensor model', report);
  config.sensor_models.forEach((model, i) => {
    uniqueIds(model.points, ['sensor_models', i, 'points'], 'point', report);
    if (model.radio)
      model.points.forEach((point, j) => {
        if (RADIO_POINTS.some((r) => r.id === point.id))
          report(
            ['sensor_models', i, 'points', j, 'id'],
            `'${point.id}' is the radio reading every LoRaWAN sensor gets: choose another id, or radio: false`,
          );
      });
  });
  const buildings = new Set(config.buildings.map((b) => b.id));
  uniqueIds(config.sensors, ['sensors'], 'sensor', report);
  config.sensors.forEach((sensor, i) => {
    const path = ['sensors', i];
    if (buildings.has(sensor.id))
      report(
        [...path, 'id'],
        `'${sensor.id}' is already a building's id: a sensor becomes a site of its own`,
      );
    need(known.communes, sensor.commune, [...path, 'commune'], 'commune');
    const model = need(models, sensor.model, [...path, 'model'], 'sensor model')
      ? models.get(sensor.model)
      : undefined;
    if (!need(known.devices, sensor.source, [...path, 'source'], 'device')) return;
    const source = known.devices.get(sensor.source)!;
    if (source.protocol !== 'mqtt') {
      report(
        [...path, 'source'],
        `device '${source.id}' is ${source.protocol}: a sensor's source is an MQTT source (protocol: mqtt)`,
      );
      return;
    }
    const captures = capturesOf(source);
    const match = matchOf(sensor);
    const naming = SENSOR_CAPTURE[source.format];
    if (naming !== undefined && match[naming] === undefined)
      report(
        path,
        `a sensor of ${source.format} source '${source.id}' needs its ${naming === 'dev_eui' ? "'dev_eui'" : "'device_id'"}`,
      );
    if (captures)
      for (const name of Object.keys(match))
        if (!captures.includes(name))
          report(
            path,
            `'${name}' is not a capture of source '${source.id}' topic (captures: ${captures.join(', ') || 'none'})`,
          );
    if (!model) return;
    for (const point of model.points) pointRefs.add(`${sensor.id}/${point.id}`);
    if (model.radio && isLorawanSource(source))
      for (const radio of RADIO_POINTS) pointRefs.add(`${sensor.id}/${radio.id}`);
  });
  // Two sensors with one identity on one source would share every message.
  const identities = new Map<string, string>();
  config.sensors.forEach((sensor, i) => {
    const key = `${sensor.source}\u0000${JSON.stringify(Object.entries(matchOf(sensor)).sort())}`;
    const first = identities.get(key);
    if (first !== undefined)
      report(
        ['sensors', i],
        `sensor '${sensor.id}' has the same identity on '${sensor.source}' as '${first}'`,
      );
    else identities.set(key, sensor.id);
  });
}

const BINDINGS = ['modbus', 'opcua', 'mqtt', 'http'] as const;
type Binding = (typeof BINDINGS)[number];
const SPEAKS: Record<Binding, string> = { modbus: 'Modbus', opcua: 'OPC UA', mqtt: 'MQTT', http: 'HTTP' };

function bindingOf(protocol: DeviceConfig['protocol']): Binding {
  if (protocol === 'opcua' || protocol === 'mqtt') return protocol;
  return protocol === 'http-json' ? 'http' : 'modbus';
}

const captureCache = new WeakMap<MqttSourceDeviceConfig, readonly string[] | undefined>();

/** The captures of a source's topic pattern, compiled once per device; undefined when it does not compile. */
function capturesOf(device: MqttSourceDeviceConfig): readonly string[] | undefined {
  if (captureCache.has(device)) return captureCache.get(device);
  let captures: readonly string[] | undefined;
  try {
    captures = compileTopicPattern(device.topic ?? DEFAULT_TOPICS[device.format] ?? '#').captures;
  } catch {
    captures = undefined;
  }
  captureCache.set(device, captures);
  return captures;
}

/** An MQTT source's topic pattern and format, checked once per device. */
function checkMqttSource(device: MqttSourceDeviceConfig, path: ConfigPath, report: Report): void {
  const topic = device.topic ?? DEFAULT_TOPICS[device.format];
  if (topic === undefined) {
    report([...path, 'topic'], `format '${device.format}' has no topic of its own: give the topic pattern`);
    return;
  }
  try {
    compileTopicPattern(topic);
  } catch (error) {
    report([...path, 'topic'], (error as Error).message);
  }
  if (device.time_path !== undefined && device.format !== 'json')
    report(
      [...path, 'time_path'],
      `only the json format reads the time at a path (${device.format} has its own)`,
    );
}

/** A point's field of an MQTT source: a path or a radio reading, captures of its topic. */
function checkMqttBinding(
  binding: NonNullable<PointConfig['mqtt']>,
  device: MqttSourceDeviceConfig,
  path: ConfigPath,
  report: Report,
): void {
  const lorawan = device.format === 'chirpstack-v4' || device.format === 'ttn-v3';
  if (binding.radio !== undefined && !lorawan)
    report(
      [...path, 'radio'],
      `radio readings come from LoRaWAN network servers (format is '${device.format}')`,
    );
  if (binding.radio !== undefined && binding.path !== undefined)
    report(path, "give 'path' (a field) or 'radio' (rssi, snr, battery), not both");
  if (binding.radio === undefined && binding.path === undefined && device.format !== 'plain')
    report(path, `give the field's 'path' under the ${device.format} values (or 'radio')`);
  const captures = capturesOf(device);
  if (!captures) return; // the device's topic is reported on its own
  for (const name of Object.keys(binding.match))
    if (!captures.includes(name))
      report(
        [...path, 'match', name],
        `'${name}' is not a capture of device '${device.id}' topic (captures: ${captures.join(', ') || 'none'})`,
      );
}

function uniqueIds<T extends { id: string }>(
  items: T[],
  path: ConfigPath,
  what: string,
  report: Report,
): Map<string, T> {
  const byId = new Map<string, T>();
  items.forEach((item, i) => {
    if (byId.has(item.id)) report([...path, i, 'id'], `duplicate ${what} id '${item.id}'`);
    else byId.set(item.id, item);
  });
  return byId;
}

/** Edit distances computed per check: enough for every typo of a hand-written file, in well under a second. */
const SUGGESTION_BUDGET = 1_000_000;

/**
 * A near miss is most often a typo: name the closest known id. Each miss is compared with every known
 * id once; past a budget of comparisons (a territory where every reference is wrong) none is named.
 */
function suggester(): (id: string, known: Map<string, unknown>) => string {
  const found = new Map<Map<string, unknown>, Map<string, string>>();
  let budget = SUGGESTION_BUDGET;
  return (id, known) => {
    const byId = found.get(known) ?? new Map<string, string>();
    found.set(known, byId);
    let suggestion = byId.get(id);
    if (suggestion === undefined) {
      if (budget < known.size) return '';
      budget -= known.size;
      suggestion = closest(id, known);
      byId.set(id, suggestion);
    }
    return suggestion;
  };
}

function closest(id: string, known: Map<string, unknown>): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(id.length / 4)) + 1;
  for (const candidate of known.keys()) {
    const d = distance(id, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}

/** Recipients: who they are (a user or a role and communes), and a channel configured for each address. */
function checkNotifications(
  notifications: NonNullable<Config['notifications']>,
  users: Config['users'],
  need: (ids: Map<string, unknown>, id: string, path: ConfigPath, what: string) => boolean,
  communes: Map<string, unknown>,
  report: Report,
): void {
  const userIds = new Map(users.map((user) => [user.id, user]));
  uniqueIds(notifications.recipients, ['notifications', 'recipients'], 'recipient', report);
  notifications.recipients.forEach((recipient, i) => {
    const path: ConfigPath = ['notifications', 'recipients', i];
    if (recipient.user !== undefined) need(userIds, recipient.user, [...path, 'user'], 'user');
    else {
      if (recipient.role === undefined) report([...path, 'role'], 'give a role, or a user to take it from');
      if (recipient.communes === undefined)
        report([...path, 'communes'], 'give communes, or a user to take them from');
    }
    recipient.communes?.forEach((c, j) => {
      if (c !== '*') need(communes, c, [...path, 'communes', j], 'commune');
    });
    if (recipient.email === undefined && recipient.phone === undefined)
      report(path, `recipient '${recipient.id}' has neither email nor phone`);
    if (recipient.email !== undefined && !notifications.email)
      report([...path, 'email'], 'an e-mail address needs notifications.email (the SMTP server)');
    if (recipient.phone !== undefined && !notifications.sms)
      report([...path, 'phone'], 'a phone number needs notifications.sms (the SMS gateway)');
  });
}
