import { z } from 'zod';
import { CalendarDate, ClockTime, Id, Location, Weekday } from './common';
import { ModbusBinding, OpcuaBinding } from './devices';

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
  rollover: z
    .number()
    .positive()
    .optional()
    .describe('Meters: the value at which the index wraps to zero (default: from the data type and scale).'),
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
