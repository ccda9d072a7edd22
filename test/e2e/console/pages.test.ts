import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import {
  request,
  startLiveService,
  tokenFor,
  type LiveService,
  type TestUser,
} from '../../integration/api/liveService';

// The map, calendars, overrides and the officials' page, in French, in Debian's headless Chromium
// against the real service and simulated segment controllers. Screenshots go to test-artifacts/console/.

const ARTIFACTS = path.join(__dirname, '..', '..', '..', 'test-artifacts', 'console');
const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 900 };

let live: LiveService;
let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(path.join(tmpdir(), 'nocturne-chromium-'));
  live = await startLiveService();
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    locale: 'fr-FR',
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await live?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/**
 * A fresh tab logged in with the user's bearer token, through the login form by its field's id (its
 * wording is the catalogue's); page errors, 404s and console errors are collected.
 */
async function logIn(user: TestUser, viewport: { width: number; height: number }): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  await page.emulateMedia({ colorScheme: viewport === PHONE ? 'dark' : 'light' });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    if (response.status() === 404) problems.push(`404 ${response.url()}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) problems.push(message.text());
  });
  await page.goto(live.url);
  await page.locator('#token').fill(tokenFor(user));
  await page.locator('form button[type=submit]').click();
  await page.getByText(new RegExp(`${user} · `)).waitFor();
  (page as Page & { problems: string[] }).problems = problems;
  return page;
}

const problemsOf = (page: Page): string[] => (page as Page & { problems: string[] }).problems;

const shot = (page: Page, name: string): Promise<Buffer> =>
  page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Taps the middle of a map: the one street of a commune of the test territory passes there. */
async function tapMiddle(page: Page, selector: string): Promise<void> {
  const box = (await page.locator(selector).boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

it('the map shows every luminaire of the reader’s communes, live, and the emergency page picks a zone by a tap on it', async () => {
  const page = await logIn('lighting-all', DESKTOP);
  await page.goto(`${live.url}/#/map`);
  await page.locator('#map[data-ready="true"]').waitFor();
  await page.getByText('8 luminaires sur la carte, 0 sans position').waitFor();
  await page.getByRole('list', { name: 'Légende' }).getByText('rallumé (urgence)').waitFor();
  await shot(page, 'map-desktop');
  expect(problemsOf(page)).toEqual([]);
  await page.close();

  const emergency = await logIn('emergency-metz', PHONE);
  const zone = live.config.zones.find((z) => z.id === live.zones.in)!;
  await emergency.locator('#zone-map[data-ready="true"]').waitFor();
  await shot(emergency, 'emergency-map-phone');
  await tapMiddle(emergency, '#zone-map');
  // The confirm step names the zone tapped; the relight is then the usual one.
  await emergency.getByText(new RegExp(`${zone.name}.*4 luminaires`)).waitFor();
  await shot(emergency, 'emergency-map-picked-phone');
  expect(await emergency.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
  expect(problemsOf(emergency)).toEqual([]);
  await emergency.close();
  expect((await request(live, 'admin-all', 'GET', '/api/relights')).body).toEqual([]);
}, 60_000);
