import {
  AttributeIds,
  MonitoringMode,
  TimestampsToReturn,
  type ClientMonitoredItemBase,
  type ClientMonitoredItemGroup,
  type ClientSession,
  type ClientSessionRawSubscriptionService,
  type ClientSubscription,
  type DataValue,
} from 'node-opcua';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../core/logger';
import { DriverError, type PointRef, type Sample, type Subscription } from '../driver';
import { groupByMonitoring, monitorError, monitoringParameters, resolveTargets } from './targets';
import { failedSample, prefixed, qualityOf, sampleOf } from './values';

/** What the monitored items need from the driver that owns them. */
export interface MonitoringContext {
  clock: Clock;
  log: Logger;
  publishingMs: number;
  /** Bound on deleting monitored items or a subscription. */
  stepTimeoutMs: number;
  /** Whether requests reach the server now; deletions are not awaited otherwise. */
  reachable(): boolean;
  /** A counted service call; failures come back as DriverErrors naming the device. */
  call<T>(what: string, request: () => Promise<T>): Promise<T>;
  /** Hands a batch of samples to the driver's `samples` event. */
  deliver(samples: Sample[]): void;
}

type GroupListener = (item: ClientMonitoredItemBase, dataValue: DataValue, index: number) => void;

/** The points of one subscribe() call, and the monitored item groups created for them. */
interface Watch {
  points: readonly PointRef[];
  groups: { group: ClientMonitoredItemGroup; listener: GroupListener }[];
  /** The session its monitored items live on; node-opcua carries them across reconnections. */
  session?: ClientSession;
  closed: boolean;
}

/**
 * The driver's subscription and monitored items, per session: one subscription (publishing_ms), and one
 * CreateMonitoredItems call per group of points sharing sampling interval and deadband.
 */
export class Monitoring {
  private readonly watches = new Set<Watch>();
  private readonly subscriptions = new Map<ClientSession, Promise<ClientSubscription>>();
  private pending: Sample[] = [];
  private flushScheduled = false;

  constructor(private readonly context: MonitoringContext) {}

  /** Starts watching `points`; their items are created now if a session is given, else at the next one. */
  add(points: readonly PointRef[], session: ClientSession | undefined): Subscription {
    const watch: Watch = { points: [...points], groups: [], closed: false };
    this.watches.add(watch);
    if (session) void this.monitor(session, watch);
    return { close: () => this.remove(watch) };
  }

  /** Creates the monitored items of every watch that has none on this session yet. */
  async monitorAll(session: ClientSession): Promise<void> {
    for (const watch of this.watches) {
      if (watch.session !== session) await this.monitor(session, watch);
    }
  }

  /**
   * After node-opcua reported the session repaired: checks that the monitored items exist on the server,
   * and recreates the subscription and all its items when they do not.
   */
  async restore(session: ClientSession): Promise<void> {
    if (await this.intact(session)) return;
    this.context.log.warn('the monitored items did not survive the reconnection; recreating them');
    try {
      await this.terminate(session);
    } catch (error) {
      this.context.log.debug(() => `cannot delete the broken subscription: ${(error as Error).message}`);
    }
    for (const watch of this.watches) {
      for (const { group, listener } of watch.groups.splice(0)) group.off('changed', listener);
      await this.monitor(session, watch);
    }
  }

  /** Deletes the subscription of a session, with its monitored items. */
  async terminate(session: ClientSession): Promise<void> {
    const subscription = this.subscriptions.get(session);
    if (!subscription) return;
    this.subscriptions.delete(session);
    await withTimeLimit(
      subscription.then((s) => s.terminate()),
      'delete the subscription',
      this.context.stepTimeoutMs,
      this.context.clock,
    );
  }

  /** Forgets every watch and undelivered sample (the driver stops). */
  clear(): void {
    for (const watch of this.watches) watch.closed = true;
    this.watches.clear();
    this.subscriptions.clear();
    this.pending = [];
  }

  private subscriptionOf(session: ClientSession): Promise<ClientSubscription> {
    let subscription = this.subscriptions.get(session);
    if (!subscription) {
      subscription = this.context.call('create the subscription', () =>
        session.createSubscription2({
          requestedPublishingInterval: this.context.publishingMs,
          requestedMaxKeepAliveCount: 10,
          requestedLifetimeCount: 60,
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 1,
        }),
      );
      this.subscriptions.set(session, subscription);
      const created = subscription;
      // a failed creation is tried again by the next monitor()
      created.catch(() => {
        if (this.subscriptions.get(session) === created) this.subscriptions.delete(session);
      });
    }
    return subscription;
  }

  private async monitor(session: ClientSession, watch: Watch): Promise<void> {
    watch.session = session;
    const { clock } = this.context;
    const now = clock.now();
    const { targets, failures } = resolveTargets(watch.points);
    this.queue(failures.map((f) => failedSample(watch.points[f.index].key, f.error, now)));
    if (targets.length === 0) return;
    let subscription: ClientSubscription;
    try {
      subscription = await this.subscriptionOf(session);
    } catch (error) {
      this.context.log.error((error as DriverError).message);
      this.queue(targets.map((t) => failedSample(t.key, prefixed(error as DriverError, t.label), now)));
      return;
    }
    for (const group of groupByMonitoring(targets)) {
      if (watch.closed) return;
      try {
        const monitored = await this.context.call('create monitored items', () =>
          subscription.monitorItems(
            group.map((t) => ({ nodeId: t.nodeId, attributeId: AttributeIds.Value })),
            monitoringParameters(group[0].address, this.context.publishingMs),
            TimestampsToReturn.Both,
          ),
        );
        const listener: GroupListener = (_item, dataValue, index) => {
          if (watch.closed) return;
          const t = group[index];
          this.queue([sampleOf(t.key, t.label, t.nodeIdText, dataValue, clock.now())]);
        };
        monitored.on('changed', listener);
        watch.groups.push({ group: monitored, listener });
        this.queue(
          monitored.monitoredItems.flatMap((item, i) =>
            qualityOf(item.statusCode) === 'bad'
              ? [failedSample(group[i].key, monitorError(group[i], item.statusCode), now)]
              : [],
          ),
        );
        if (watch.closed) await this.dropGroups(watch);
      } catch (error) {
        this.queue(group.map((t) => failedSample(t.key, prefixed(error as DriverError, t.label), now)));
      }
    }
  }

  /** Asks the server to keep reporting every item: a no-op for items that exist, an error for the others. */
  private async intact(session: ClientSession): Promise<boolean> {
    const items = [...this.watches]
      .filter((w) => w.session === session)
      .flatMap((w) => w.groups.flatMap(({ group }) => group.monitoredItems))
      .filter((item) => qualityOf(item.statusCode) !== 'bad');
    const subscription = this.subscriptions.get(session);
    if (items.length === 0 || !subscription) return true;
    try {
      const { subscriptionId } = await subscription;
      // the session object implements the raw subscription services; its public type leaves them out
      const raw = session as ClientSession & ClientSessionRawSubscriptionService;
      const response = await this.context.call('verify the monitored items', () =>
        raw.setMonitoringMode({
          subscriptionId,
          monitoringMode: MonitoringMode.Reporting,
          monitoredItemIds: items.map((item) => item.monitoredItemId as number),
        }),
      );
      const results = response.results ?? [];
      return results.length === items.length && results.every((status) => qualityOf(status) === 'good');
    } catch (error) {
      this.context.log.debug(() => `cannot verify the monitored items: ${(error as Error).message}`);
      return false;
    }
  }

  private async remove(watch: Watch): Promise<void> {
    if (!this.watches.delete(watch)) return;
    watch.closed = true;
    await this.dropGroups(watch);
  }

  private async dropGroups(watch: Watch): Promise<void> {
    const { clock, log, stepTimeoutMs } = this.context;
    const reachable = this.context.reachable();
    for (const { group, listener } of watch.groups.splice(0)) {
      group.off('changed', listener);
      const deleted = withTimeLimit(group.terminate(), 'delete monitored items', stepTimeoutMs, clock);
      // unreachable: node-opcua sends the deletion once reconnected; the caller does not wait for it
      if (!reachable) {
        deleted.catch((error: Error) => log.debug(() => `cannot delete monitored items: ${error.message}`));
        continue;
      }
      try {
        await deleted;
      } catch (error) {
        log.warn(`cannot delete monitored items: ${(error as Error).message}`);
      }
    }
  }

  /** Notifications of one publish response arrive one by one: they are delivered as one batch. */
  private queue(samples: Sample[]): void {
    if (samples.length === 0) return;
    this.pending.push(...samples);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      const batch = this.pending;
      this.pending = [];
      if (batch.length > 0) this.context.deliver(batch);
    });
  }
}

/** `work`, or a DriverError('timeout') after `ms`; `work` may still settle later, unobserved. */
export function withTimeLimit<T>(work: Promise<T>, what: string, ms: number, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(
      () => reject(new DriverError('timeout', `${what}: no answer within ${ms} ms`)),
      ms,
    );
    work.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
