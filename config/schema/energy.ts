import { z } from 'zod';
import { CalendarDate, ClockTime, Id, Location, Weekday } from './common';
import { ModbusBinding, MqttBinding, OpcuaBinding } from './devices';
import { HttpBinding } from './httpSource';

export const OpeningHours = z.strictObject({
  days: z.array(Weekday).min(1),
  from: ClockTime,
  to: ClockTime.describe('May be earlier than from for a period crossing midnight.'),
});

/** Anything read from a device. A new kind of point is a new entry, never new code. */
export const Point = z.strictObject({
  id: Id,
  name: z.string().optional(),
  measurement: z
    .enum(['sensor', 'meter'])
    .describe('sensor: an instantaneous value; meter: a counter index (kWh, m³) turned into consumption.'),
  quantity: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .describe(
      'What is measured: temperature, electricity, water, door, water_level, lux… free text in snake_case.',
    ),
  unit: z.string().default('').describe('Unit after scaling: °C, kWh, m³, m, lux, W…'),
  room: z.string().optional(),
  device: Id,
  modbus: ModbusBinding.optional(),
  opcua: OpcuaBinding.optional(),
  mqtt: MqttBinding.optional(),
  http: HttpBinding.optional(),
  rollover: z
    .number()
    .positive()
    .optional()
    .describe('Meters: the value at which the index wraps to zero (default: from the data type and scale).'),
  max_rate: z
    .number()
    .positive()
    .optional()
    .describe(
      'Meters: highest plausible consumption per hour (default: telemetry.max_rates of its quantity); a larger jump is flagged bad, not written as consumption.',
    ),
  stale_after_s: z
    .number()
    .positive()
    .optional()
    .describe('Stale after this long without a good value (default: telemetry.stale_factor periods).'),
});

export const Building = z.strictObject({
  id: Id,
  commune: Id,
  name: z.string().optional(),
  kind: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .describe('school, gym, town_hall, pool, library, traffic_cabinet, river_station… any monitored site.'),
  location: Location.optional(),
  opening_hours: z
    .array(OpeningHours)
    .default([])
    .describe('When the building is in use; empty means never.'),
  closed_dates: z.array(CalendarDate).default([]).describe('Days closed despite the opening hours.'),
  points: z.array(Point).default([]),
});

const IsoDate = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, { message: "must be a date 'YYYY-MM-DD'" });

/** A price in force from a date until the next entry for the same quantity (and commune, if given). */
export const Tariff = z.strictObject({
  quantity: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .describe('The metered quantity: electricity, water, gas, heat…'),
  unit: z.string().min(1).describe('Unit the price is per: kWh, m³…'),
  eur_per_unit: z.number().min(0),
  from: IsoDate.describe('First day the price applies.'),
  commune: Id.optional().describe('Applies to one commune only; absent: to all.'),
  source: z.string().optional().describe('Contract or tariff reference.'),
});

/** Greenhouse-gas emissions per unit consumed, with where the figure comes from. */
export const EmissionFactor = z.strictObject({
  quantity: z.string().regex(/^[a-z][a-z0-9_]*$/),
  unit: z.string().min(1),
  kg_co2e_per_unit: z.number().min(0),
  from: IsoDate,
  source: z
    .string()
    .min(1)
    .describe("Where the factor comes from, e.g. 'ADEME Base Empreinte, électricité France, mix moyen'."),
  year: z.number().int().min(1990).max(2100).describe('Reference year of the factor.'),
});

export const Quantity = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, { message: 'must be a quantity in snake_case' });
export const PointRefText = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}\/[a-z0-9][a-z0-9_-]{0,63}$/, {
  message: "must be a point as 'building/point'",
});

/** How points become lines in InfluxDB, and when they count as stale. */
export const TelemetrySection = z
  .strictObject({
    lighting_period_s: z
      .number()
      .min(10)
      .max(3600)
      .default(300)
      .describe('Snapshot of every luminaire in the lighting measurement, besides each change.'),
    device_period_s: z
      .number()
      .min(5)
      .max(3600)
      .default(60)
      .describe('Snapshot of every device in the device measurement, besides each health change.'),
    service_period_s: z
      .number()
      .min(5)
      .max(3600)
      .default(60)
      .describe('Period of the service measurement (spool, points written, alerts open).'),
    stale_factor: z
      .number()
      .min(1)
      .max(1000)
      .default(3)
      .describe('A polled point is stale after this many periods without a good value.'),
    stale_min_s: z
      .number()
      .min(1)
      .max(86400)
      .default(60)
      .describe('Least time before any point counts as stale, whatever its period.'),
    meter_reset: z
      .enum(['index', 'zero'])
      .default('index')
      .describe(
        'A meter index that goes down (not a rollover) is a reset: index counts the new index as consumed since the reset (the meter restarted from 0); zero counts nothing.',
      ),
    max_rates: z
      .record(Quantity, z.number().positive())
      .default({})
      .describe(
        "Highest plausible consumption per hour by meter quantity, e.g. {electricity: 500, water: 20}: a larger jump is flagged bad instead of written as consumption. A point's max_rate overrides it.",
      ),
    max_clock_skew_s: z
      .number()
      .min(1)
      .max(31_536_000)
      .default(3600)
      .describe(
        "A device timestamp further than this from the service's clock is not trusted: the time of reception is written instead.",
      ),
  })
  .default({
    lighting_period_s: 300,
    device_period_s: 60,
    service_period_s: 60,
    stale_factor: 3,
    stale_min_s: 60,
    meter_reset: 'index',
    max_rates: {},
    max_clock_skew_s: 3600,
  });
