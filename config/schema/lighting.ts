import { z } from 'zod';
import { CalendarDate, ClockTime, Id, Level, Location, TimeZone, Weekday } from './common';

/** '22:30', 'dusk', 'dusk+10min', 'dawn-15min', 'sunset+1h'. */
export const STEP_TIME_PATTERN =
  /^(([01]\d|2[0-3]):[0-5]\d|(dusk|dawn|sunset|sunrise)([+-]\d{1,3}(min|h))?)$/;

export const ProgramStep = z.strictObject({
  at: z
    .string()
    .regex(STEP_TIME_PATTERN, {
      message:
        "must be 'HH:MM' or a sun event dusk|dawn|sunset|sunrise with an optional offset like '+10min' or '-1h'",
    })
    .describe('When the step starts: a clock time or a sun event with an offset.'),
  level: Level,
  fallback: ClockTime.optional().describe('Clock time used when the sun event does not occur that day.'),
  lux: z
    .strictObject({
      point: z.string().min(1).describe("Light sensor as 'building/point'."),
      below: z.number().min(0).describe('Switch on as soon as the light level falls below this (lux).'),
      above: z
        .number()
        .min(0)
        .optional()
        .describe('Switch off when it rises above this (lux); defaults to 2x below.'),
      for_s: z
        .number()
        .min(0)
        .max(3600)
        .default(60)
        .describe(
          'Seconds the light level must stay past a threshold before it switches, so a passing cloud or headlight does not.',
        ),
    })
    .optional()
    .describe(
      'Also follow a light sensor: the step starts at its time or as soon as the sensor allows (below the threshold for a step that raises the level, above it for one that lowers it), whichever is first.',
    ),
});

export const Program = z.strictObject({
  id: Id,
  name: z.string().optional(),
  twilight: z
    .enum(['official', 'civil', 'nautical'])
    .default('civil')
    .describe(
      'Which sun depression defines dusk and dawn: official (sunset), civil (-6°) or nautical (-12°).',
    ),
  min_burn_min: z
    .number()
    .min(0)
    .max(600)
    .default(0)
    .describe(
      'Minimum minutes on once lit before the light sensor may switch the lamps off, so they do not cycle.',
    ),
  steps: z.array(ProgramStep).min(1).describe('Steps of one lighting night (noon to noon), in time order.'),
});

export const CalendarRule = z.strictObject({
  name: z.string().optional(),
  program: Id,
  dates: z
    .array(CalendarDate)
    .min(1)
    .optional()
    .describe('Single dates: public holidays, 14 July, a festival night.'),
  from: CalendarDate.optional().describe('Start of a date range (inclusive).'),
  to: CalendarDate.optional().describe('End of a date range (inclusive).'),
  weekdays: z.array(Weekday).min(1).optional(),
  nth_weekday: z
    .strictObject({
      n: z.union([1, 2, 3, 4, 5, -1].map((n) => z.literal(n))).describe('1-5, or -1 for the last.'),
      weekday: Weekday,
      month: z.number().int().min(1).max(12).optional(),
    })
    .optional(),
  holidays: z
    .enum(['fr', 'fr-alsace-moselle'])
    .optional()
    .describe('Public holidays; fr-alsace-moselle adds Good Friday and 26 December.'),
});

export const Calendar = z.strictObject({
  id: Id,
  name: z.string().optional(),
  default: Id.describe('Program for nights no rule matches.'),
  rules: z
    .array(CalendarRule)
    .default([])
    .describe('Ordered rules: the first whose conditions all hold on the night (noon to noon) wins.'),
});

export const Luminaire = z.strictObject({
  id: Id,
  label: z.string().optional(),
  power_w: z.number().positive().max(2000).describe('Rated power at 100 %.'),
  device: Id.describe('Segment controller driving it.'),
  channel: z.number().int().min(1).max(1024),
  position: Location.optional(),
  neighbours: z
    .array(Id)
    .optional()
    .describe('Explicit neighbours; by default, the previous and next in the list.'),
});

export const Zone = z.strictObject({
  id: Id,
  commune: Id,
  name: z.string().optional(),
  location: Location.optional().describe('Where the sun is computed; defaults to site.location.'),
  timezone: TimeZone.optional().describe('Defaults to site.timezone.'),
  calendar: Id,
  luminaires: z.array(Luminaire).min(1).describe('In order along the street.'),
});

export const PresenceSensor = z.strictObject({
  id: Id,
  zone: Id,
  topic: z
    .string()
    .min(1)
    .refine((t) => !/[+#]/.test(t), { message: 'must be a plain topic without + or # wildcards' })
    .describe('MQTT topic the sensor (or its LoRaWAN network server) publishes detections on.'),
  class_path: z
    .string()
    .default('class')
    .describe(
      "Dot path of the detection class in the JSON payload, e.g. 'uplink_message.decoded_payload.class'.",
    ),
  at: Id.optional().describe(
    'Luminaire at the sensor; with ahead and behind, raises its neighbours along the street.',
  ),
  ahead: z.number().int().min(0).max(50).default(2),
  behind: z.number().int().min(0).max(50).default(1),
  luminaires: z.array(Id).min(1).optional().describe('Explicit list instead of at/ahead/behind.'),
  levels: z
    .record(z.string(), Level)
    .default({ pedestrian: 70, cyclist: 80, vehicle: 100, default: 80 })
    .describe("Level per detection class; 'default' for unknown classes."),
  hold_s: z.number().min(1).max(3600).default(60),
  fade_s: z.number().min(0).max(600).default(10),
  debounce_ms: z.number().int().min(0).max(60_000).default(500),
  fault_level: Level.optional().describe(
    'Level held on the luminaires while the sensor is in fault (silent); absent: no raise, the schedule alone applies.',
  ),
  silent_fault_h: z
    .number()
    .min(0.1)
    .max(720)
    .default(48)
    .describe('Silent longer than this: the sensor is in fault.'),
});

export { ClockTime };
