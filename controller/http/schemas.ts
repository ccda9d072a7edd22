import { z } from 'zod';
import { Id, Level } from '../../config/schema/common';
import { Calendar, Program } from '../../config/schema/lighting';
import type { TargetSpec } from '../lighting/topology';
import { AUDIT_ACTIONS } from '../audit/entry';
import { AUDIT_EXPORT_FORMATS } from '../audit/export';
import { COMMAND_ID_PATTERN } from '../lighting/runtime/requestChecks';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './passwords';

/**
 * Request schemas of the HTTP API. Field names are camelCase, like the service's answers. Each field
 * says what it takes, so the OpenAPI document at /api/openapi.json needs no other source.
 */

/** Command ids: as the MQTT bridge accepts them, so one id can be cleared from either side. */
export const CommandId = z
  .string()
  .regex(COMMAND_ID_PATTERN, {
    message: "must be 1-64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
  })
  .describe('Command id: the same id again replaces that command.');

export const IdParams = z.strictObject({ id: Id });
export const CommandIdParams = z.strictObject({ id: CommandId });
export const AlertIdParams = z.strictObject({
  id: z.string().min(1).max(200).describe('Alert id, as listed by GET /api/alerts.'),
});

const TARGET_KEYS = ['all', 'commune', 'zone', 'luminaires'] as const;

export const Target = z
  .strictObject({
    all: z
      .literal(true)
      .optional()
      .describe('Every luminaire in the actor’s communes… and beyond: admin only in practice.'),
    commune: Id.optional(),
    zone: Id.optional(),
    luminaires: z.array(Id).min(1).max(10_000).optional(),
  })
  .superRefine((target, ctx) => {
    const given = TARGET_KEYS.filter((k) => target[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `give exactly one of 'all', 'commune', 'zone', 'luminaires' (given: ${given.length === 0 ? 'none' : given.map((k) => `'${k}'`).join(', ')})`,
      });
  })
  .describe('Whom the command is for: exactly one of {all: true}, {commune}, {zone}, {luminaires: [ids]}.');

export function toTargetSpec(target: z.output<typeof Target>): TargetSpec {
  if (target.all) return { all: true };
  if (target.commune !== undefined) return { commune: target.commune };
  if (target.zone !== undefined) return { zone: target.zone };
  return { luminaires: target.luminaires ?? [] };
}

/** An instant: ISO 8601 with its offset, or epoch milliseconds. */
const ISO_TIME = {
  offset: true,
  error: "must be an ISO 8601 time with its offset, e.g. '2025-07-14T23:30:00+02:00', or epoch milliseconds",
} as const;

export const Instant = z
  .union([z.iso.datetime(ISO_TIME), z.number().int().min(0)])
  .describe("ISO 8601 time with its offset ('2025-07-14T23:30:00+02:00') or epoch milliseconds.");

export function instantMs(value: string | number): number {
  return typeof value === 'number' ? value : Date.parse(value);
}

const Reason = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .describe('Why: shown to operators and kept in the audit log.');
const ExpiresInMin = z
  .number()
  .int()
  .min(1)
  .max(7 * 24 * 60)
  .describe('Ends on its own after this many minutes (the service’s clock, not the caller’s).');

const atMostOneExpiry = (
  body: { expiresAt?: unknown; expiresInMin?: unknown },
  ctx: z.core.$RefinementCtx,
): void => {
  if (body.expiresAt !== undefined && body.expiresInMin !== undefined)
    ctx.addIssue({
      code: 'custom',
      message: "give 'expiresAt' or 'expiresInMin', not both",
      path: ['expiresInMin'],
    });
};

export const RelightBody = z
  .strictObject({
    id: CommandId.optional(),
    target: Target,
    level: Level.default(100),
    reason: Reason,
    expiresAt: Instant.optional().describe('When the relight ends on its own; absent: until cleared.'),
    expiresInMin: ExpiresInMin.optional(),
  })
  .superRefine(atMostOneExpiry);

export const OverrideBody = z
  .strictObject({
    id: CommandId.optional(),
    target: Target,
    level: Level,
    reason: Reason,
    expiresAt: Instant.optional(),
    expiresInMin: ExpiresInMin.optional(),
    untilReleased: z.boolean().optional().describe('true: in force until released (no expiry).'),
  })
  .superRefine((body, ctx) => {
    atMostOneExpiry(body, ctx);
    const expiring = body.expiresAt !== undefined || body.expiresInMin !== undefined;
    if (expiring === (body.untilReleased === true))
      ctx.addIssue({
        code: 'custom',
        message: "give an expiry ('expiresAt' or 'expiresInMin') or 'untilReleased: true', exactly one",
        path: ['untilReleased'],
      });
  });

export const WaitQuery = z.strictObject({
  waitMs: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .optional()
    .describe('Wait up to this long for the devices to confirm before answering.'),
});

/** A program body: the configuration's own schema, the id coming from the path when absent. */
export const ProgramBody = Program.extend({ id: Id.optional() });
export const CalendarBody = Calendar.extend({ id: Id.optional() });

export const AssignCalendarBody = z.strictObject({ calendar: Id });

const NightDate = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, { message: "must be a date 'YYYY-MM-DD'" });

const programSource = {
  program: Id.optional().describe('A saved program, by id.'),
  draft: ProgramBody.optional().describe('A program not saved yet, e.g. while editing.'),
};

const oneProgram = (body: { program?: unknown; draft?: unknown }, ctx: z.core.$RefinementCtx): void => {
  if ((body.program === undefined) === (body.draft === undefined))
    ctx.addIssue({
      code: 'custom',
      message: "give 'program' (an id) or 'draft' (a program), exactly one",
      path: ['program'],
    });
};

export const PreviewBody = z
  .strictObject({
    zone: Id,
    night: NightDate.describe("The night's first date (a lighting night runs noon to noon)."),
    ...programSource,
  })
  .superRefine(oneProgram);

export const YearCostBody = z
  .strictObject({
    zone: Id,
    from: NightDate.optional().describe('First night; default: the current night.'),
    nights: z.number().int().min(1).max(731).optional().describe('Default 365.'),
    ...programSource,
  })
  .superRefine(oneProgram);

export const CalendarPreviewBody = z.strictObject({
  zone: Id,
  calendar: Calendar.describe('The draft calendar, as PUT /api/calendars/:id would take it (with its id).'),
  from: NightDate.optional().describe('First night; default: the current night.'),
  nights: z.number().int().min(1).max(62).optional().describe('Nights listed one by one; default 14.'),
});

export const AlertsQuery = z.strictObject({
  includeCleared: z.stringbool().optional().describe('Add recently cleared alerts.'),
});

const QueryInstant = z
  .union([z.iso.datetime(ISO_TIME), z.string().regex(/^\d{1,15}$/, { message: 'must be epoch ms' })])
  .describe('ISO 8601 time with its offset, or epoch milliseconds.');

export const AuditQueryString = z.strictObject({
  from: QueryInstant.optional(),
  to: QueryInstant.optional(),
  actor: Id.optional(),
  commune: Id.optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
});

export const AuditExportQuery = z.strictObject({
  user: Id.describe('Whose actions: your own id, or (admin) anyone’s.'),
  format: z.enum(AUDIT_EXPORT_FORMATS).default('json').describe('json, or csv for a spreadsheet.'),
});

export function queryInstantMs(value: string): number {
  return /^\d+$/.test(value) ? Number(value) : Date.parse(value);
}

export const HealthQuery = z.strictObject({
  role: z
    .literal('leader')
    .optional()
    .describe(
      "'leader': 503 unless this instance leads its shard (a load balancer's check, so that consoles reach the leader).",
    ),
});

export const EventsQuery = z.strictObject({
  ticket: z.string().min(1).max(200).optional().describe('One-use ticket from POST /api/events/ticket.'),
});

/** Sign-in for people (routes/people.ts). A password's own rules are checked by the route (passwords.ts). */
export const SignInBody = z.strictObject({
  user: z.string().min(1).max(64).describe('The user id of the configuration (users[].id).'),
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
});

export const EnrolBody = z.strictObject({
  code: z
    .string()
    .regex(/^[\w-]{22}$/, { message: 'must be the 22-character code of the enrolment link' })
    .describe('The code of an enrolment link, from POST /api/users/{id}/enrolment.'),
});

export const PasswordBody = z.strictObject({
  password: z
    .string()
    .min(PASSWORD_MIN_LENGTH)
    .max(PASSWORD_MAX_LENGTH)
    .describe(`The new password, ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`),
});
