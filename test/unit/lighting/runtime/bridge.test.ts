import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bus } from '../../../../controller/bus';
import { ManualClock } from '../../../../core/clock';
import type { LightingRequestRefused } from '../../../../controller/lighting/runtime/events';
import { LightingMqttBridge } from '../../../../controller/lighting/runtime/mqttBridge';
import { LightingRuntime } from '../../../../controller/lighting/runtime/runtime';
import {
  MAX_ERROR_CHARS,
  MAX_REQUEST_DEPTH,
  type BridgeCommand,
  type BridgeResponse,
} from '../../../../controller/lighting/runtime/topics';
import type { MessageHandler, Messaging } from '../../../../drivers/messaging';
import { FakeSegmentController, RecordingLogger, territory } from './fakes';

const NIGHT = Date.UTC(2026, 0, 15, 22);

/** The broker side of the bridge: requests go straight to the runtime's handlers, responses are kept. */
class FakeBridge {
  readonly handlers = new Map<string, MessageHandler>();
  readonly responses: BridgeResponse[] = [];
  readonly mqtt = {
    baseTopic: 'nocturne',
    subscribe: (filter: string, _qos: number, handler: MessageHandler) => {
      this.handlers.set(filter, handler);
      return Promise.resolve(() => Promise.resolve());
    },
    publish: (topic: string, payload: string) => {
      if (topic.startsWith('nocturne/bridge/response/'))
        this.responses.push(JSON.parse(payload) as BridgeResponse);
      return Promise.resolve();
    },
    on: () => this.mqtt,
    off: () => this.mqtt,
  } as unknown as Messaging;

  async request(command: BridgeCommand, payload: string): Promise<void> {
    const topic = `nocturne/bridge/request/${command}`;
    await this.handlers.get(topic)!(topic, Buffer.from(payload), undefined as never);
  }
}

describe('LightingRuntime MQTT bridge', () => {
  const config = territory({ controllers: 1, perController: 4 });
  let dir: string;
  let clock: ManualClock;
  let logger: RecordingLogger;
  let bus: Bus;
  let bridge: FakeBridge;
  let runtime: LightingRuntime;
  let mqttBridge: LightingMqttBridge;
  const refused: LightingRequestRefused[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'nocturne-bridge-'));
    clock = new ManualClock(NIGHT);
    logger = new RecordingLogger();
    bus = new Bus(logger);
    bridge = new FakeBridge();
    refused.length = 0;
    bus.on('lightingRequestRefused', {}, (event) => refused.push(event));
    const devices = new Map(
      config.devices.map((d) => [d.id, new FakeSegmentController(d.id, d.lighting!.channels)]),
    );
    for (const device of devices.values()) await device.start();
    runtime = new LightingRuntime(
      {
        config,
        stateDir: dir,
        logger,
        clock,
        bus,
        mqtt: bridge.mqtt,
        devices: { get: (id) => devices.get(id) },
      },
      { dispatch: { tickMs: 60_000 } },
    );
    await runtime.start();
    mqttBridge = new LightingMqttBridge({ lighting: runtime, mqtt: bridge.mqtt, bus, clock, logger });
    await mqttBridge.start();
  });

  afterEach(async () => {
    await mqttBridge.stop();
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const refusalLines = (): string[] =>
    logger.lines.filter((l) => l.msg.includes('request refused')).map((l) => l.msg);

  it('answers and reports a request nested 20,000 levels deep, refused with a clear error', async () => {
    const deepTarget = `${'{"zone":'.repeat(20_000)}"z"${'}'.repeat(20_000)}`;
    await bridge.request('relight', `{"transaction":7,"target":${deepTarget},"reason":"r","actor":"cta-57"}`);
    const error = `the payload nests objects and arrays deeper than ${MAX_REQUEST_DEPTH} levels`;
    expect(bridge.responses).toEqual([{ transaction: 7, status: 'error', error }]);
    expect(refused).toEqual([
      expect.objectContaining({
        actor: 'cta-57',
        target: '{"zone":{"zone":{"zone":{"zone":{…}}}}}',
        message: error,
      }),
    ]);
  });

  it('answers every refused request, and logs one line per command and kind of refusal every 10 s', async () => {
    const big = 'x'.repeat(240 * 1024);
    const huge = JSON.stringify({ target: { zone: big }, reason: big, actor: big });
    for (let i = 0; i < 300; i++) {
      await bridge.request('relight', `not json ${i}`);
      await bridge.request('relight', huge);
      await bridge.request('clear-relight', JSON.stringify({ id: `unknown-${i}`, actor: 'cta-57' }));
    }
    expect(bridge.responses).toHaveLength(900);
    expect(bridge.responses.every((r) => r.status === 'error' && r.error!.length <= MAX_ERROR_CHARS)).toBe(
      true,
    );
    expect(refused).toHaveLength(900);
    expect(Math.max(...refused.map((e) => JSON.stringify(e).length))).toBeLessThan(2000);
    expect(refusalLines()).toHaveLength(3);
    expect(refusalLines()[1]).toMatch(
      /^lighting: MQTT relight request refused: target.zone must be an id .*\(is "x+…\)/,
    );
    expect(Math.max(...refusalLines().map((l) => l.length))).toBeLessThan(1200);

    clock.advance(10_000);
    await bridge.request('relight', 'still not json');
    expect(refusalLines()).toHaveLength(4);
    expect(refusalLines()[3]).toMatch(/\(299 more not-json refusal\(s\) since the last report\)$/);
  });

  it('still answers and reports an accepted request at once', async () => {
    await bridge.request('relight', 'not json');
    await bridge.request(
      'relight',
      JSON.stringify({ transaction: 'tx-1', target: { all: true }, reason: 'storm', actor: 'cta-57' }),
    );
    expect(bridge.responses[1]).toMatchObject({ transaction: 'tx-1', status: 'ok', luminaires: 4 });
  });
});
