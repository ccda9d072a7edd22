import { z } from 'zod';
import { EnrolmentFields, PasswordHash, SessionFields, type SignInState } from './signInFile';

/**
 * The sign-in state as records that every instance of a territory shares (cluster mode), one per
 * password hash, session and enrolment code, keyed by what the state file keys them by (the user, the
 * SHA-256 of the session id or code): no record holds a secret a copy could sign in with.
 */

const SessionRecord = z.strictObject(SessionFields);
const EnrolmentRecord = z.strictObject(EnrolmentFields);

export function recordsOf(state: SignInState): Map<string, string> {
  const records = new Map<string, string>();
  for (const [user, hash] of Object.entries(state.passwords)) records.set(`password/${user}`, hash);
  for (const { id_sha256, ...session } of state.sessions)
    records.set(`session/${id_sha256}`, JSON.stringify(session));
  for (const { code_sha256, ...enrolment } of state.enrolments)
    records.set(`enrolment/${code_sha256}`, JSON.stringify(enrolment));
  return records;
}

/** One record read back: what it sets, or why it is ignored. */
export type SignInRecord =
  | { kind: 'password'; user: string; hash: string }
  | { kind: 'session'; id_sha256: string; session: z.infer<typeof SessionRecord> }
  | { kind: 'enrolment'; code_sha256: string; enrolment: z.infer<typeof EnrolmentRecord> }
  | { kind: 'invalid'; problem: string };

/** A record's key: its kind and the name within it (`session/<sha256>`). */
export function keyParts(key: string): { kind: string; name: string } {
  const slash = key.indexOf('/');
  return { kind: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function recordOf(key: string, value: string): SignInRecord {
  const { kind, name } = keyParts(key);
  try {
    switch (kind) {
      case 'password':
        return { kind, user: name, hash: PasswordHash.parse(value) };
      case 'session':
        return { kind, id_sha256: name, session: SessionRecord.parse(JSON.parse(value)) };
      case 'enrolment':
        return { kind, code_sha256: name, enrolment: EnrolmentRecord.parse(JSON.parse(value)) };
      default:
        return { kind: 'invalid', problem: `'${key}': not a password, session or enrolment record` };
    }
  } catch (error) {
    return { kind: 'invalid', problem: `'${key}': ${(error as Error).message.slice(0, 200)}` };
  }
}

/** What turns `from` into `to`: the records to put (new or changed) and the keys to delete. */
export function changesBetween(
  from: ReadonlyMap<string, string>,
  to: ReadonlyMap<string, string>,
): { puts: Map<string, string>; deletes: string[] } {
  const puts = new Map<string, string>();
  for (const [key, value] of to) if (from.get(key) !== value) puts.set(key, value);
  const deletes = [...from.keys()].filter((key) => !to.has(key));
  return { puts, deletes };
}
