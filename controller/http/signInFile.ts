import { readFile, rename } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomically } from '../../drivers/durableFile';
import type { Logger } from '../../core/logger';
import { isPasswordHash } from './passwords';

export interface StoredSession {
  id_sha256: string;
  user: string;
  created_at: number;
  expires_at: number;
}

export interface StoredEnrolment {
  code_sha256: string;
  user: string;
  expires_at: number;
}

/** The state file's content (`people.json` in the state directory). */
export interface SignInState {
  version: 1;
  /** User id → scrypt hash (passwords.ts). */
  passwords: Record<string, string>;
  sessions: StoredSession[];
  enrolments: StoredEnrolment[];
}

/** people.json in the state directory: password hashes, sessions and enrolment codes (all hashed). */
export const SIGN_IN_FILE = 'people.json';

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);
export const PasswordHash = z.string().refine(isPasswordHash, { message: 'not a scrypt hash' });
export const SessionFields = { user: z.string(), created_at: z.number(), expires_at: z.number() };
export const EnrolmentFields = { user: z.string(), expires_at: z.number() };
const StateFile = z.strictObject({
  version: z.literal(1),
  passwords: z.record(z.string(), PasswordHash),
  sessions: z.array(z.strictObject({ id_sha256: Hex64, ...SessionFields })),
  enrolments: z.array(z.strictObject({ code_sha256: Hex64, ...EnrolmentFields })),
});

export const EMPTY_SIGN_IN_STATE: SignInState = { version: 1, passwords: {}, sessions: [], enrolments: [] };

/**
 * The saved state, or an empty one when there is none. A file that cannot be read as such is moved
 * aside (kept for whoever investigates) and the service starts without it: people sign in again,
 * which is better than no lighting service at all.
 */
export async function loadSignInState(file: string, logger: Logger, now: number): Promise<SignInState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_SIGN_IN_STATE;
    throw error;
  }
  let problem: string;
  try {
    const parsed = StateFile.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    problem = `${issue.path.join('.') || '(root)'}: ${issue.message}`;
  } catch (error) {
    problem = (error as Error).message;
  }
  const aside = `${file}.unreadable-${now}`;
  await rename(file, aside);
  logger.error(
    `${file}: ${problem}; moved to ${aside}, starting with no passwords or sessions (set them again with 'nocturne user password')`,
  );
  return EMPTY_SIGN_IN_STATE;
}

export function saveSignInState(file: string, state: SignInState): Promise<void> {
  return writeFileAtomically(file, `${JSON.stringify(state, null, 1)}\n`);
}
