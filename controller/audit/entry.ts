import type { Actor, Role } from '../scope';

/** What the audit log records: one entry per command, from HTTP, the console, the CLI or MQTT. */
export const AUDIT_ACTIONS = [
  'relight',
  'clear-relight',
  'override',
  'release-override',
  'put-program',
  'delete-program',
  'put-calendar',
  'delete-calendar',
  'assign-calendar',
  'acknowledge-alert',
  'notify-alert',
  'export-audit',
  'set-password',
  'enrol',
  'sign-out-everywhere',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One command, as the audit log keeps it: who, what, when, from where, and its result. */
export interface AuditEntry {
  /** Epoch ms. */
  at: number;
  /** Configuration user id; over MQTT, the actor the dispatch system named. */
  actor: string;
  /** Absent for MQTT requests: the broker's ACL, not a configured user, let them in. */
  role?: Role;
  /** 'service': done by the service itself (an alert sent to a person). */
  via: Actor['via'] | 'service';
  /** Client address (HTTP), client id / topic (MQTT), or channel (an alert sent: email, sms). */
  from: string;
  action: AuditAction;
  /** What it was about, as an operator reads it: 'zone metz-rue-serpenoise', 'program eco', 'alert 12'. */
  target: string;
  /** Communes concerned; '*' for the whole territory; empty when unknown (a refused request). */
  communes: string[];
  /** ok: done; refused: not allowed, invalid or in conflict (4xx); failed: the service could not (5xx). */
  result: 'ok' | 'refused' | 'failed';
  /** HTTP status; absent for MQTT. */
  status?: number;
  /** What was done, or why not. */
  message: string;
  /** Id of the command, program, calendar or alert. */
  id?: string;
  /**
   * Only on the entry written when a refusal window closes: how many refusals, held back in that window,
   * it stands for (see AuditLog).
   */
  count?: number;
}
