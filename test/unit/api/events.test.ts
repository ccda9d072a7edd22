import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { EventStreams } from '../../../controller/http/events';
import { ManualClock } from '../../../core/clock';
import type { LightingChange } from '../../../controller/lighting/runtime/lightingService';
import type { Actor } from '../../../controller/scope';
import { RecordingLogger } from './harness';
import { InTestServices } from './inTestServices';

const ACTOR: Actor = {
  user: 'viewer-metz',
  role: 'viewer',
  communes: ['metz'],
  via: 'api',
  from: '127.0.0.1',
};
const MAX_BACKLOG = 64 * 1024;

/** About 10 KB on the wire: a zone's worth of levels. */
const LEVELS: LightingChange = {
  type: 'levels',
  at: 0,
  luminaires: Array.from({ length: 80 }, (_, i) => ({
    id: `metz-a-${i}`,
    zone: 'metz-a',
    commune: 'metz',
    level: 50,
    slot: null,
    commanded: 50,
    inEffect: 50,
    powerW: 25,
  })),
};
/** With its `event:`/`data:` lines and chunk framing. */
const EVENT_BYTES = JSON.stringify(LEVELS).length + 64;

describe('EventStreams', () => {
  let server: Server;
  let client: Socket | undefined;

  afterEach(async () => {
    client?.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('cuts off a client that does not read, holding at most the bound and one event for it', async () => {
    const services = new InTestServices();
    const logger = new RecordingLogger();
    const streams = new EventStreams({
      clock: new ManualClock(0),
      logger,
      lighting: services.lighting,
      alerts: services.alerts,
      heartbeatMs: 15_000,
      maxPerUser: 8,
      maxTotal: 200,
      maxBacklogBytes: MAX_BACKLOG,
    });
    let response: ServerResponse | undefined;
    server = createServer((_request, res) => {
      response = res;
      streams.attach(res, ACTOR, ['lighting:read']);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    // A client that sends its request, then never reads: the kernel's buffers fill, then Node's.
    client = connect(port, '127.0.0.1');
    client.pause();
    client.write('GET /api/events HTTP/1.1\r\nHost: nocturne\r\n\r\n');
    while (streams.stats().open === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    let largestBacklog = 0;
    for (let i = 0; streams.stats().open === 1 && i < 20_000; i++) {
      services.emit(LEVELS);
      largestBacklog = Math.max(largestBacklog, response!.writableLength);
      // Lets the socket hand what it can to the kernel, as it would between real events.
      if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }

    expect(streams.stats()).toEqual({ open: 0, refused: 0, dropped: 1 });
    expect(largestBacklog).toBeGreaterThan(MAX_BACKLOG);
    expect(largestBacklog).toBeLessThanOrEqual(MAX_BACKLOG + EVENT_BYTES);
    // Destroyed, not ended: end() would keep the unread bytes until the client takes them, if ever.
    expect(response!.destroyed).toBe(true);
    expect(services.subscribers).toBe(0);
    expect(logger.lines.some((l) => l.includes("event stream for 'viewer-metz' cut off"))).toBe(true);
  });
});
