import { createHash } from 'node:crypto';
import { TokenAuthenticator, newToken, tokenSha256 } from '../../../controller/http/auth';
import { FailedAuthLimiter, addressKey } from '../../../controller/http/failedAuth';
import { EventTickets } from '../../../controller/http/tickets';
import { ManualClock } from '../../../core/clock';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('TokenAuthenticator', () => {
  const authenticator = new TokenAuthenticator([
    {
      id: 'police-metz',
      name: 'Police municipale',
      role: 'emergency',
      communes: ['metz'],
      token_sha256: sha('police-token-123'),
    },
    { id: 'admin', role: 'admin', communes: ['*'], token_sha256: sha('admin-token-4567') },
  ]);

  it('finds the user whose hash matches the presented token', () => {
    expect(authenticator.authenticateHeader('Bearer police-token-123')).toEqual({
      ok: true,
      user: { id: 'police-metz', name: 'Police municipale', role: 'emergency', communes: ['metz'] },
    });
    expect(authenticator.authenticateHeader('bearer   admin-token-4567')).toMatchObject({
      ok: true,
      user: { id: 'admin' },
    });
  });

  it('says why it refuses: missing, malformed or unknown', () => {
    expect(authenticator.authenticateHeader(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(authenticator.authenticateHeader('')).toEqual({ ok: false, reason: 'missing' });
    expect(authenticator.authenticateHeader('Basic cG9saWNlOnB3')).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(authenticator.authenticateHeader('Bearer short')).toEqual({ ok: false, reason: 'malformed' });
    expect(authenticator.authenticateHeader('Bearer police-token-124')).toEqual({
      ok: false,
      reason: 'unknown',
    });
    expect(authenticator.authenticateToken('POLICE-TOKEN-123')).toEqual({ ok: false, reason: 'unknown' });
  });
});

describe('newToken', () => {
  it('makes 256-bit base64url tokens with the hash the configuration takes', () => {
    const tokens = Array.from({ length: 20 }, () => newToken());
    for (const { token, sha256 } of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(sha256).toBe(sha(token));
      expect(tokenSha256(token)).toBe(sha256);
    }
    expect(new Set(tokens.map((t) => t.token)).size).toBe(20);
    const [first] = tokens;
    expect(
      new TokenAuthenticator([
        { id: 'u', role: 'viewer', communes: ['*'], token_sha256: first.sha256 },
      ]).authenticateToken(first.token).ok,
    ).toBe(true);
  });
});

describe('FailedAuthLimiter', () => {
  it('blocks an address at the limit until its window ends, other addresses unaffected', () => {
    const clock = new ManualClock(0);
    const limiter = new FailedAuthLimiter(clock, 3, 60_000);
    limiter.recordFailure('10.0.0.1');
    clock.advance(10_000);
    limiter.recordFailure('10.0.0.1');
    expect(limiter.blockedFor('10.0.0.1')).toBe(0);
    limiter.recordFailure('10.0.0.1');
    expect(limiter.blockedFor('10.0.0.1')).toBe(50_000);
    expect(limiter.blockedFor('10.0.0.2')).toBe(0);
    clock.advance(50_000);
    expect(limiter.blockedFor('10.0.0.1')).toBe(0);
    limiter.recordFailure('10.0.0.1');
    expect(limiter.blockedFor('10.0.0.1')).toBe(0);
  });
});

describe('FailedAuthLimiter by address and credential', () => {
  it('refuses a credential that keeps failing from any address, and an address whatever it presents', () => {
    const clock = new ManualClock(0);
    const limiter = new FailedAuthLimiter(clock, 3, 60_000);
    for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3'])
      limiter.recordFailure(address, 'Bearer stale');
    expect(limiter.blockedFor('10.0.0.4', 'Bearer stale')).toBe(60_000);
    expect(limiter.blockedFor('10.0.0.4', 'Bearer other')).toBe(0);
    for (const token of ['a', 'b', 'c']) limiter.recordFailure('10.0.0.9', `Bearer ${token}`);
    expect(limiter.blockedFor('10.0.0.9', 'Bearer d')).toBe(60_000);
  });

  it('counts IPv6 clients by their /64 and IPv4-mapped ones as IPv4', () => {
    expect(addressKey('2001:db8:0:1::a')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0DB8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
  });

  it('holds at most 10,000 windows, however many addresses and credentials fail', () => {
    const limiter = new FailedAuthLimiter(new ManualClock(0), 10, 60_000);
    for (let i = 0; i < 30_000; i++)
      limiter.recordFailure(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, `t${i}`);
    expect(limiter.tracked).toBe(10_000);
  });
});

describe('EventTickets', () => {
  const user = { id: 'police-metz', role: 'emergency' as const, communes: ['metz'] };

  it('gives the user back once, within its lifetime', () => {
    const clock = new ManualClock(1000);
    const tickets = new EventTickets(clock, 30_000);
    const { ticket, expiresAt } = tickets.issue(user);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(expiresAt).toBe(31_000);
    expect(tickets.redeem(ticket)).toBe(user);
    expect(tickets.redeem(ticket)).toBeUndefined();
  });

  it('refuses an expired ticket', () => {
    const clock = new ManualClock(0);
    const tickets = new EventTickets(clock, 30_000);
    const { ticket } = tickets.issue(user);
    const { ticket: other } = tickets.issue(user);
    clock.advance(29_999);
    expect(tickets.redeem(other)).toBe(user);
    clock.advance(1);
    expect(tickets.redeem(ticket)).toBeUndefined();
  });
});
