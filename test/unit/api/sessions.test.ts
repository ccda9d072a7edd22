import {
  PasswordHashingBusy,
  hashPassword,
  isPasswordHash,
  verifyPassword,
} from '../../../controller/http/passwords';
import {
  SignIns,
  changesState,
  csrfMatches,
  csrfTokenFor,
  sessionCookie,
  sessionIdOf,
} from '../../../controller/http/sessions';
import type { SignInState } from '../../../controller/http/signInFile';
import type { SharedFolder } from '../../../drivers/coordination';
import { ManualClock } from '../../../core/clock';

/** Cheap on purpose: the cost travels with the hash, and these tests are about its checks. */
const CHEAP = { log2N: 10, r: 8, p: 1 };
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

describe('passwords (scrypt)', () => {
  it('verifies the password it hashed and refuses any other', async () => {
    const stored = await hashPassword('lampadaire-rue-serpenoise', CHEAP);
    expect(stored).toMatch(/^scrypt\$10\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(isPasswordHash(stored)).toBe(true);
    await expect(verifyPassword('lampadaire-rue-serpenoise', stored)).resolves.toBe(true);
    await expect(verifyPassword('lampadaire-rue-serpenoisE', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('salts each hash: the same password twice gives two hashes, both verifying', async () => {
    const [a, b] = await Promise.all([
      hashPassword('même mot de passe', CHEAP),
      hashPassword('même mot de passe', CHEAP),
    ]);
    expect(a).not.toBe(b);
    await expect(verifyPassword('même mot de passe', a)).resolves.toBe(true);
    await expect(verifyPassword('même mot de passe', b)).resolves.toBe(true);
  });

  it('reads the cost from the stored hash, and the default cost is the stated one', async () => {
    const stored = await hashPassword('coût par défaut 2^15');
    expect(stored.startsWith('scrypt$15$8$3$')).toBe(true);
    await expect(verifyPassword('coût par défaut 2^15', stored)).resolves.toBe(true);
  });

  it('refuses with no hash, or a damaged one, without throwing', async () => {
    const stored = await hashPassword('un mot de passe', CHEAP);
    await expect(verifyPassword('un mot de passe', undefined)).resolves.toBe(false);
    await expect(verifyPassword('un mot de passe', stored.replace('scrypt$', 'bcrypt$'))).resolves.toBe(
      false,
    );
    // A character in the middle of the key (the last one also carries padding bits).
    const at = stored.length - 10;
    const flipped = stored.slice(0, at) + (stored[at] === 'A' ? 'B' : 'A') + stored.slice(at + 1);
    await expect(verifyPassword('un mot de passe', flipped)).resolves.toBe(false);
  });
});

it('checks one password at a time, and turns away checks beyond 16 waiting rather than queue them', async () => {
  const stored = await hashPassword('un mot de passe', CHEAP);
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, () => verifyPassword('un mot de passe', stored)),
  );
  expect(results.filter((r) => r.status === 'fulfilled' && r.value)).toHaveLength(16);
  expect(
    results.filter((r) => r.status === 'rejected' && r.reason instanceof PasswordHashingBusy),
  ).toHaveLength(4);
  await expect(verifyPassword('un mot de passe', stored)).resolves.toBe(true);
});

describe('SignIns', () => {
  const start = Date.parse('2026-07-14T01:00:00Z');
  let clock: ManualClock;
  let saved: SignInState[];
  let signIns: SignIns;

  beforeEach(() => {
    clock = new ManualClock(start);
    saved = [];
    signIns = new SignIns(clock, { sessionMs: 30 * DAY, enrolmentMs: 15 * MINUTE }, (state) => {
      saved.push(state);
      return Promise.resolve();
    });
  });

  it('keeps a session until it expires, and saves it, hashed, before giving its id', async () => {
    const { id, expiresAt } = await signIns.open('police-metz');
    expect(expiresAt).toBe(start + 30 * DAY);
    expect(saved).toHaveLength(1);
    expect(JSON.stringify(saved[0])).not.toContain(id);
    const [stored] = saved[0].sessions;
    expect(stored.id_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(stored).toEqual({
      id_sha256: stored.id_sha256,
      user: 'police-metz',
      created_at: start,
      expires_at: expiresAt,
    });
    expect(signIns.find(id)?.user).toBe('police-metz');
    clock.advance(30 * DAY - 1);
    expect(signIns.find(id)?.user).toBe('police-metz');
    clock.advance(1);
    expect(signIns.find(id)).toBeUndefined();
    expect(signIns.snapshot().sessions).toEqual([]);
  });

  it('restores saved sessions, as after a restart', async () => {
    const { id } = await signIns.open('police-metz');
    const again = new SignIns(clock, { sessionMs: 30 * DAY, enrolmentMs: 15 * MINUTE }, () =>
      Promise.resolve(),
    );
    again.restore(saved[saved.length - 1]);
    expect(again.find(id)?.user).toBe('police-metz');
    expect(again.find(`${id.slice(0, -1)}x`)).toBeUndefined();
  });

  it('signs a user out everywhere, leaving the others signed in', async () => {
    const phone = await signIns.open('police-metz');
    const desk = await signIns.open('police-metz');
    const other = await signIns.open('admin');
    await expect(signIns.endAll('police-metz')).resolves.toBe(2);
    expect(signIns.find(phone.id)).toBeUndefined();
    expect(signIns.find(desk.id)).toBeUndefined();
    expect(signIns.find(other.id)?.user).toBe('admin');
    expect(saved[saved.length - 1].sessions.map((s) => s.user)).toEqual(['admin']);
  });

  it('ends the sessions of a user whose password is set anew', async () => {
    const { id } = await signIns.open('police-metz');
    await expect(signIns.setPassword('police-metz', 'scrypt$10$8$1$x$y')).resolves.toBe(1);
    expect(signIns.find(id)).toBeUndefined();
    expect(signIns.passwordOf('police-metz')).toBe('scrypt$10$8$1$x$y');
  });

  it('takes an enrolment code once, within its 15 minutes, and a new code replaces the old', async () => {
    const first = await signIns.issueEnrolment('police-metz');
    const second = await signIns.issueEnrolment('police-metz');
    await expect(signIns.redeem(first.code)).resolves.toBeUndefined();
    await expect(signIns.redeem(second.code)).resolves.toBe('police-metz');
    await expect(signIns.redeem(second.code)).resolves.toBeUndefined();

    const late = await signIns.issueEnrolment('police-metz');
    clock.advance(15 * MINUTE);
    await expect(signIns.redeem(late.code)).resolves.toBeUndefined();
  });

  it('forgets a session whose saving failed, and says so', async () => {
    const failing = new SignIns(clock, { sessionMs: DAY, enrolmentMs: MINUTE }, () =>
      Promise.reject(new Error('ENOSPC: no space left on device')),
    );
    await expect(failing.open('police-metz')).rejects.toThrow('ENOSPC');
    expect(failing.snapshot().sessions).toEqual([]);
  });
});

/** The territory's shared records as etcd keeps them: every write reaches every follower, its writer too. */
class SharedRecordsInMemory {
  readonly records = new Map<string, string>();
  private readonly followers: ((key: string, value: string | undefined) => void)[] = [];
  failWrites = false;

  folder(): SharedFolder {
    return {
      follow: (changed) => {
        this.followers.push(changed);
        return Promise.resolve(new Map(this.records));
      },
      write: (puts, deletes) => {
        if (this.failWrites) return Promise.reject(new Error('etcd: no member answers'));
        for (const [key, value] of puts) this.records.set(key, value);
        for (const key of deletes) this.records.delete(key);
        // Delivered later, as a watch's events are.
        setImmediate(() => {
          for (const changed of this.followers) {
            for (const [key, value] of puts) changed(key, value);
            for (const key of deletes) changed(key, undefined);
          }
        });
        return Promise.resolve();
      },
    };
  }
}

describe('SignIns shared by the instances of a territory', () => {
  const clock = new ManualClock(Date.parse('2026-07-14T01:00:00Z'));
  const options = { sessionMs: 30 * DAY, enrolmentMs: 15 * MINUTE };
  const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const instance = (problems: string[] = []): SignIns =>
    new SignIns(
      clock,
      options,
      () => Promise.resolve(),
      (problem) => problems.push(problem),
    );

  it('knows on one instance the sessions and codes made on another, and their end', async () => {
    const shared = new SharedRecordsInMemory();
    const [a, b] = [instance(), instance()];
    await a.share(shared.folder());
    await b.share(shared.folder());
    const phone = await a.open('police-metz');
    await settled();
    expect(b.find(phone.id)?.user).toBe('police-metz');
    expect(shared.records.size).toBe(1);
    expect([...shared.records.values()].join()).not.toContain(phone.id);

    const { code } = await b.issueEnrolment('sdis-57');
    await settled();
    await expect(a.redeem(code)).resolves.toBe('sdis-57');
    await settled();
    await expect(b.redeem(code)).resolves.toBeUndefined();

    await expect(b.endAll('police-metz')).resolves.toBe(1);
    await settled();
    expect(a.find(phone.id)).toBeUndefined();
    expect(shared.records.size).toBe(0);
  });

  it('seeds the shared records from the first instance, and an instance joining later forgets its own stale file', async () => {
    const shared = new SharedRecordsInMemory();
    const first = instance();
    const kept = await first.open('police-metz');
    await first.share(shared.folder());
    expect(shared.records.size).toBe(1);

    // Signed out everywhere while this instance was down: its own file still holds the session.
    const stale = instance();
    const ended = await stale.open('admin');
    await stale.share(shared.folder());
    expect(stale.find(ended.id)).toBeUndefined();
    expect(stale.find(kept.id)?.user).toBe('police-metz');
    expect(stale.snapshot().sessions.map((s) => s.user)).toEqual(['police-metz']);
  });

  it('ignores a shared record it cannot read, and says which', async () => {
    const shared = new SharedRecordsInMemory();
    shared.records.set('session/ab', '{"user": 12}');
    shared.records.set('password/admin', 'not a hash');
    const problems: string[] = [];
    const a = instance(problems);
    await a.share(shared.folder());
    expect(a.snapshot().sessions).toEqual([]);
    expect(a.passwordOf('admin')).toBeUndefined();
    expect(problems).toEqual([
      expect.stringContaining("'session/ab'"),
      expect.stringContaining("'password/admin': "),
    ]);
  });

  it('gives no session when the shared records cannot be written', async () => {
    const shared = new SharedRecordsInMemory();
    const a = instance();
    await a.share(shared.folder());
    shared.failWrites = true;
    await expect(a.open('police-metz')).rejects.toThrow('no member answers');
    expect(a.snapshot().sessions).toEqual([]);
  });
});

describe('the session cookie and CSRF', () => {
  const id = 'a'.repeat(40) + 'b-_';

  it('reads the session id among other cookies, and nothing of a malformed one', () => {
    expect(sessionIdOf(`theme=dark; nocturne_session=${id}; x=1`)).toBe(id);
    expect(sessionIdOf('nocturne_session=short')).toBeUndefined();
    expect(sessionIdOf(undefined)).toBeUndefined();
    expect(sessionIdOf('other=1')).toBeUndefined();
  });

  it('sets an HttpOnly, SameSite=Strict cookie, Secure over TLS only', () => {
    expect(sessionCookie(id, 30 * DAY, false)).toBe(
      `nocturne_session=${id}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Strict`,
    );
    expect(sessionCookie(id, DAY, true)).toMatch(/; Secure$/);
  });

  it('accepts only the token of this very session, on requests that change state', () => {
    const token = csrfTokenFor(id);
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(csrfMatches(id, token)).toBe(true);
    expect(csrfMatches(id, csrfTokenFor('c'.repeat(43)))).toBe(false);
    expect(csrfMatches(id, token.slice(1))).toBe(false);
    expect(csrfMatches(id, undefined)).toBe(false);
    expect(csrfMatches(id, [token])).toBe(false);
    expect(['GET', 'HEAD', 'OPTIONS'].map(changesState)).toEqual([false, false, false]);
    expect(['POST', 'PUT', 'DELETE', 'PATCH'].map(changesState)).toEqual([true, true, true, true]);
  });
});
