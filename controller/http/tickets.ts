import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock';
import type { AuthenticatedUser } from './auth';

/** Tickets waiting to be used, at most; a client asking for more loses its oldest. */
const MAX_OUTSTANDING = 1000;

/**
 * One-use, short-lived tickets for the event stream. A browser's EventSource cannot send an
 * Authorization header, and the token must never appear in a URL (proxy and server logs, history),
 * so the console trades its token for a ticket (POST with the header) and opens the stream with it.
 */
export class EventTickets {
  private readonly tickets = new Map<string, { user: AuthenticatedUser; expiresAt: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  issue(user: AuthenticatedUser): { ticket: string; expiresAt: number } {
    this.prune();
    if (this.tickets.size >= MAX_OUTSTANDING) {
      const oldest = this.tickets.keys().next().value;
      if (oldest !== undefined) this.tickets.delete(oldest);
    }
    const ticket = randomBytes(24).toString('base64url');
    const expiresAt = this.clock.now() + this.ttlMs;
    this.tickets.set(ticket, { user, expiresAt });
    return { ticket, expiresAt };
  }

  /** The ticket's user, once: a used or expired ticket gives nothing. */
  redeem(ticket: string): AuthenticatedUser | undefined {
    const entry = this.tickets.get(ticket);
    if (!entry) return undefined;
    this.tickets.delete(ticket);
    return entry.expiresAt > this.clock.now() ? entry.user : undefined;
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [ticket, entry] of this.tickets) if (entry.expiresAt <= now) this.tickets.delete(ticket);
  }
}
