import type { Messaging, Unsubscribe } from '../../../drivers/messaging';
import type { Bus } from '../../bus';
import type { Clock } from '../../../core/clock';
import { excerpt, excerptText } from '../../../core/excerpt';
import type { Component } from '../../../core/lifecycle';
import type { Logger } from '../../../core/logger';
import { ThrottledLog } from '../../../core/throttledLog';
import type { Actor } from '../../scope';
import type { TargetSpec } from '../topology';
import { LightingError, type LightingService } from './lightingService';
import { formatIssues } from './requestChecks';
import {
  BRIDGE_COMMANDS,
  lightingTopics,
  MAX_ERROR_CHARS,
  parseClearRelightRequest,
  parseRelightRequest,
  transactionOf,
  type BridgeCommand,
  type BridgeRefusal,
  type BridgeResponse,
  type LightingTopics,
} from './topics';

export interface LightingMqttBridgeDeps {
  lighting: Pick<LightingService, 'relight' | 'clearRelight'>;
  mqtt: Messaging;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  /**
   * Shards by commune: whether a relight's target lies wholly in communes of other shards, whose
   * leaders (on the same request topic) answer it; such a request is counted and left to them.
   */
  elsewhere?: (target: TargetSpec) => boolean;
}

/** What a request does once its payload is JSON: the fields of the answer beyond transaction and status. */
type RequestHandler = (
  body: unknown,
  topic: string,
) => Promise<Omit<BridgeResponse, 'transaction' | 'status'> | typeof ANOTHER_SHARD>;

/** A request another shard's leader answers. */
const ANOTHER_SHARD = Symbol('another shard');

/**
 * Emergency relights requested over MQTT (`<base>/bridge/request/<command>`, answered on
 * `<base>/bridge/response/<command>`): a transport adapter beside the HTTP API, calling the same
 * LightingService methods. One handler per request name, as zigbee2mqtt's bridge does.
 */
export class LightingMqttBridge {
  private readonly topics: LightingTopics;
  private readonly unsubscribers: Unsubscribe[] = [];
  /** One warn line per command and kind of refusal every 10 s, with the count held back. */
  private readonly refusalLog = new ThrottledLog<`${BridgeCommand}:${BridgeRefusal}`>(10_000);
  private readonly elsewhereLog = new ThrottledLog<'elsewhere'>(10_000);
  private leftToOtherShards = 0;
  private readonly handlers: Readonly<Record<BridgeCommand, RequestHandler>> = {
    relight: async (body, topic) => {
      const parsed = parseRelightRequest(body);
      if (!parsed.ok) throw new LightingError('invalid', parsed.error);
      const { actor, ...request } = parsed.value;
      if (this.deps.elsewhere?.(request.target)) return ANOTHER_SHARD;
      const accepted = await this.deps.lighting.relight(request, mqttActor(actor, topic));
      return { id: accepted.record.id, luminaires: accepted.record.luminaires };
    },
    'clear-relight': async (body, topic) => {
      const parsed = parseClearRelightRequest(body);
      if (!parsed.ok) throw new LightingError('invalid', parsed.error);
      const cleared = await this.deps.lighting.clearRelight(
        parsed.value.id,
        mqttActor(parsed.value.actor, topic),
      );
      return { id: cleared.id };
    },
  };

  constructor(private readonly deps: LightingMqttBridgeDeps) {
    this.topics = lightingTopics(deps.mqtt.baseTopic);
  }

  /** Started after the lighting runtime (a request needs it running), stopped before it. */
  component(): Component {
    return { name: 'lighting MQTT bridge', start: () => this.start(), stop: () => this.stop() };
  }

  async start(): Promise<void> {
    const settled = await Promise.allSettled(
      BRIDGE_COMMANDS.map((command) =>
        this.deps.mqtt.subscribe(this.topics.request(command), 1, (topic, payload) =>
          this.onRequest(command, topic, payload),
        ),
      ),
    );
    for (const result of settled) {
      if (result.status === 'fulfilled') this.unsubscribers.push(result.value);
      else this.deps.logger.error(`lighting: MQTT subscription failed: ${(result.reason as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.unsubscribers.splice(0).map((unsubscribe) => unsubscribe()));
  }

  private async onRequest(command: BridgeCommand, topic: string, payload: Buffer): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      const message = `the payload is not JSON: ${(error as Error).message}`;
      await this.refused(command, topic, undefined, 'not-json', message);
      return;
    }
    const transaction = transactionOf(body);
    const base: BridgeResponse = transaction === undefined ? { status: 'ok' } : { transaction, status: 'ok' };
    try {
      const answer = await this.handlers[command](body, topic);
      if (answer === ANOTHER_SHARD) return this.leftToAnotherShard(command);
      await this.respond(command, { ...base, ...answer });
    } catch (error) {
      const kind = error instanceof LightingError ? error.code : 'error';
      const message =
        error instanceof LightingError && error.issues.length > 0
          ? `${error.message}: ${formatIssues(error.issues)}`
          : (error as Error).message;
      await this.refused(command, topic, body, kind, message, base);
    }
  }

  private leftToAnotherShard(command: BridgeCommand): void {
    this.leftToOtherShards++;
    this.elsewhereLog.report('elsewhere', this.deps.clock.now(), () =>
      this.deps.logger.info(
        `lighting: MQTT ${command} request for another shard's communes left to its leader (${this.leftToOtherShards} so far)`,
      ),
    );
  }

  /**
   * Answers a refused request and reports it: a bus event for each (the audit log collapses repeats), a warn
   * line at most once per command, kind and 10 s. Whatever the request held, only short excerpts of it are
   * echoed, so a flood of huge or deep requests costs little more than the count.
   */
  private async refused(
    command: BridgeCommand,
    topic: string,
    body: unknown,
    kind: BridgeRefusal,
    error: string,
    base: BridgeResponse = { status: 'ok' },
  ): Promise<void> {
    const { clock, logger, bus } = this.deps;
    const message = excerptText(error, MAX_ERROR_CHARS);
    this.refusalLog.report(`${command}:${kind}`, clock.now(), (heldBack) =>
      logger.warn(
        `lighting: MQTT ${command} request refused: ${message}${heldBack > 0 ? ` (${heldBack} more ${kind} refusal(s) since the last report)` : ''}`,
        { topic },
      ),
    );
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const text = (value: unknown): string | undefined =>
      typeof value === 'string' ? excerptText(value, 64) : undefined;
    bus.emit('lightingRequestRefused', {
      at: clock.now(),
      command,
      actor: text(fields.actor) ?? 'unknown',
      via: 'mqtt',
      from: topic,
      target: text(fields.id) ?? (fields.target === undefined ? 'unknown' : excerpt(fields.target)),
      message,
    });
    await this.respond(command, { ...base, status: 'error', error: message });
  }

  private async respond(command: BridgeCommand, response: BridgeResponse): Promise<void> {
    try {
      await this.deps.mqtt.publish(this.topics.response(command), JSON.stringify(response), { qos: 1 });
    } catch (error) {
      this.deps.logger.warn(`lighting: MQTT ${command} response not published: ${(error as Error).message}`);
    }
  }
}

function mqttActor(user: string, topic: string): Actor {
  // Over MQTT, the broker's ACL decides who may publish a request: the dispatch accounts it lets through act territory-wide.
  return { user, role: 'emergency', communes: ['*'], via: 'mqtt', from: topic };
}
