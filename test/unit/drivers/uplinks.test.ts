import {
  compilePath,
  compileTopicPattern,
  DEFAULT_TOPICS,
  readField,
  readUplink,
} from '../../../drivers/mqtt/uplinks';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** A ChirpStack v4 `up` event as its MQTT integration publishes it (chirpstack-docs integrations/events.md). */
function chirpstackUp(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deduplicationId: '3ac7e3c4-4401-4b8d-9386-a5c902f9202d',
    time: '2026-11-14T21:03:11.000Z',
    deviceInfo: {
      tenantId: '52f14cd4-c6f1-4fbd-8f87-4025e1d49242',
      applicationId: 'a2b8a2f5-4e5a-4c1a-9c2f-4d1c2c9b6d11',
      applicationName: 'pav',
      deviceProfileName: 'EM500-UDL',
      deviceName: 'pav-gare',
      devEui: '24e124136b502217',
    },
    devAddr: '00f1a2b3',
    fCnt: 1207,
    fPort: 85,
    data: 'AXWUA4LEBQ==',
    object: { battery: 94, distance: 1450 },
    rxInfo: [
      { gatewayId: '0016c001ff10a235', rssi: -112, snr: -4.5 },
      { gatewayId: '0016c001ff10a236', rssi: -97, snr: 6.25 },
    ],
    ...overrides,
  };
}

/** A The Things Stack v3 uplink (thethingsindustries.com/docs/integrations/data-formats). */
function ttnUp(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    end_device_ids: {
      device_id: 'limnimetre-moselle',
      application_ids: { application_id: 'crues' },
      dev_eui: '70B3D57ED0050A1B',
    },
    received_at: '2026-11-14T21:05:00.123456789Z',
    uplink_message: {
      f_port: 2,
      f_cnt: 88,
      frm_payload: 'AQID',
      decoded_payload: { level_m: 1.87, status: 'ok' },
      rx_metadata: [{ gateway_ids: { gateway_id: 'gw-metz-1' }, rssi: -101, channel_rssi: -101, snr: 7.5 }],
      last_battery_percentage: { f_cnt: 80, value: 71, received_at: '2026-11-14T18:00:00Z' },
    },
    ...overrides,
  };
}

describe('topic patterns', () => {
  it('turns each capture into a + of the subscription and reads it back from a topic', () => {
    const chirpstack = compileTopicPattern(DEFAULT_TOPICS['chirpstack-v4']!);
    expect(chirpstack.filter).toBe('application/+/device/+/event/+');
    expect(chirpstack.captures).toEqual(['application_id', 'dev_eui', 'event']);
    expect(chirpstack.match('application/a2b8/device/24e124136b502217/event/up')).toEqual({
      application_id: 'a2b8',
      dev_eui: '24e124136b502217',
      event: 'up',
    });
    expect(chirpstack.match('application/a2b8/device/24e1/event')).toBeUndefined();
    expect(chirpstack.match('application/a2b8/gateway/24e1/event/up')).toBeUndefined();
  });

  it('captures parts of a segment (The Things Stack `{app}@{tenant}`) and a trailing #', () => {
    const ttn = compileTopicPattern(DEFAULT_TOPICS['ttn-v3']!);
    expect(ttn.filter).toBe('v3/+/devices/+/up');
    expect(ttn.match('v3/crues@ttn/devices/limnimetre-moselle/up')).toEqual({
      application_id: 'crues',
      tenant_id: 'ttn',
      device_id: 'limnimetre-moselle',
    });
    const any = compileTopicPattern('ville/{station}/#');
    expect(any.filter).toBe('ville/+/#');
    expect(any.match('ville/pont-des-morts/niveau/brut')).toEqual({ station: 'pont-des-morts' });
    // A topic of one sensor has nothing to capture.
    expect(compileTopicPattern('ville/niveau').match('ville/niveau')).toEqual({});
  });

  it('refuses what MQTT cannot subscribe to, saying why', () => {
    expect(() => compileTopicPattern('a/+/b')).toThrow(/name a capture '\{name\}' instead of '\+' or '#'/);
    expect(() => compileTopicPattern('a/#/b')).toThrow(/'#' must be the last segment/);
    expect(() => compileTopicPattern('a/{x}/{x}')).toThrow(/capture '\{x\}' appears twice/);
    expect(() => compileTopicPattern('a/{Bad}')).toThrow(/a capture is '\{name\}' in lower case/);
  });
});

describe('ChirpStack v4 uplinks', () => {
  const options = { format: 'chirpstack-v4' as const };

  it('reads the decoded object, the time, the deduplication id and the best gateway', () => {
    const read = readUplink(json(chirpstackUp()), { event: 'up' }, options);
    expect(read).toEqual({
      ok: true,
      uplink: {
        values: { battery: 94, distance: 1450 },
        time: Date.parse('2026-11-14T21:03:11.000Z'),
        dedup: '3ac7e3c4-4401-4b8d-9386-a5c902f9202d',
        radio: { rssi: -97, snr: 6.25 },
      },
    });
  });

  it('reads the battery of a status event and ignores joins, acks and logs', () => {
    const status = { deduplicationId: 'd2', time: '2026-11-14T22:00:00Z', margin: 7, batteryLevel: 88.5 };
    expect(readUplink(json(status), { event: 'status' }, options)).toMatchObject({
      ok: true,
      uplink: { radio: { battery: 88.5 }, statusOnly: true },
    });
    for (const event of ['join', 'ack', 'txack', 'log', 'location'])
      expect(readUplink(json({}), { event }, options)).toEqual({ ok: 'ignored' });
  });

  it('says what is wrong: no codec, a bad time, not JSON, not UTF-8', () => {
    expect(readUplink(json(chirpstackUp({ object: undefined })), { event: 'up' }, options)).toEqual({
      ok: false,
      reason: 'no-values',
      detail: "no decoded 'object' (does the device profile have a codec?)",
    });
    expect(readUplink(json(chirpstackUp({ time: 'hier soir' })), { event: 'up' }, options)).toMatchObject({
      ok: false,
      reason: 'bad-time',
    });
    expect(readUplink(Buffer.from('{"object":'), { event: 'up' }, options)).toMatchObject({
      ok: false,
      reason: 'not-json',
    });
    expect(readUplink(Buffer.from([0x7b, 0xff, 0x7d]), { event: 'up' }, options)).toMatchObject({
      ok: false,
      reason: 'not-json',
      detail: 'bytes that are not UTF-8',
    });
    expect(readUplink(json([1, 2]), { event: 'up' }, options)).toMatchObject({
      ok: false,
      reason: 'not-object',
    });
  });
});

describe('The Things Stack v3 uplinks', () => {
  const options = { format: 'ttn-v3' as const };

  it('reads decoded_payload, received_at, f_cnt, the gateway and the last battery percentage', () => {
    const read = readUplink(json(ttnUp()), {}, options);
    expect(read).toEqual({
      ok: true,
      uplink: {
        values: { level_m: 1.87, status: 'ok' },
        time: Date.parse('2026-11-14T21:05:00.123Z'),
        dedup: '88@2026-11-14T21:05:00.123456789Z',
        radio: { rssi: -101, snr: 7.5, battery: 71 },
      },
    });
  });

  it('needs a payload formatter', () => {
    const up = ttnUp();
    delete (up.uplink_message as Record<string, unknown>).decoded_payload;
    expect(readUplink(json(up), {}, options)).toMatchObject({ ok: false, reason: 'no-values' });
  });
});

describe('json and plain payloads', () => {
  it('reads the time at a path, in ISO 8601, epoch seconds or milliseconds', () => {
    const timePath = compilePath('obs.t');
    const at = Date.parse('2026-11-14T21:00:00Z');
    for (const t of ['2026-11-14T22:00:00+01:00', at / 1000, at])
      expect(readUplink(json({ obs: { t, v: 3 } }), {}, { format: 'json', timePath })).toMatchObject({
        ok: true,
        uplink: { time: at },
      });
    expect(readUplink(json({ obs: { v: 3 } }), {}, { format: 'json', timePath })).toMatchObject({
      ok: false,
      reason: 'bad-time',
    });
  });

  it('takes a plain payload as text, read by the field', () => {
    const read = readUplink(Buffer.from(' 21.5\n'), {}, { format: 'plain' });
    expect(read).toEqual({ ok: true, uplink: { values: '21.5', radio: {} } });
    if (read.ok !== true) throw new Error('unreachable');
    expect(readField(read.uplink.values, { path: [], scale: 1, offset: 0 })).toEqual({
      ok: true,
      value: 21.5,
    });
  });
});

describe('fields', () => {
  const values = { distance: 1450, door: 'Open', alarm: true, nested: { list: [{ v: 2 }] }, bad: 'n/a' };

  it('scales numbers, keeps booleans, maps text states without case', () => {
    expect(readField(values, { path: ['distance'], scale: -0.1, offset: 200 })).toEqual({
      ok: true,
      value: 55,
    });
    expect(readField(values, { path: ['alarm'], scale: 1, offset: 0 })).toEqual({ ok: true, value: true });
    expect(
      readField(values, { path: ['door'], scale: 1, offset: 0, states: { open: 1, closed: 0 } }),
    ).toEqual({ ok: true, value: 1 });
    expect(readField(values, { path: compilePath('nested.list.0.v'), scale: 1, offset: 0 })).toEqual({
      ok: true,
      value: 2,
    });
  });

  it('says which field is missing or of the wrong type', () => {
    expect(readField(values, { path: ['level'], scale: 1, offset: 0 })).toEqual({
      ok: false,
      reason: 'missing-field',
      detail: "no value at 'level'",
    });
    expect(readField(values, { path: ['bad'], scale: 1, offset: 0, states: { ok: 0 } })).toEqual({
      ok: false,
      reason: 'wrong-type',
      detail: `'bad' is text "n/a" (known states: ok)`,
    });
    expect(readField(values, { path: ['nested'], scale: 1, offset: 0 })).toMatchObject({
      ok: false,
      reason: 'wrong-type',
    });
    // An inherited property is not a field of the message.
    expect(readField(values, { path: ['constructor'], scale: 1, offset: 0 })).toMatchObject({
      ok: false,
      reason: 'missing-field',
    });
  });
});
