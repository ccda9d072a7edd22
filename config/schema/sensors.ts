import { z } from 'zod';
import { Id, Location } from './common';
import { Quantity } from './energy';

/** One value a sensor model reports: what it is and where its messages carry it. */
export const ModelPoint = z.strictObject({
  id: Id.describe("The point's id in each sensor of the model: '<sensor>/<id>'."),
  name: z.string().optional(),
  measurement: z
    .enum(['sensor', 'meter'])
    .default('sensor')
    .describe('sensor: an instantaneous value; meter: a counter index turned into consumption.'),
  quantity: Quantity.describe('fill_level, water_level, pm2_5, noise_laeq, bike_count, weight… snake_case.'),
  unit: z.string().default(''),
  path: z
    .string()
    .min(1)
    .optional()
    .describe("Dot path under the format's decoded values (ChirpStack 'object', TTS 'decoded_payload')."),
  scale: z.number().default(1).describe('Engineering value = raw * scale + offset.'),
  offset: z.number().default(0),
  states: z.record(z.string().min(1), z.number()).optional().describe('Text states to numbers.'),
  rollover: z.number().positive().optional(),
  max_rate: z.number().positive().optional(),
});

/** A kind of sensor, declared once: 200 bins of one model are then 200 one-line entries. */
export const SensorModel = z.strictObject({
  id: Id,
  name: z.string().optional().describe('Maker and product, e.g. "Milesight EM500-UDL".'),
  kind: Quantity.describe('What a sensor of this model watches: bin, river_station, air_station, hive…'),
  period_s: z
    .number()
    .min(1)
    .max(2_592_000)
    .default(900)
    .describe('Expected time between uplinks: a point is stale after telemetry.stale_factor of them.'),
  radio: z
    .boolean()
    .default(true)
    .describe('LoRaWAN sources: add rssi, snr and battery points to every sensor of the model.'),
  points: z.array(ModelPoint).min(1),
});

/** One sensor in the field: a model, where its messages come from, and where it stands. */
export const Sensor = z.strictObject({
  id: Id,
  model: Id.describe('Id of a sensor_models entry.'),
  source: Id.describe("Id of the MQTT source device (protocol 'mqtt') its messages come through."),
  commune: Id,
  name: z.string().optional(),
  location: Location.optional(),
  dev_eui: z
    .string()
    .regex(/^[0-9a-fA-F]{16}$/, { message: 'must be a DevEUI of 16 hexadecimal digits' })
    .optional()
    .describe('ChirpStack: the device EUI in its topic.'),
  device_id: z
    .string()
    .min(1)
    .max(128)
    .optional()
    .describe('The Things Stack: the end device id in its topic.'),
  match: z
    .record(z.string().regex(/^[a-z_][a-z0-9_]*$/), z.string().min(1).max(128))
    .optional()
    .describe('Other sources: the topic captures naming this sensor.'),
});
