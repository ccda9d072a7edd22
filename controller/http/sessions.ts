import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../core/clock';
import type { SharedFolder } from '../../drivers/coordination';
import type { SignInState, StoredEnrolment, StoredSession } from './signInFile';
import { changesBetween, keyParts, recordOf, recordsOf } from './signInRecords';

/**
 * Sign-in for people: password hashes, browser sessions and enrolment codes, kept in memory and saved
 * whole (through `save`) before any change is acknowledged, so that a session survives a restart.
 * Session ids and enrolment codes are 256 and 128 random bits, handed out once and stored only as
 * SHA-256: a copy of the state file signs nobody in. Time comes from the clock (fake in tests).
 */

export interface SignInOptions {
  /** How long a browser stays signed in (the cookie's Max-Age too). */
  sessionMs: number;
  /** How long an enrolment code can be used. */
  enrolmentMs: number;
}

/** Sessions one user may hold (phones, desktops); beyond it the oldest ends. */
const MAX_SESSIONS_PER_USER = 20;

export class SignIns {
  private readonly passwords = new Map<string, string>();
  private readonly sessions = new Map<string, StoredSession>();
  private readonly enrolments = new Map<string, StoredEnrolment>();
  private saving: Promise<void> = Promise.resolve();
  private shared?: SharedFolder;
  /** The shared records as this instance last wrote or heard them. */
  private sharedRecords = new Map<string, string>();

  constructor(
    private readonly clock: Clock,
    private readonly options: SignInOptions,
    private readonly save: (state: SignInState) => Promise<void>,
    /** A shared record that cannot be read (written by another version, say): ignored, and said why. */
    private readonly refused: (problem: string) => void = () => undefined,
  ) {}

  get sessionMs(): number {
    return this.options.sessionMs;
  }

  restore(state: SignInState): void {
    for (const [user, hash] of Object.entries(state.passwords)) this.passwords.set(user, hash);
    for (const session of state.sessions) this.sessions.set(session.id_sha256, session);
    for (const enrolment of state.enrolments) this.enrolments.set(enrolment.code_sha256, enrolment);
  }

  /**
   * From now on, the state is the one every instance shares: the shared records replace what the local
   * file held (the first instance to share seeds them with its own), each change made here is written
   * to them before it is acknowledged, and each change made elsewhere is applied here and saved.
   */
  async share(shared: SharedFolder): Promise<void> {
    const records = await shared.follow((key, value) => this.changedElsewhere(key, value));
    this.shared = shared;
    if (records.size > 0) {
      this.passwords.clear();
      this.sessions.clear();
      this.enrolments.clear();
      for (const [key, value] of records) this.apply(key, value);
      this.sharedRecords = records;
    }
    await this.commit();
  }

  private changedElsewhere(key: string, value: string | undefined): void {
    // This instance's own writes come back too.
    if (this.sharedRecords.get(key) === value) return;
    if (value === undefined) this.sharedRecords.delete(key);
    else this.sharedRecords.set(key, value);
    this.apply(key, value);
    this.commit().catch(() => undefined);
  }

  /** One shared record into the maps (undefined: deleted). */
  private apply(key: string, value: string | undefined): void {
    if (value === undefined) {
      const { kind, name } = keyParts(key);
      const maps = { password: this.passwords, session: this.sessions, enrolment: this.enrolments };
      if (Object.hasOwn(maps, kind)) maps[kind as keyof typeof maps].delete(name);
      return;
    }
    const record = recordOf(key, value);
    switch (record.kind) {
      case 'password':
        this.passwords.set(record.user, record.hash);
        return;
      case 'session':
        this.sessions.set(record.id_sha256, { id_sha256: record.id_sha256, ...record.session });
        return;
      case 'enrolment':
        this.enrolments.set(record.code_sha256, { code_sha256: record.code_sha256, ...record.enrolment });
        return;
      case 'invalid':
        this.refused(`shared sign-in record ${record.problem}; ignored`);
    }
  }

  /** What is saved: expired sessions and codes left out. */
  snapshot(): SignInState {
    const now = this.clock.now();
    return {
      version: 1,
      passwords: Object.fromEntries(this.passwords),
      sessions: [...this.sessions.values()].filter((s) => s.expires_at > now),
      enrolments: [...this.enrolments.values()].filter((e) => e.expires_at > now),
    };
  }

  passwordOf(user: string): string | undefined {
    return this.passwords.get(user);
  }

  /** A new password ends the user's sessions: it is set when the old one may be known to someone else. */
  async setPassword(user: string, hash: string): Promise<number> {
    this.passwords.set(user, hash);
    const ended = this.dropSessionsOf(user);
    await this.commit();
    return ended;
  }

  /** A new session, saved before its id is returned: the id goes only into the cookie. */
  async open(user: string): Promise<{ id: string; expiresAt: number }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const session = {
      id_sha256: sha256(id),
      user,
      created_at: now,
      expires_at: now + this.options.sessionMs,
    };
    const mine = [...this.sessions.values()].filter((s) => s.user === user);
    if (mine.length >= MAX_SESSIONS_PER_USER) this.sessions.delete(mine[0].id_sha256);
    this.sessions.set(session.id_sha256, session);
    try {
      await this.commit();
    } catch (error) {
      this.sessions.delete(session.id_sha256);
      throw error;
    }
    return { id, expiresAt: session.expires_at };
  }

  /** Sessions in force per user. */
  sessionCounts(): Map<string, number> {
    const now = this.clock.now();
    const counts = new Map<string, number>();
    for (const session of this.sessions.values())
      if (session.expires_at > now) counts.set(session.user, (counts.get(session.user) ?? 0) + 1);
    return counts;
  }

  /** The session of a cookie's id while it lasts. */
  find(id: string): StoredSession | undefined {
    const session = this.sessions.get(sha256(id));
    return session && session.expires_at > this.clock.now() ? session : undefined;
  }

  async end(id: string): Promise<boolean> {
    if (!this.sessions.delete(sha256(id))) return false;
    await this.commit();
    return true;
  }

  /** Sign-out everywhere: every session of the user, and the codes not yet used. Returns how many sessions ended. */
  async endAll(user: string): Promise<number> {
    const ended = this.dropSessionsOf(user);
    for (const [key, enrolment] of this.enrolments) if (enrolment.user === user) this.enrolments.delete(key);
    await this.commit();
    return ended;
  }

  /** A one-use code for a phone; it replaces the user's earlier codes. */
  async issueEnrolment(user: string): Promise<{ code: string; expiresAt: number }> {
    for (const [key, enrolment] of this.enrolments) if (enrolment.user === user) this.enrolments.delete(key);
    const code = randomBytes(16).toString('base64url');
    const expiresAt = this.clock.now() + this.options.enrolmentMs;
    this.enrolments.set(sha256(code), { code_sha256: sha256(code), user, expires_at: expiresAt });
    await this.commit();
    return { code, expiresAt };
  }

  /** The code's user, once: a used or expired code gives nothing. */
  async redeem(code: string): Promise<string | undefined> {
    const key = sha256(code);
    const enrolment = this.enrolments.get(key);
    if (!enrolment) return undefined;
    this.enrolments.delete(key);
    await this.commit();
    return enrolment.expires_at > this.clock.now() ? enrolment.user : undefined;
  }

  private dropSessionsOf(user: string): number {
    let ended = 0;
    for (const [key, session] of this.sessions)
      if (session.user === user) {
        this.sessions.delete(key);
        ended++;
      }
    return ended;
  }

  /**
   * Saves one after the other, each the state as it is when its turn comes: the shared records first
   * (what changed here since they were last written or heard), then the local file.
   */
  private commit(): Promise<void> {
    const next = this.saving
      .catch(() => undefined)
      .then(async () => {
        const state = this.snapshot();
        if (this.shared) {
          const { puts, deletes } = changesBetween(this.sharedRecords, recordsOf(state));
          if (puts.size > 0 || deletes.length > 0) {
            await this.shared.write(puts, deletes);
            for (const [key, value] of puts) this.sharedRecords.set(key, value);
            for (const key of deletes) this.sharedRecords.delete(key);
          }
        }
        await this.save(state);
      });
    this.saving = next;
    return next;
  }
}

function sha256(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

// ---- the cookie and CSRF: pure functions of the request ----

export const SESSION_COOKIE = 'nocturne_session';
export const CSRF_HEADER = 'x-csrf-token';
const SESSION_ID_PATTERN = /^[\w-]{43}$/;

/** The session id in a Cookie header, when there is one of the right shape. */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return SESSION_ID_PATTERN.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/**
 * The Set-Cookie value. HttpOnly: no script reads it. SameSite=Strict: no other site's page can
 * send it, and it costs the console nothing, since the only request a cross-site link makes (the
 * page itself) is a static file; the API calls that follow come from the console's own origin.
 * Secure when the request came over TLS (directly or through a declared proxy's X-Forwarded-Proto).
 */
export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${id}`,
    'Path=/',
    `Max-Age=${Math.floor(maxAgeMs / 1000)}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/**
 * The CSRF token of a session: an HMAC keyed by the session id, so it needs no storage, cannot be
 * computed without the cookie (which no script reads), and is the same again after a restart.
 */
export function csrfTokenFor(sessionId: string): string {
  return createHmac('sha256', sessionId).update('nocturne csrf').digest('base64url');
}

/** Methods that change nothing, which a cookie alone may call. */
export function changesState(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
}

/** Whether a cookie-authenticated request carries its session's CSRF token, compared in constant time. */
export function csrfMatches(sessionId: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(csrfTokenFor(sessionId));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
