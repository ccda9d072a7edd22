import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';
import { buildTerritory, sha256Hex } from '../config/demoTerritory';
import { systemClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { Service } from '../controller/service';
import { freePorts } from '../test/helpers/ports';
import { FarmProcess, option, percentile, round, workspace } from './support/lightingBench';
import { childTrees, quiet } from './support/quiet';

// npm run bench -- console: the console's map with 10,000 luminaires in Debian's headless Chromium, on
// loopback against the real service (segment controllers simulated in their own process). Measured:
// time to first render (the canvas painted) and to interactive (a tap answered), bytes transferred on
// the first load, and frame times while levels change at 10 Hz through the event stream (the `levels`
// events that reached the page are counted: with none, the frames would time an idle map, and the run
// fails). The floor, in the same run: a bare page drawing the same 10,000 points as canvas circles, and
// redrawing them all at each change. Each page opens in a new tab once the browser is quiet (quietTab).
// Targets (issue #15): first render ≤ 500 ms, first load ≤ 300 KB, no frame over 50 ms.

const CONTROLLERS = 100;
const PER_CONTROLLER = 100;
const TOKEN = 'bench-console-token-5f1c0a9e7b';
const CHANGE_HZ = 10;

/** The bare floor: 10,000 circles on a canvas, redrawn at each change, and its frame times. */
const FLOOR_PAGE = `<!doctype html><html><body style="margin:0"><canvas id="c" width="1280" height="800"></canvas>
<script>
const n = 10000, c = document.getElementById('c'), g = c.getContext('2d');
const x = new Float64Array(n).map(() => Math.random() * 1280), y = new Float64Array(n).map(() => Math.random() * 800);
const fill = new Array(n).fill('#5b6775');
function draw() { g.clearRect(0, 0, 1280, 800); for (let i = 0; i < n; i++) { g.beginPath(); g.arc(x[i], y[i], 5, 0, 6.2832); g.fillStyle = fill[i]; g.fill(); } }
draw(); requestAnimationFrame(() => performance.mark('nocturne:map-drawn'));
window.change = (k) => { for (let i = k % 100; i < n; i += 100) fill[i] = fill[i] === '#ffe066' ? '#c99a2e' : '#ffe066'; requestAnimationFrame(draw); };
</script></body></html>`;

interface Load {
  firstRenderMs: number;
  interactiveMs: number;
  bytes: number;
}

/** Frame durations (ms) over `seconds`, from requestAnimationFrame, while `tick` runs at CHANGE_HZ. */
async function frames(page: Page, seconds: number, tick: (k: number) => Promise<unknown>): Promise<number[]> {
  // In the page (the project's TypeScript has no DOM types): every frame's duration from requestAnimationFrame.
  await page.evaluate(`(() => {
    window.frameTimes = [];
    let last = performance.now();
    const loop = (t) => { window.frameTimes.push(t - last); last = t; requestAnimationFrame(loop); };
    requestAnimationFrame(loop);
  })()`);
  for (let k = 0; k < seconds * CHANGE_HZ; k++) {
    const started = performance.now();
    await tick(k);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 1000 / CHANGE_HZ - (performance.now() - started))),
    );
  }
  return page.evaluate<number[]>('window.frameTimes.slice(1)');
}

/**
 * A new tab in a new context, once the browser is quiet: Chromium 156 loads its own WebUI with each new
 * window (the omnibox's, ~1.3 s of CPU in another renderer), which on two cores fell on the first render
 * being measured. A user's browser has its window open before the console's address is typed.
 */
async function quietTab(
  browser: Browser,
  options: { locale?: string; initScript?: string } = {},
): Promise<{ page: Page; cdp: CDPSession }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: options.locale,
  });
  if (options.initScript) await context.addInitScript(options.initScript);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await quiet(() => childTrees('chromium'), 10_000);
  return { page, cdp };
}

/**
 * Evaluates an expression in the page's own world through CDP, awaiting a promise it returns. Not
 * with Playwright's locators: they inject their script into the page, which would run during the
 * render being measured.
 */
async function inPage<T>(cdp: CDPSession, expression: string): Promise<T> {
  const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', {
    expression,
    awaitPromise: true,
    returnByValue: true,
  });
  if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.text} (${expression.slice(0, 80)})`);
  // NaN and infinities come as text.
  return (result.unserializableValue === undefined ? result.value : Number(result.unserializableValue)) as T;
}

/** The time since navigation at which the page marked its map drawn, once it has. */
function drawnAt(cdp: CDPSession): Promise<number> {
  return inPage<number>(
    cdp,
    `new Promise((resolve) => new PerformanceObserver((list, observer) => {
      const [drawn] = list.getEntriesByName('nocturne:map-drawn');
      if (drawn) { observer.disconnect(); resolve(drawn.startTime); }
    }).observe({ type: 'mark', buffered: true }))`,
  );
}

async function openMap(browser: Browser, url: string): Promise<{ page: Page; cdp: CDPSession; load: Load }> {
  const { page, cdp } = await quietTab(browser, {
    locale: 'fr-FR',
    initScript: `sessionStorage.setItem('nocturne.token', ${JSON.stringify(TOKEN)})`,
  });
  let bytes = 0;
  await cdp.send('Network.enable');
  cdp.on('Network.loadingFinished', (event: { encodedDataLength: number }) => {
    bytes += event.encodedDataLength;
  });
  await page.goto(`${url}/#/map`);
  const firstRenderMs = await drawnAt(cdp);
  // Interactive: a tap on the map answered with the luminaire's details.
  const box = await inPage<{ x: number; y: number; width: number; height: number }>(
    cdp,
    `document.getElementById('map').getBoundingClientRect().toJSON()`,
  );
  // The observer is in place before the tap is sent (on another CDP session, which may overtake).
  await inPage(
    cdp,
    `void (window.benchAnswered = new Promise((resolve) => {
      const detail = document.getElementById('map-detail');
      const observer = new MutationObserver(() => {
        if (detail.querySelector('.panel')) (observer.disconnect(), resolve(performance.now()));
      });
      observer.observe(detail, { childList: true, subtree: true });
    }))`,
  );
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const interactiveMs = await inPage<number>(
    cdp,
    `Promise.race([window.benchAnswered, new Promise((resolve) => setTimeout(resolve, 10000, NaN))])`,
  );
  if (Number.isNaN(interactiveMs)) throw new Error('a tap on the map was not answered within 10 s');
  return { page, cdp, load: { firstRenderMs, interactiveMs, bytes } };
}

async function main(): Promise<void> {
  const seconds = option('seconds', 10);
  const ports = await freePorts(CONTROLLERS + 1);
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-bench-console-'));
  const input = buildTerritory({
    communes: 6,
    modbusControllers: CONTROLLERS,
    opcuaControllers: 0,
    luminairesPerController: PER_CONTROLLER,
    zonesPerController: 1,
    presenceSensorsPerZone: 0,
    buildings: false,
    alerts: false,
    modbusPorts: ports.slice(0, CONTROLLERS),
    opcuaPorts: [],
    embeddedMqttPort: ports[CONTROLLERS],
    httpPort: 0,
    stateDir: path.join(dir, 'var'),
  });
  input.users = [{ id: 'bench', role: 'admin', communes: ['*'], token_sha256: sha256Hex(TOKEN) }];
  input.service = { ...input.service, log_level: 'error' };
  const ws = await workspace(input);
  const farm = await FarmProcess.start(ws.configFile, true);
  const service = new Service(ws.config, {
    logger: silentLogger,
    clock: systemClock,
    configFile: ws.configFile,
  });
  const floorServer: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end(FLOOR_PAGE);
  });
  let browser: Browser | undefined;
  try {
    await service.start(new AbortController().signal);
    await new Promise<void>((resolve) => floorServer.listen(0, '127.0.0.1', resolve));
    const floorUrl = `http://127.0.0.1:${(floorServer.address() as { port: number }).port}/`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });

    // The floor.
    const { page: floorPage, cdp: floorCdp } = await quietTab(browser);
    await floorPage.goto(floorUrl);
    const floorRender = await drawnAt(floorCdp);
    const floorFrames = await frames(floorPage, seconds, (k) => floorPage.evaluate(`window.change(${k})`));
    await floorPage.close();

    // Ours: the console's map; levels changed by overrides of one zone (100 luminaires) per tick.
    const { page, cdp, load } = await openMap(browser, service.api.url);
    let levelsEvents = 0;
    cdp.on('Network.eventSourceMessageReceived', (event: { eventName: string }) => {
      if (event.eventName === 'levels') levelsEvents++;
    });
    const zones = ws.config.zones.map((z) => z.id);
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const ourFrames = await frames(page, seconds, (k) =>
      fetch(`${service.api.url}/api/overrides`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          id: `bench-${k % zones.length}`,
          target: { zone: zones[k % zones.length] },
          level: k % 2 === 0 ? 30 : 80,
          reason: 'bench',
          untilReleased: true,
        }),
      }).then((r) => r.arrayBuffer()),
    );

    if (levelsEvents === 0)
      throw new Error('no levels event reached the map: its frames were not timed under changes');
    const stats = (values: number[]) => ({
      p50: round(percentile(values, 50)),
      p99: round(percentile(values, 99)),
      worst: round(Math.max(...values)),
    });
    const ours = stats(ourFrames);
    const floor = stats(floorFrames);
    console.log(`luminaires                 ${CONTROLLERS * PER_CONTROLLER}`);
    console.log(
      `first render               ${round(load.firstRenderMs)} ms   (floor ${round(floorRender)} ms, ×${round(load.firstRenderMs / floorRender)})`,
    );
    console.log(`interactive                ${round(load.interactiveMs)} ms`);
    console.log(`first load                 ${round(load.bytes / 1024)} KB`);
    console.log(`levels events received     ${levelsEvents} in ${seconds} s`);
    console.log(
      `frames at ${CHANGE_HZ} Hz changes   p50 ${ours.p50} ms  p99 ${ours.p99} ms  worst ${ours.worst} ms`,
    );
    console.log(
      `floor frames               p50 ${floor.p50} ms  p99 ${floor.p99} ms  worst ${floor.worst} ms   (×${round(ours.p50 / floor.p50)} p50, ×${round(ours.p99 / floor.p99)} p99)`,
    );
    console.log(
      JSON.stringify({
        luminaires: CONTROLLERS * PER_CONTROLLER,
        first_render_ms: round(load.firstRenderMs),
        interactive_ms: round(load.interactiveMs),
        first_load_kb: round(load.bytes / 1024),
        worst_frame_ms: ours.worst,
        frame_p50_ms: ours.p50,
        frame_p99_ms: ours.p99,
        levels_events: levelsEvents,
        floor_first_render_ms: round(floorRender),
        floor_frame_p50_ms: floor.p50,
        floor_frame_p99_ms: floor.p99,
        floor_worst_frame_ms: floor.worst,
      }),
    );
  } finally {
    await browser?.close();
    floorServer.close();
    await service.stop();
    await farm.stop();
    await ws.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
