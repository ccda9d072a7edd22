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
