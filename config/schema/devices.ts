import { z } from 'zod';
import { Id, Level, SecretRef } from './common';
import { RADIO_FIELDS, UPLINK_FORMATS } from '../../drivers/mqtt/uplinks';
import { HttpJsonDevice } from './httpSource';
import { BROKER_ACCESS } from './service';
import { curvePointsProblem, LAMP_FAILURES } from '../deviceUnits';

export const ModbusTable = z
  .enum(['holding', 'input', 'coil', 'discrete'])
  .describe('Modbus table: holding (FC3/6/16), input (FC4), coil (FC1/5/15), discrete (FC2).');
export const DataType = z
  .enum(['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64'])
  .describe('How the registers are decoded. bool is for coils and discrete inputs.');
export const WordOrder = z
  .enum(['big', 'little'])
  .describe('Order of 16-bit words in multi-register values.');

/** Where one value lives on a Modbus device, and how to turn its registers into a number. */
export const ModbusBinding = z.strictObject({
  table: ModbusTable.default('holding'),
  address: z.number().int().min(0).max(65535).describe('Zero-based register or coil address.'),
  type: DataType.default('uint16'),
  word_order: WordOrder.default('big'),
  byte_order: WordOrder.default('big').describe('Order of the two bytes inside each register.'),
  scale: z.number().default(1).describe('Engineering value = raw * scale + offset.'),
  offset: z.number().default(0),
  period_s: z.number().min(0.1).max(86400).default(60).describe('Polling period in seconds.'),
});

export const OpcuaBinding = z.strictObject({
  node_id: z
    .string()
    .regex(/^(ns=\d+;)?[isgb]=.+$/, {
      message: "must be an OPC UA node id such as 'ns=1;s=School.Room1.Temperature'",
    })
    .describe('OPC UA node id.'),
  sampling_ms: z
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(1000)
    .describe('Monitored item sampling interval.'),
  deadband: z
    .strictObject({
      type: z.enum(['absolute', 'percent']),
      value: z.number().min(0),
    })
    .optional()
    .describe('Report only changes larger than this.'),
});

/** Channel c of a segment controller lives at start + (c-1) * stride, or at the c-th of `addresses`. */
const ChannelBlock = z
  .strictObject({
    table: ModbusTable.default('holding'),
    start: z.number().int().min(0).max(65535).optional().describe('Address of channel 1.'),
    addresses: z
      .array(z.number().int().min(0).max(65535))
      .min(1)
      .max(1024)
      .optional()
      .describe('The address of each channel in channel order, where no start and stride describe them.'),
    stride: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe(
        'Registers from one channel to the next (default: the type size); larger for per-channel records that interleave blocks.',
      ),
    type: DataType.default('uint16'),
    word_order: WordOrder.default('big'),
    scale: z.number().default(1),
  })
  .refine((b) => (b.start === undefined) !== (b.addresses === undefined), {
    message: "give 'start' (and 'stride') or 'addresses', one of the two",
  })
  .refine((b) => b.addresses === undefined || b.stride === undefined, {
    message: "'stride' goes with 'start', not with 'addresses'",
  });
const SingleRegister = z.strictObject({
  table: ModbusTable.default('holding'),
  address: z.number().int().min(0).max(65535),
  type: DataType.default('uint16'),
  scale: z.number().default(1),
});

const CurvePoints = z
  .array(z.tuple([z.number().min(0).max(100), z.number().min(0)]))
  .superRefine((points, ctx) => {
    const problem = curvePointsProblem(points);
    if (problem) ctx.addIssue({ code: 'custom', message: `curve points: ${problem}` });
  });

export const LevelCurve = z
  .union([z.literal('linear'), z.literal('dali-arc'), z.strictObject({ points: CurvePoints })])
  .default('linear')
  .describe(
    "How light output in percent becomes the value written: 'linear' (0 to level_max_raw), 'dali-arc' (DALI arc power 0–254, logarithmic: 50 % is 229), or {points: [[percent, value], …]} from 0 to 100 %, interpolated.",
  );

export const StatusDecoding = z
  .union([
    z.strictObject({
      codes: z
        .record(
          z.string().regex(/^\d+$/, { message: 'a status code is a whole number' }),
          z.enum(['ok', ...LAMP_FAILURES]),
        )
        .describe("Each code of the status register: 'ok' or the failure it means."),
    }),
    z.strictObject({
      bits: z
        .record(
          z.string().regex(/^(1[0-5]|[0-9])$/, { message: 'a bit is 0 to 15' }),
          z.enum([...LAMP_FAILURES, 'ignore']),
        )
        .describe("Bit (0 = least significant) → the failure it reports, or 'ignore' (fade running…)."),
    }),
  ])
  .describe(
    "How the lamp status register reads: a code table or a bit field, to the failures lamp, gear, relay, communication. Default: nocturne's codes 0 ok, 1 lamp, 2 gear.",
  );

export const RegisterMap = z
  .strictObject({
    id: Id,
    description: z.string().optional(),
    source: z
      .string()
      .optional()
      .describe("The manufacturer's document or template the map was taken from, to check it against."),
    level_max_raw: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(100)
      .describe("Raw register value meaning 100 % (the 'linear' curve)."),
    level_curve: LevelCurve,
    guard_interval_ms: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .optional()
      .describe('Least time the device needs between an answer and the next request (its maker says).'),
    confirm_tolerance: z
      .number()
      .min(0)
      .optional()
      .describe(
        'Largest difference, in register units, between the value written and the one read back that still confirms a command. Default: the exact value (half a step of a coarser read-back).',
      ),
    commanded_level: ChannelBlock.describe('Level written by the service (read/write).'),
    in_effect_level: ChannelBlock.optional().describe(
      "Level the device applies now: commanded, or its fail-safe. Absent: the commanded level is read back (a gateway's copy of what it was sent, not the gear's own).",
    ),
    output_level: ChannelBlock.optional().describe('Actual output, ramping with the fade.'),
    power_w: ChannelBlock.optional().describe('Measured power in watts (after scale).'),
    energy_wh: ChannelBlock.optional().describe('Energy counter in watt-hours (after scale).'),
    lamp_status: ChannelBlock.optional().describe('Lamp and gear status, read as `status` says.'),
    status: StatusDecoding.optional(),
    fade_s: ChannelBlock.optional().describe('Fade time in seconds (after scale), or a code (fade_codes).'),
    fade_codes: z
      .union([z.literal('dali'), z.array(z.number().min(0)).min(2).max(256)])
      .optional()
      .describe(
        "The fade register takes a code, not seconds: 'dali' (0 none, 1–15: 0.7 s to 90.5 s) or the seconds of each code; the nearest code is written.",
      ),
    fade_stored: z
      .boolean()
      .default(false)
      .describe(
        "true: the device keeps its fade until it is changed (DALI), so it is written only when it changes; false: nocturne's one-shot fade, written before each level.",
      ),
    group_level: ChannelBlock.optional().describe(
      'Level of DALI group G (0–15) at start + stride × G: one write for all its members (lighting.groups of the device).',
    ),
    broadcast_level: SingleRegister.optional().describe(
      'Level of every channel of the device at once: one write when all of them go to the same level.',
    ),
    watchdog_s: SingleRegister.optional().describe(
      'Seconds without a command before the fail-safe level applies.',
    ),
    fail_safe_level: SingleRegister.optional().describe(
      'Level applied by the device on its own when the watchdog expires.',
    ),
    boot_count: SingleRegister.optional().describe(
      'Increments at each device start: a change means levels were lost.',
    ),
    command_counter: SingleRegister.optional().describe(
      'A register the device needs to change with every command before it applies the levels written (ADFweb gateways): written after the levels, counting 1 to 255.',
    ),
    identification: z
      .strictObject({
        map_version: z
          .strictObject({
            table: ModbusTable.default('input'),
            address: z.number().int().min(0).max(65535),
            equals: z
              .number()
              .int()
              .min(0)
              .max(65535)
              .describe('The value a device of this profile answers.'),
          })
          .optional(),
        channel_count: z
          .strictObject({
            table: ModbusTable.default('input'),
            address: z.number().int().min(0).max(65535),
          })
          .optional()
          .describe(
            'Channels (DALI devices found on the line) the device has: fewer than the configuration drives is an error.',
          ),
      })
      .optional()
      .describe('Registers read when the device connects, to check it is the device the profile describes.'),
  })
  .describe('Register map of a Modbus segment controller: the contract a real device must honour.');

const NodeTemplate = z
  .string()
  .regex(/^(ns=\d+;)?[isgb]=.+$/, { message: 'must be an OPC UA node id template' })
  .describe('Node id template; {device} and {channel} are substituted.');

export const NodeMap = z
  .strictObject({
    id: Id,
    description: z.string().optional(),
    level_max_raw: z.number().min(1).default(100),
    level_curve: LevelCurve,
    commanded_level: NodeTemplate,
    in_effect_level: NodeTemplate,
    output_level: NodeTemplate.optional(),
    power_w: NodeTemplate.optional(),
    energy_wh: NodeTemplate.optional(),
    lamp_status: NodeTemplate.optional(),
    status: StatusDecoding.optional(),
    fade_s: NodeTemplate.optional(),
    watchdog_s: NodeTemplate.optional(),
    fail_safe_level: NodeTemplate.optional(),
    boot_count: NodeTemplate.optional(),
  })
  .describe('Node map of an OPC UA segment controller.');

/** A device that drives luminaires. */
export const SegmentControllerSection = z.strictObject({
  channels: z.number().int().min(1).max(1024).describe('Number of luminaire channels.'),
  map: Id.describe('Id of a register_maps entry (Modbus) or node_maps entry (OPC UA).'),
  fail_safe_level: Level.default(100).describe(
    'Level the device falls back to when the service goes silent.',
  ),
  watchdog_s: z.number().int().min(0).max(65535).default(300).describe('0 disables the watchdog.'),
  groups: z
    .array(
      z.strictObject({
        group: z.number().int().min(0).max(15).describe('DALI group number.'),
        channels: z
          .array(z.number().int().min(1).max(1024))
          .min(1)
          .describe('Its members, as commissioned in the gear.'),
      }),
    )
    .default([])
    .describe(
      'DALI groups as commissioned in the gear: where the profile has group_level registers, members going to one level are commanded by one write.',
    ),
});

const DeviceCommon = {
  id: Id,
  name: z.string().optional(),
  commune: Id.optional().describe('Commune that owns the device (required for segment controllers).'),
  timeout_ms: z.number().int().min(10).max(60_000).default(1000).describe('Per-request timeout.'),
  retries: z
    .number()
    .int()
    .min(0)
    .max(10)
    .default(2)
    .describe('Retries per request before it is reported failed.'),
  lighting: SegmentControllerSection.optional().describe('Present when the device is a segment controller.'),
};

const ModbusCommon = {
  ...DeviceCommon,
  unit_id: z.number().int().min(0).max(255).default(1),
  concurrency: z.number().int().min(1).max(16).default(1).describe('Requests in flight at once.'),
  max_read_gap: z
    .number()
    .int()
    .min(0)
    .max(124)
    .default(8)
    .describe('Registers of gap merged into one read.'),
  write_multiple: z.boolean().default(true).describe('false for devices that accept only function 6.'),
  guard_ms: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .optional()
    .describe(
      "Least time between an answer and the next request (a gateway's guard interval). Default: its profile's guard_interval_ms, else none.",
    ),
};

export const ModbusTcpDevice = z.strictObject({
  ...ModbusCommon,
  protocol: z.literal('modbus-tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
});

export const ModbusRtuOverTcpDevice = z.strictObject({
  ...ModbusCommon,
  protocol: z.literal('modbus-rtu-over-tcp'),
  host: z.string().min(1).describe('Serial gateway address.'),
  port: z.number().int().min(1).max(65535).default(4001),
});

export const ModbusRtuDevice = z.strictObject({
  ...ModbusCommon,
  protocol: z.literal('modbus-rtu'),
  serial: z.strictObject({
    path: z.string().min(1).describe("Serial port, e.g. '/dev/ttyUSB0'."),
    baud_rate: z
      .union([1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200].map((b) => z.literal(b)))
      .default(9600),
    parity: z.enum(['none', 'even', 'odd']).default('even'),
    data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
    stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
  }),
});

export const OpcuaDevice = z.strictObject({
  ...DeviceCommon,
  protocol: z.literal('opcua'),
  endpoint: z
    .string()
    .regex(/^opc\.tcp:\/\/.+/, { message: "must be an 'opc.tcp://host:port/path' endpoint" }),
  security: z
    .strictObject({
      mode: z.enum(['None', 'Sign', 'SignAndEncrypt']).default('None'),
      policy: z
        .enum(['None', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss'])
        .default('None'),
    })
    .default({ mode: 'None', policy: 'None' }),
  auth: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('anonymous') }),
      z.strictObject({ type: z.literal('username'), username: z.string().min(1), password: SecretRef }),
    ])
    .default({ type: 'anonymous' }),
  publishing_ms: z
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(500)
    .describe('Subscription publishing interval.'),
});

/** A broker other than the service's own: a LoRaWAN network server's, an integrator's. */
export const MqttBroker = z.strictObject({
  url: z
    .string()
    .regex(/^(mqtts?|wss?|tcp|ssl):\/\/.+/, { message: "must be a broker URL such as 'mqtts://host:8883'" }),
  client_id: z.string().optional().describe("Default: 'nocturne-<instance>-<device id>'."),
  ...BROKER_ACCESS,
});

/** Sensors whose values arrive over MQTT: a point is bound to a field of their messages. */
export const MqttSourceDevice = z.strictObject({
  id: Id,
  name: z.string().optional(),
  commune: Id.optional().describe('Commune that owns the device.'),
  protocol: z.literal('mqtt'),
  format: z
    .enum(UPLINK_FORMATS)
    .describe(
      'chirpstack-v4 and ttn-v3: LoRaWAN network servers (values, time, duplicates and radio quality where each puts them); json: any JSON; plain: a number or a text.',
    ),
  topic: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Topic pattern with named captures, e.g. 'city/river/{station}/level'; default for chirpstack-v4 'application/{application_id}/device/{dev_eui}/event/{event}', for ttn-v3 'v3/{application_id}@{tenant_id}/devices/{device_id}/up'.",
    ),
  time_path: z
    .string()
    .min(1)
    .optional()
    .describe('json: dot path of the time in the payload (ISO 8601 or epoch); absent: the reception time.'),
  qos: z.union([z.literal(0), z.literal(1)]).default(1),
  timeout_ms: z
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(10_000)
    .describe('Time a connection attempt to its own broker may take.'),
  broker: MqttBroker.optional().describe("Absent: the service's own broker (mqtt section)."),
  lighting: z
    .never({ error: 'an MQTT source only reads sensors: luminaires are driven over Modbus or OPC UA' })
    .optional(),
});

export const MqttBinding = z.strictObject({
  match: z
    .record(z.string().regex(/^[a-z_][a-z0-9_]*$/), z.string().min(1).max(128))
    .default({})
    .describe(
      "Topic captures naming the sensor, e.g. {dev_eui: '24e124136b502217'}; absent: the device is one sensor.",
    ),
  path: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Dot path of the value under the format's values (ChirpStack 'object', TTS 'decoded_payload').",
    ),
  radio: z
    .enum(RADIO_FIELDS)
    .optional()
    .describe('A reading the network server adds (rssi, snr, battery) instead of a field.'),
  scale: z.number().default(1).describe('Engineering value = raw * scale + offset.'),
  offset: z.number().default(0),
  states: z
    .record(z.string().min(1), z.number())
    .optional()
    .describe('Text states to numbers, e.g. {open: 1, closed: 0}.'),
  period_s: z
    .number()
    .min(1)
    .max(2_592_000)
    .default(900)
    .describe('Expected time between messages: the point is stale after telemetry.stale_factor of them.'),
});

export const Device = z.discriminatedUnion('protocol', [
  ModbusTcpDevice,
  ModbusRtuOverTcpDevice,
  ModbusRtuDevice,
  OpcuaDevice,
  MqttSourceDevice,
  HttpJsonDevice,
]);
