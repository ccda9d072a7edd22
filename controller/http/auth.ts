import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UserConfig } from '../../config/schema';

/** A configured user once its token matched. */
export interface AuthenticatedUser {
  id: string;
  name?: string;
  role: UserConfig['role'];
  communes: readonly string[];
}

export type AuthResult =
  { ok: true; user: AuthenticatedUser } | { ok: false; reason: 'missing' | 'malformed' | 'unknown' };

/** Bearer tokens are opaque: anything printable, within reason. */
const TOKEN_PATTERN = /^[\x21-\x7e]{8,512}$/;

/**
 * Bearer tokens checked against the configured SHA-256 hashes. The presented token is hashed and
 * compared with every user's hash in constant time, so neither the position of a match nor the
 * first differing byte shows in the response time. Tokens are never stored or logged.
 */
export class TokenAuthenticator {
  private readonly users: { hash: Buffer; user: AuthenticatedUser }[];

  constructor(users: readonly UserConfig[]) {
    // People who only sign in to the console have no token.
    this.users = users.flatMap((u) =>
      u.token_sha256 === undefined
        ? []
        : [{ hash: Buffer.from(u.token_sha256, 'hex'), user: authenticatedUser(u) }],
    );
  }

  /** From an `Authorization` header value. */
  authenticateHeader(header: string | undefined): AuthResult {
    if (header === undefined || header === '') return { ok: false, reason: 'missing' };
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!match) return { ok: false, reason: 'malformed' };
    return this.authenticateToken(match[1]);
  }

  authenticateToken(token: string): AuthResult {
    if (!TOKEN_PATTERN.test(token)) return { ok: false, reason: 'malformed' };
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let found: AuthenticatedUser | undefined;
    // No early exit: every hash is compared whatever the outcome.
    for (const { hash, user } of this.users) {
      if (timingSafeEqual(hash, presented) && found === undefined) found = user;
    }
    return found ? { ok: true, user: found } : { ok: false, reason: 'unknown' };
  }
}

export function authenticatedUser(u: UserConfig): AuthenticatedUser {
  return {
    id: u.id,
    ...(u.name !== undefined ? { name: u.name } : {}),
    role: u.role,
    communes: [...u.communes],
  };
}

/** A new token: 32 random bytes (256 bits), base64url, with the line to paste into the configuration. */
export function newToken(): { token: string; sha256: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, sha256: tokenSha256(token) };
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
