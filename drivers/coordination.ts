/**
 * The coordination port: what an instance needs of a consistent store shared by the instances of a
 * shard (etcd: drivers/etcd/etcdCoordination.ts) to decide which one drives the devices, and to keep the
 * state that must survive a failover. Instants are on the caller's monotonic clock (`now` given to
 * the implementation).
 */

export type LeadAttempt =
  /** The leader key is ours, under a lease whose grant request was sent at `leaseSentAt`. */
  | { won: true; leaseSentAt: number }
  /** Another instance (`holder`) leads; `vacated` resolves when its key is gone (lease expired or revoked). */
  | { won: false; holder: string; vacated: Promise<void> };

/**
 * The documents of a shard's state kept in the store, each written whole by the leader before what it
 * records is acknowledged: the lighting state (relights, overrides, runtime programs and calendars) and
 * the alerts' states (open, acknowledged, recently cleared).
 */
export type StateDocument = 'lighting-state' | 'alerts';

export const STATE_DOCUMENTS: readonly StateDocument[] = ['lighting-state', 'alerts'];

export interface CoordinationListeners {
  /** The store acknowledged a keep-alive of our lease sent at `sentAt`. */
  keptAlive(sentAt: number): void;
  /** The lease is gone or cannot be renewed any more. */
  leaseLost(reason: string): void;
}

/**
 * One folder of the records that any instance of the territory writes, whatever its shard or role, one
 * key each: the people's sign-in state (passwords' hashes, sessions, enrolment codes), so that a session
 * opened on one instance is known to every other (a standby taking over, a leader a command is
 * forwarded to).
 */
export interface SharedFolder {
  /**
   * Every record now (key → value), then `changed` called with each later change, in order, with
   * nothing missed between the two (value undefined: deleted), until stop().
   */
  follow(changed: (key: string, value: string | undefined) => void): Promise<Map<string, string>>;
  /** Puts and deletes records, in as few transactions as the store allows (etcd: 128 operations each). */
  write(puts: ReadonlyMap<string, string>, deletes: readonly string[]): Promise<void>;
}

export interface Coordination {
  /** A folder of the territory's shared records (usable once started). */
  sharedFolder(folder: string): SharedFolder;
  /** Connects; rejects when no endpoint answers. */
  start(signal?: AbortSignal): Promise<void>;
  /** Revokes the lease if held (the standby takes over at once) and closes; idempotent. */
  stop(): Promise<void>;
  /** One attempt to create the leader key under a new lease. */
  tryToLead(listeners: CoordinationListeners): Promise<LeadAttempt>;
  /** One keep-alive of the held lease now; resolves with its send instant once acknowledged. */
  keepAliveNow(): Promise<number>;
  /** The API address the current leader of `shard` (this one's or another) published; undefined when it has none. */
  leaderUrl(shard: string): Promise<string | undefined>;
  /** One document of the shard's persisted state (text), undefined when none was written yet. */
  readState(document: StateDocument): Promise<string | undefined>;
  /** Writes a document, only while the leader key is held by our lease; rejects otherwise. */
  writeState(document: StateDocument, text: string): Promise<void>;
  /** Calls `listener` with every new version of a document (until stop()). */
  watchState(document: StateDocument, listener: (text: string) => void): Promise<void>;
}
