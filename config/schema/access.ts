import { z } from 'zod';
import { Id } from './common';

export const ROLES = ['admin', 'lighting-manager', 'emergency', 'energy-manager', 'viewer'] as const;
export const Role = z.enum(ROLES);

export const User = z.strictObject({
  id: Id,
  name: z.string().optional(),
  role: Role,
  communes: z
    .array(z.union([Id, z.literal('*')]))
    .min(1)
    .describe("Communes the user sees and commands; '*' for all."),
  token_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { message: 'must be the hex SHA-256 of the token (64 lowercase hex digits)' })
    .optional()
    .describe(
      'SHA-256 of the bearer token. The token itself is never stored. Absent: the user signs in to the console only (password or enrolment code, set with `nocturne user`).',
    ),
});
