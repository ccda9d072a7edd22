import type { IANAZone } from 'luxon';
import type {
  NotificationsConfig,
  QuietHoursConfig,
  RecipientConfig,
  UserConfig,
} from '../../../config/schema';
import { addDays, localDateTime, parseClockTime, zonedInstant } from '../../../core/localTime';
import { coversAny, type Role } from '../../scope';
import type { AlertView, Severity } from '../services';
import type { AlertChange } from './engine';

/**
 * Who receives what, pure: recipients resolved against the configured users, routes by role, commune
 * and severity, and quiet hours in the site's time zone. Values in, deliveries out; the notifier does
 * the sending.
 */

export type NotifyChannel = 'email' | 'sms';

export interface ResolvedRecipient {
  id: string;
  name?: string;
  role: Role;
  communes: readonly string[];
  email?: string;
  phone?: string;
  minSeverity?: Severity;
  onAcknowledge: boolean;
  onClear: boolean;
  quietHours?: QuietHoursConfig;
}

export interface Delivery {
  recipient: ResolvedRecipient;
  channel: NotifyChannel;
  /** The e-mail address or phone number. */
  address: string;
  /** Held in quiet hours: sent at this time (epoch ms) instead of now. */
  heldUntil?: number;
}

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

/** A recipient's role and communes, from its own fields or else its user's (cross-checks ensure one). */
export function resolveRecipients(
  notifications: NotificationsConfig,
  users: readonly UserConfig[],
): ResolvedRecipient[] {
  const byId = new Map(users.map((user) => [user.id, user]));
  return notifications.recipients.map((recipient: RecipientConfig) => {
    const user = recipient.user === undefined ? undefined : byId.get(recipient.user);
    const role = recipient.role ?? user?.role;
    const communes = recipient.communes ?? user?.communes;
    if (role === undefined || communes === undefined)
      throw new Error(`notifications.recipients '${recipient.id}': no role or communes (and no user)`);
    const quietHours =
      recipient.quiet_hours === false ? undefined : (recipient.quiet_hours ?? notifications.quiet_hours);
    return {
      id: recipient.id,
      name: recipient.name ?? user?.name,
      role,
      communes,
      email: recipient.email,
      phone: recipient.phone,
      minSeverity: recipient.min_severity,
      onAcknowledge: recipient.on_acknowledge,
      onClear: recipient.on_clear,
      quietHours,
    };
  });
}

/**
 * The messages one alert change gives: for every recipient whose communes cover the alert's, who wants
 * this change (raise always; acknowledge and clear when asked), and whom a route of its role matches
 * (severity, kind), one per channel of the matching routes that the recipient has an address for.
 * Outside critical alerts, a recipient in quiet hours gets the message held until they end.
 */
export function route(
  alert: AlertView,
  change: AlertChange,
  recipients: readonly ResolvedRecipient[],
  routes: NotificationsConfig['routes'],
  now: number,
  zone: IANAZone,
): Delivery[] {
  const deliveries: Delivery[] = [];
  const rank = SEVERITY_RANK[alert.severity];
  for (const recipient of recipients) {
    if (!coversAny(recipient.communes, [alert.commune])) continue;
    if (change === 'acknowledged' && !recipient.onAcknowledge) continue;
    if (change === 'cleared' && !recipient.onClear) continue;
    if (recipient.minSeverity !== undefined && rank < SEVERITY_RANK[recipient.minSeverity]) continue;
    const channels = new Set<NotifyChannel>();
    for (const candidate of routes) {
      if (!candidate.roles.includes(recipient.role)) continue;
      if (rank < SEVERITY_RANK[candidate.min_severity]) continue;
      if (candidate.kinds !== undefined && !(candidate.kinds as readonly string[]).includes(alert.kind))
        continue;
      for (const channel of candidate.channels) channels.add(channel);
    }
    const heldUntil =
      alert.severity === 'critical' || !recipient.quietHours
        ? undefined
        : quietUntil(recipient.quietHours, now, zone);
    for (const channel of channels) {
      const address = channel === 'email' ? recipient.email : recipient.phone;
      if (address === undefined) continue;
      deliveries.push({ recipient, channel, address, ...(heldUntil !== undefined ? { heldUntil } : {}) });
    }
  }
  return deliveries;
}

/**
 * When the quiet window around `now` ends (epoch ms), or undefined outside it. A window whose `to` is
 * before its `from` crosses midnight (22:00-07:00); equal ends make no window. Ends falling in a
 * daylight-saving gap move to the first instant after it.
 */
export function quietUntil(window: QuietHoursConfig, now: number, zone: IANAZone): number | undefined {
  const from = parseClockTime(window.from)!;
  const to = parseClockTime(window.to)!;
  if (from === to) return undefined;
  const local = localDateTime(zone, now);
  const minutes = Math.floor(local.minutes);
  const crossesMidnight = to < from;
  const inside = crossesMidnight ? minutes >= from || minutes < to : minutes >= from && minutes < to;
  if (!inside) return undefined;
  const endDate = crossesMidnight && minutes >= from ? addDays(local.date, 1) : local.date;
  return zonedInstant(zone, endDate, to).at;
}
