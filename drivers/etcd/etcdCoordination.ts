import type { Etcd3, IRequestOp, Lease, Watcher } from 'etcd3';
import type { Logger } from '../../core/logger';
import type {
  Coordination,
  CoordinationListeners,
  LeadAttempt,
  SharedFolder,
  StateDocument,
} from '../coordination';

export interface EtcdCoordinationOptions {
  /** `http://host:port` or `https://…`, several members of one cluster. */
  endpoints: string[];
  /** Keys live under `<prefix>shards/<shard>/`. */
  prefix: string;
  shard: string;
  /** What the leader key holds: this instance's name. */
  member: string;
  /** Where the other instances reach this one's API, published with its leadership (shards by commune). */
  advertiseUrl?: string;
  leaseTtlS: number;
  /** Each unary call fails after this long, so that a stalled member cannot hold a write. */
  callTimeoutMs: number;
  auth?: { username: string; password: string };
  tls?: { rootCertificate: Buffer; certChain?: Buffer; privateKey?: Buffer };
  /** Monotonic instants for the keep-alive stamps. */
  now: () => number;
  logger: Logger;
}

/** Operations per transaction, under etcd's default limit (--max-txn-ops 128). */
const MAX_TXN_OPERATIONS = 100;

/**
 * The coordination port on etcd v3 (the etcd3 client). Leadership is a key created in a transaction
 * (`create revision == 0`) under a lease kept alive by the client every TTL/3; the shard's state is one
 * key per document, written by a transaction that checks the leader key still carries our lease, so an instance that
 * lost the shard cannot overwrite its successor's state.
 */
export class EtcdCoordination implements Coordination {
  private client?: Etcd3;
  private lease?: Lease;
  private leaseId?: string;
  private readonly watchers = new Set<Watcher>();
  private readonly leaderKey: string;
  private readonly leaderUrlKey: string;
  private stopping?: Promise<void>;

  constructor(private readonly options: EtcdCoordinationOptions) {
    this.leaderKey = this.keyOf(options.shard, 'leader');
    this.leaderUrlKey = this.keyOf(options.shard, 'leader-url');
  }

  private keyOf(shard: string, name: string): string {
    return `${this.options.prefix}shards/${shard}/${name}`;
  }

  async start(signal?: AbortSignal): Promise<void> {
    const { options } = this;
    // Loaded here, not with the module: gRPC is heavy, and single-machine mode must not pay for it.
    const { Etcd3: Client } = await import('etcd3');
    this.client = new Client({
      hosts: options.endpoints,
      auth: options.auth,
      credentials: options.tls,
      dialTimeout: options.callTimeoutMs,
      defaultCallOptions: (context) =>
        context.isStream ? {} : { deadline: Date.now() + options.callTimeoutMs },
    });
    // A first read proves a member answers (and the credentials work) before anything relies on it.
    await this.client.get(this.leaderKey).string();
    signal?.throwIfAborted();
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    // Each step bounded: a member that stopped answering would hold a cancel or a revoke for ever.
    const bounded = (work: Promise<unknown>): Promise<unknown> =>
      Promise.race([
        work.catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, this.options.callTimeoutMs).unref()),
      ]);
    await Promise.all([...this.watchers].map((watcher) => bounded(watcher.cancel())));
    this.watchers.clear();
    // Revoked, the leader key goes with it and the standby takes over without waiting for the TTL.
    if (this.lease) {
      await bounded(this.lease.revoke());
      // Unanswered, the revoke would leave the client retrying keep-alives (and the process running).
      this.lease.release();
    }
    this.client?.close();
  }

  async tryToLead(listeners: CoordinationListeners): Promise<LeadAttempt> {
    const client = this.connected();
    const lease = client.lease(this.options.leaseTtlS);
    // Keep-alives are sent in order on one stream and answered in order: the oldest unanswered one is
    // the one being acknowledged. Its send instant is what the fencing deadline may count from.
    const fired: number[] = [];
    const sentAt = this.options.now();
    const id = await lease.grant();
    const { advertiseUrl } = this.options;
    // The address goes under the same lease: it disappears with the leadership.
    const result = await client
      .if(this.leaderKey, 'Create', '==', 0)
      .then(
        client.put(this.leaderKey).value(this.options.member).lease(id),
        ...(advertiseUrl === undefined ? [] : [client.put(this.leaderUrlKey).value(advertiseUrl).lease(id)]),
      )
      .else(client.get(this.leaderKey))
      .commit();
    if (!result.succeeded) {
      await lease.revoke().catch(() => undefined);
      const held = result.responses[0]?.response_range?.kvs[0];
      const holder = held?.value.toString() ?? '(gone)';
      return { won: false, holder, vacated: this.deleted(this.leaderKey, result.header.revision) };
    }
    this.lease = lease;
    this.leaseId = id;
    lease.on('keepaliveFired', () => fired.push(this.options.now()));
    lease.on('keepaliveSucceeded', () => {
      const at = fired.shift();
      if (at !== undefined) listeners.keptAlive(at);
    });
    lease.on('keepaliveFailed', () => {
      // Pending keep-alives will never be answered: none of them may extend the deadline.
      fired.length = 0;
      this.options.logger.warn('etcd: keep-alive failed; retrying until the lease is lost');
    });
    lease.on('lost', (error: Error) => listeners.leaseLost(`lease lost: ${error.message}`));
    return { won: true, leaseSentAt: sentAt };
  }

  async keepAliveNow(): Promise<number> {
    if (!this.lease) throw new Error('etcd: this instance does not hold the shard');
    const sentAt = this.options.now();
    await this.lease.keepaliveOnce();
    return sentAt;
  }

  async leaderUrl(shard: string): Promise<string | undefined> {
    return (await this.connected().get(this.keyOf(shard, 'leader-url')).string()) ?? undefined;
  }

  async readState(document: StateDocument): Promise<string | undefined> {
    return (await this.connected().get(this.keyOf(this.options.shard, document)).string()) ?? undefined;
  }

  async writeState(document: StateDocument, text: string): Promise<void> {
    const client = this.connected();
    if (this.leaseId === undefined) throw new Error('etcd: this instance does not hold the shard');
    const result = await client
      .if(this.leaderKey, 'Lease', '==', this.leaseId)
      .then(client.put(this.keyOf(this.options.shard, document)).value(text))
      .commit();
    if (!result.succeeded) throw new Error('etcd: the shard is held by another instance; state not written');
  }

  async watchState(document: StateDocument, listener: (text: string) => void): Promise<void> {
    const watcher = await this.connected().watch().key(this.keyOf(this.options.shard, document)).create();
    this.watchers.add(watcher);
    watcher.on('put', (kv) => listener(kv.value.toString()));
    watcher.on('error', (error) => this.options.logger.warn(`etcd: ${document} watch: ${error.message}`));
  }

  sharedFolder(folder: string): SharedFolder {
    // The territory's shared records live apart from every shard's keys.
    const prefix = `${this.options.prefix}territory/${folder}/`;
    return {
      follow: (changed) => this.followRecords(folder, prefix, changed),
      write: (puts, deletes) => this.writeRecords(prefix, puts, deletes),
    };
  }

  private async followRecords(
    folder: string,
    prefix: string,
    changed: (key: string, value: string | undefined) => void,
  ): Promise<Map<string, string>> {
    const client = this.connected();
    const read = await client.getAll().prefix(prefix).exec();
    const records = new Map(
      read.kvs.map((kv) => [kv.key.toString().slice(prefix.length), kv.value.toString()]),
    );
    // From the revision after the read: no change falls between the snapshot and the watch.
    const watcher = await client
      .watch()
      .prefix(prefix)
      .startRevision(String(BigInt(read.header.revision) + 1n))
      .create();
    this.watchers.add(watcher);
    watcher.on('put', (kv) => changed(kv.key.toString().slice(prefix.length), kv.value.toString()));
    watcher.on('delete', (kv) => changed(kv.key.toString().slice(prefix.length), undefined));
    watcher.on('error', (error) => this.options.logger.warn(`etcd: ${folder} watch: ${error.message}`));
    return records;
  }

  private async writeRecords(
    prefix: string,
    puts: ReadonlyMap<string, string>,
    deletes: readonly string[],
  ): Promise<void> {
    const client = this.connected();
    const operations: IRequestOp[] = [
      ...[...puts].map(([key, value]) => ({
        request_put: { key: Buffer.from(prefix + key), value: Buffer.from(value) },
      })),
      ...deletes.map((key) => ({ request_delete_range: { key: Buffer.from(prefix + key) } })),
    ];
    // A transaction with no comparison always applies; etcd takes at most 128 operations in one.
    for (let start = 0; start < operations.length; start += MAX_TXN_OPERATIONS)
      await client.kv.txn({ success: operations.slice(start, start + MAX_TXN_OPERATIONS) });
  }

  /** Resolves once `key` is deleted after `revision` (or when the watch fails: the caller tries again). */
  private async deleted(key: string, revision: string): Promise<void> {
    const watcher = await this.connected()
      .watch()
      .key(key)
      .startRevision(String(BigInt(revision) + 1n))
      .create();
    this.watchers.add(watcher);
    await new Promise<void>((resolve) => {
      watcher.once('delete', () => resolve());
      watcher.once('error', () => resolve());
      watcher.once('end', () => resolve());
    });
    this.watchers.delete(watcher);
    await watcher.cancel().catch(() => undefined);
  }

  private connected(): Etcd3 {
    if (!this.client || this.stopping) throw new Error('etcd: not connected');
    return this.client;
  }
}
