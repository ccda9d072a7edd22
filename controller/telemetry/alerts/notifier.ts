import type { IANAZone } from 'luxon';
import type { Config, NotificationsConfig } from '../../../config/schema';
import type { Clock, Timer } from '../../../core/clock';
import type { Logger } from '../../../core/logger';
import { timeZone } from '../../../core/localTime';
import type { Bus } from '../../bus';
import type { AlertView } from '../services';
import { DeliveryQueue, type DeliveryQueueOptions, type DeliveryStats } from './deliveryQueue';
import { EmailSender } from './emailSender';
import type { AlertChange } from './engine';
import { emailMessage, smsText, type MessageContext } from './notifyMessages';
import { resolveRecipients, route, type Delivery, type ResolvedRecipient } from './recipients';
import { SmsSender } from './smsSender';

/** One message to one person on one channel. */
interface Notice {
  alert: AlertView;
  change: AlertChange;
  recipient: ResolvedRecipient;
  address: string;
}

interface Held {
  notice: Notice;
  channel: Delivery['channel'];
  until: number;
}

export interface NotificationStats {
  email?: DeliveryStats;
  sms?: DeliveryStats;
  /** Messages waiting for the end of someone's quiet hours. */
  held: number;
}

export interface AlertNotifierDeps {
  config: Config;
  notifications: NotificationsConfig;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  configDir: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Alerts to people: each alert change routed (recipients.ts, pure) to e-mails and SMS, each channel
 * with its own bounded queue and retries (DeliveryQueue), so a dead SMTP server delays no SMS and
 * nothing ever waits on the alert engine. Messages for someone in quiet hours wait in memory until the
 * window ends (lost at a restart: the alert itself is still in the console). Every message delivered or
 * given up goes on the bus as `alertNotificationSettled`, which the audit log records.
 */
export class AlertNotifier {
  private readonly recipients: ResolvedRecipient[];
  private readonly zone: IANAZone;
  private readonly context: MessageContext;
  private readonly email?: { sender: EmailSender; queue: DeliveryQueue<Notice> };
  private readonly sms?: { sender: SmsSender; queue: DeliveryQueue<Notice> };
  private held: Held[] = [];
  private holdTimer: Timer | undefined;
  private running = false;

  constructor(private readonly deps: AlertNotifierDeps) {
    const { config, notifications } = deps;
    this.recipients = resolveRecipients(notifications, config.users);
    this.zone = timeZone(config.site.timezone);
    this.context = {
      timeZone: config.site.timezone,
      communeNames: new Map(config.communes.map((c) => [c.id, c.name])),
      consoleUrl: notifications.console_url,
    };
    if (notifications.email) {
      const sender = new EmailSender(notifications.email, deps);
      this.email = {
        sender,
        queue: this.queue('email', notifications.email, (notice) =>
          sender.send(notice.address, emailMessage(notice.alert, notice.change, this.context)),
        ),
      };
    }
    if (notifications.sms) {
      const sms = notifications.sms;
      const sender = new SmsSender(sms, deps);
      this.sms = {
        sender,
        queue: this.queue('sms', sms, (notice, signal) =>
          sender.send(
            notice.address,
            smsText(notice.alert, notice.change, this.context, sms.max_chars),
            signal,
          ),
        ),
      };
    }
  }

  /** Reads the channels' secrets: a missing one fails the start, naming it. */
  start(): void {
    this.email?.sender.start();
    this.sms?.sender.start();
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.holdTimer) this.deps.clock.clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (this.held.length > 0)
      this.deps.logger.warn(`notifications: ${this.held.length} held for quiet hours, not sent at stop`);
    this.held = [];
    await Promise.all([this.email?.queue.stop(), this.sms?.queue.stop()]);
    this.email?.sender.stop();
  }

  /** Routes one change; never throws, never waits. */
  notify(alert: AlertView, change: AlertChange): void {
    if (!this.running) return;
    const now = this.deps.clock.now();
    const snapshot = { ...alert };
    for (const delivery of route(
      snapshot,
      change,
      this.recipients,
      this.deps.notifications.routes,
      now,
      this.zone,
    )) {
      const notice: Notice = {
        alert: snapshot,
        change,
        recipient: delivery.recipient,
        address: delivery.address,
      };
      if (delivery.heldUntil === undefined) this.send(delivery.channel, notice);
      else this.hold({ notice, channel: delivery.channel, until: delivery.heldUntil });
    }
  }

  stats(): NotificationStats {
    return {
      ...(this.email ? { email: this.email.queue.stats() } : {}),
      ...(this.sms ? { sms: this.sms.queue.stats() } : {}),
      held: this.held.length,
    };
  }

  private send(channel: Delivery['channel'], notice: Notice): void {
    (channel === 'email' ? this.email : this.sms)?.queue.enqueue(notice);
  }

  private hold(held: Held): void {
    this.held.push(held);
    this.scheduleRelease();
  }

  private scheduleRelease(): void {
    if (this.holdTimer) this.deps.clock.clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (this.held.length === 0) return;
    const next = Math.min(...this.held.map((h) => h.until));
    this.holdTimer = this.deps.clock.setTimeout(
      () => {
        this.holdTimer = undefined;
        const now = this.deps.clock.now();
        const due = this.held.filter((h) => h.until <= now);
        this.held = this.held.filter((h) => h.until > now);
        for (const { channel, notice } of due) this.send(channel, notice);
        this.scheduleRelease();
      },
      Math.max(0, next - this.deps.clock.now()),
    );
  }

  private queue(
    kind: Delivery['channel'],
    channel: { retries: number; backoff_ms: number; max_queue: number },
    attempt: DeliveryQueueOptions<Notice>['attempt'],
  ): DeliveryQueue<Notice> {
    return new DeliveryQueue<Notice>({
      name: kind === 'email' ? 'e-mail' : 'SMS',
      retries: channel.retries,
      backoffMs: channel.backoff_ms,
      maxQueue: channel.max_queue,
      clock: this.deps.clock,
      logger: this.deps.logger,
      attempt,
      describe: (notice) =>
        `alert ${notice.alert.id} (${notice.change}) to recipient '${notice.recipient.id}'`,
      settled: (notice, outcome) =>
        this.deps.bus.emit('alertNotificationSettled', {
          at: this.deps.clock.now(),
          alertId: notice.alert.id,
          change: notice.change,
          commune: notice.alert.commune,
          recipient: notice.recipient.id,
          channel: kind,
          delivered: outcome.delivered,
          ...(outcome.delivered ? {} : { reason: outcome.reason }),
        }),
    });
  }
}
