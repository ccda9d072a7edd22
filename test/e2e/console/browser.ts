import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import {
  startLiveService,
  tokenFor,
  type LiveService,
  type TestUser,
} from '../../integration/api/liveService';

// The console's end-to-end tests: Debian's headless Chromium against the real service and simulated
// segment controllers. Screenshots go to test-artifacts/console/ (kept by CI as artifacts).

export const ARTIFACTS = path.join(__dirname, '..', '..', '..', 'test-artifacts', 'console');
export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 900 };

export interface ConsoleBrowser {
  live: LiveService;
  context: BrowserContext;
  /** A fresh tab, its problems (page errors, 404s, console errors) recorded. */
  openPage(viewport: { width: number; height: number }): Promise<Page>;
  /** A fresh tab (its own sessionStorage) logged in with the user's token, the other method of the login page. */
  logIn(user: TestUser, viewport: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function startConsoleBrowser(
  service: Parameters<typeof startLiveService>[0] = {},
): Promise<ConsoleBrowser> {
  await mkdir(ARTIFACTS, { recursive: true });
  const profile = await mkdtemp(path.join(tmpdir(), 'nocturne-chromium-'));
  const live = await startLiveService(service);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    // French municipal staff: the console follows the browser's language, French first.
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
  const openPage = async (viewport: { width: number; height: number }): Promise<Page> => {
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    // Phones at night are in dark mode; desktops in the office, in light mode.
    await page.emulateMedia({ colorScheme: viewport === PHONE ? 'dark' : 'light' });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      if (response.status() === 404) problems.push(`404 ${response.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of (40[13]|429)/.test(message.text()))
        problems.push(message.text());
    });
    (page as Page & { problems: string[] }).problems = problems;
    return page;
  };
  return {
    live,
    context,
    openPage,
    async logIn(user, viewport) {
      const page = await openPage(viewport);
      await page.goto(live.url);
      await page.getByText('Autre méthode').click();
      await page.getByLabel('Jeton d’accès').fill(tokenFor(user));
      await page.getByRole('button', { name: 'Se connecter avec le jeton' }).click();
      await page.getByText(new RegExp(`${user} · `)).waitFor();
      return page;
    },
    async close() {
      await context.close();
      await live.stop();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export const problemsOf = (page: Page): string[] => (page as Page & { problems: string[] }).problems;

export const shot = (page: Page, name: string): Promise<Buffer> =>
  page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
