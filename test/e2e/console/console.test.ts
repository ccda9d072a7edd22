import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { DESKTOP, PHONE, problemsOf, shot, startConsoleBrowser, type ConsoleBrowser } from './browser';
import type { CommandRecord } from '../../../controller/lighting/runtime/lightingService';
import { request, tokenFor, type LiveService, type TestUser } from '../../integration/api/liveService';

// The console end to end in Debian's headless Chromium against the real service and simulated
// segment controllers. Screenshots go to test-artifacts/console/ (kept by CI as artifacts).

let browser: ConsoleBrowser;
let live: LiveService;

beforeAll(async () => {
  browser = await startConsoleBrowser();
  ({ live } = browser);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const openPage = (viewport: { width: number; height: number }): Promise<Page> => browser.openPage(viewport);
const logIn = (user: TestUser, viewport: { width: number; height: number }): Promise<Page> =>
  browser.logIn(user, viewport);

/** Serious and critical violations axe-core finds on the page as it is now (WCAG 2.1 A and AA, and best practices). */
async function accessibilityProblems(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the console's CSP allows no injected script tag.
  await page.evaluate(await readFile(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(options: unknown): Promise<AxeResults> } }).axe;
    const results = await axe.run({
      runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
    });
    return results.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

interface AxeResults {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
}

it('a police officer signs in on a phone with the enrolment link, relights a street, sees it confirmed, then clears it', async () => {
  // The administrator, at a desk, issues the link; its QR code is on the screen.
  const admin = await logIn('admin-metz', DESKTOP);
  await admin.getByRole('link', { name: 'Personnes' }).click();
  const row = admin.locator('tr[data-user="emergency-metz"]');
  await row.getByRole('button', { name: 'Lien d’inscription' }).click();
  await admin.getByRole('img', { name: 'QR code du lien d’inscription de emergency-metz' }).waitFor();
  await shot(admin, 'people-enrolment-desktop');
  const link = (await admin.locator('#people-result code.link').textContent())!;
  const code = /#enrol=([\w-]{22})$/.exec(link)![1];

  const page = await openPage(PHONE);
  await page.goto(link);
  // The role's first page is the emergency page; with one commune it goes straight to the streets.
  await page.getByRole('heading', { name: 'Rallumage d’urgence' }).waitFor();
  expect(page.url()).not.toContain(code);
  await expect(page.evaluate('document.documentElement.lang')).resolves.toBe('fr');
  const zoneName = live.config.zones.find((z) => z.id === live.zones.in)!.name!;
  await page.getByLabel('Chercher une rue').fill(zoneName.slice(0, 8));
  await page.getByRole('button', { name: new RegExp(zoneName) }).click();
  await page.getByLabel('Motif').selectOption({ label: 'Accident de la route' });
  await page.getByLabel('Précision (facultatif)').fill('carrefour bloqué');
  await shot(page, 'emergency-1-confirm-phone');

  await page.getByRole('button', { name: new RegExp(`^RALLUMER ${zoneName.toUpperCase()}`) }).click();
  const confirmation = page.locator('#confirmation');
  await confirmation.filter({ hasText: '✓ Confirmé par 4/4 luminaires' }).waitFor({ timeout: 15_000 });
  await shot(page, 'emergency-2-confirmed-phone');

  // The devices themselves hold the level: read back from the simulated segment controller.
  const device = live.config.zones.find((z) => z.id === live.zones.in)!.luminaires[0].device;
  const channels = live.simulation.controller(device).allChannels();
  expect(channels.slice(0, 4).map((c) => c.inEffect)).toEqual([100, 100, 100, 100]);
  const relights = (await request<CommandRecord[]>(live, 'admin-all', 'GET', '/api/relights')).body;
  expect(relights).toContainEqual(
    expect.objectContaining({
      target: { zone: live.zones.in },
      actor: 'emergency-metz',
      via: 'console',
      // A code, the same in every language, and the free text apart.
      reason: 'road-accident: carrefour bloqué',
    }),
  );
  await page.getByText('Accident de la route — carrefour bloqué — par emergency-metz').waitFor();

  page.once('dialog', (dialog) => void dialog.accept());
  await page.getByRole('button', { name: 'Arrêter ce rallumage' }).click();
  await page.getByText('Rallumage arrêté : la programmation normale reprend.').waitFor();
  await shot(page, 'emergency-3-cleared-phone');
  expect(
    (await request<CommandRecord[]>(live, 'admin-all', 'GET', '/api/relights')).body.filter(
      (r) => r.actor === 'emergency-metz',
    ),
  ).toEqual([]);

  // Usable at 360 px: nothing wider than the screen.
  expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
  expect(problemsOf(page)).toEqual([]);

  // The session survives a restart of the service: same device, still signed in.
  await live.restart();
  await page.reload();
  await page.getByRole('heading', { name: 'Rallumage d’urgence' }).waitFor();

  // A state change by cookie without the CSRF token is refused; with it (as the console sends it) it is not.
  const statuses = await page.evaluate(async () => {
    const post = (headers: Record<string, string>) =>
      fetch('/api/events/ticket', { method: 'POST', headers }).then((r) => r.status);
    const me = (await (await fetch('/api/me')).json()) as { csrf: string };
    return [await post({}), await post({ 'x-csrf-token': me.csrf })];
  });
  expect(statuses).toEqual([403, 200]);

  // The administrator signs the officer out everywhere: the phone is back at the login page.
  await admin.reload();
  await row.getByText('1', { exact: true }).waitFor();
  admin.once('dialog', (dialog) => void dialog.accept());
  await row.getByRole('button', { name: 'Déconnecter partout' }).click();
  await admin.getByText('emergency-metz est déconnecté·e partout : 1 session(s) terminée(s).').waitFor();
  expect(problemsOf(admin)).toEqual([]);
  await admin.close();
  await page.reload();
  await page.getByRole('heading', { name: 'Connexion' }).waitFor();
  await shot(page, 'emergency-4-signed-out-phone');
  expect(problemsOf(page)).toEqual([]);
  await page.close();
}, 90_000);

it('a person signs in with name and password, and is locked out after 5 failures', async () => {
  const password = 'lanterne-magique-2026';
  const set = await request(live, 'admin-all', 'PUT', '/api/users/viewer-metz/password', { password });
  expect(set.status).toBe(200);
  const page = await openPage(PHONE);
  await page.goto(live.url);
  await page.getByLabel('Identifiant').fill('viewer-metz');
  await page.getByLabel('Mot de passe').fill(password);
  await shot(page, 'login-phone');
  await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
  await page.getByText(/viewer-metz · élu·e ou lecteur/).waitFor();
  await page.getByRole('button', { name: 'Se déconnecter' }).click();
  await page.getByRole('heading', { name: 'Connexion' }).waitFor();
  // Signed out, the pages' links are gone with the session.
  await expect(page.getByRole('link', { name: 'Zones' }).count()).resolves.toBe(0);

  for (let i = 1; i <= 5; i++) {
    await page.getByLabel('Identifiant').fill('viewer-metz');
    await page.getByLabel('Mot de passe').fill(`mauvais-${i}`);
    await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
    await page.getByText('Identifiant ou mot de passe incorrect.').waitFor();
  }
  // Locked now, even with the right password.
  await page.getByLabel('Identifiant').fill('viewer-metz');
  await page.getByLabel('Mot de passe').fill(password);
  await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
  await page.getByText(/Trop d’essais manqués : réessayez dans \d+ s/).waitFor();
  await shot(page, 'login-locked-phone');
  expect(problemsOf(page)).toEqual([]);
  await page.close();
}, 90_000);

it('a lighting manager edits a program and sees the night preview and the year cost', async () => {
  const page = await logIn('lighting-metz', DESKTOP);
  await page.getByRole('link', { name: 'Programmes' }).click();
  await page.getByLabel('Programme', { exact: true }).selectOption('abaissement');
  await page.getByLabel('Étape 3 niveau').fill('10');
  await page.getByLabel('Étape 3 heure').fill('23:30');
  await page.getByLabel('Zone').selectOption(live.zones.in);
  await page.getByLabel('Nuit du').fill('2025-12-03');
  await page.getByRole('button', { name: 'Aperçu' }).click();

  const preview = page.locator('#preview');
  await preview.getByRole('heading', { name: `Nuit du 3 décembre 2025 dans ${live.zones.in}` }).waitFor();
  // The edited step, at its clock time in the zone's time zone, with its level.
  await expect(preview.getByRole('row', { name: /23:30 23:30 10 %/ }).count()).resolves.toBe(1);
  const year = page.locator('#year-cost');
  await year.getByRole('row', { name: /^Ce programme \(abaissement\)( [\d\s,]+){3}$/ }).waitFor();
  await expect(year.getByRole('row', { name: /^Différence/ }).textContent()).resolves.toMatch(
    /^Différence([−-]?[\d\s,]+){3}$/,
  );
  await shot(page, 'programs-preview-desktop');

  // Saving a program Montigny's zones also follow is beyond a Metz manager: the console shows why.
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  await page.getByRole('alert').filter({ hasText: 'Action non autorisée.' }).waitFor();
  await shot(page, 'programs-save-refused-desktop');
  expect(problemsOf(page)).toEqual([]);
  await page.close();
}, 60_000);

it('an energy manager watches live levels but never reaches a relight button, and the API refuses it too', async () => {
  const page = await logIn('energy-metz', DESKTOP);
  await expect(page.getByRole('link', { name: 'Urgence' }).count()).resolves.toBe(0);
  await page.getByRole('heading', { name: 'Zones' }).waitFor();
  const row = page.locator(`tr[data-zone="${live.zones.in}"]`);
  await row.waitFor();

  // A relight given elsewhere shows up live, through the event stream.
  await request(live, 'admin-all', 'POST', '/api/relights', {
    id: 'e2e-live',
    target: { zone: live.zones.in },
    reason: 'fire',
  });
  await row.getByText('urgence 4').waitFor({ timeout: 10_000 });
  await shot(page, 'energy-manager-zones-live');

  // Typing the emergency page's address leads back to a page the role may see.
  await page.goto(`${live.url}/#/emergency`);
  await page.getByRole('heading', { name: 'Zones' }).waitFor();
  await expect(page.getByRole('button', { name: /RALLUMER/ }).count()).resolves.toBe(0);
  const status = await page.evaluate(async (token) => {
    const response = await fetch('/api/relights', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: { commune: 'metz' }, reason: 'should not work' }),
    });
    return response.status;
  }, tokenFor('energy-metz'));
  expect(status).toBe(403);
  await shot(page, 'energy-manager-no-relight');
  expect(problemsOf(page)).toEqual([]);
  await page.close();
  expect((await request(live, 'admin-all', 'DELETE', '/api/relights/e2e-live')).status).toBe(200);
}, 60_000);

it('every page of the console passes axe-core with no serious or critical violation, in French', async () => {
  const problems: Record<string, string[]> = {};
  const login = await openPage(PHONE);
  await login.goto(live.url);
  await login.getByRole('heading', { name: 'Connexion' }).waitFor();
  await login.getByText('Autre méthode').click();
  problems.login = await accessibilityProblems(login);
  await login.goto(`${live.url}/api/docs`);
  await login.getByRole('heading', { name: 'API de nocturne' }).waitFor();
  await login.locator('#endpoints article').first().waitFor();
  problems.docs = await accessibilityProblems(login);
  await login.close();

  // The emergency page at each of its steps, on a phone at night (dark mode).
  const phone = await logIn('emergency-metz', PHONE);
  await phone.getByRole('heading', { name: 'Rallumage d’urgence' }).waitFor();
  await phone.getByLabel('Chercher une rue').waitFor();
  problems['emergency: streets'] = await accessibilityProblems(phone);
  const zoneName = live.config.zones.find((z) => z.id === live.zones.in)!.name!;
  await phone.getByRole('button', { name: new RegExp(zoneName) }).click();
  await phone.getByLabel('Motif').waitFor();
  problems['emergency: confirm'] = await accessibilityProblems(phone);
  // WCAG 2.5.5: every control of the emergency page at least 44 × 44 CSS pixels.
  const small = await phone.evaluate(`
    [...document.querySelectorAll('main button, main input, main select, main a, header button, header a')]
      .map((node) => ({ node, box: node.getBoundingClientRect() }))
      .filter(({ box }) => box.width > 0 && (box.width < 44 || box.height < 44))
      .map(({ node, box }) => node.outerHTML.slice(0, 60) + ' ' + Math.round(box.width) + '×' + Math.round(box.height))
  `);
  expect(small).toEqual([]);
  // Focus goes to the one button that matters; going back reaches the choices above it, in reading order.
  await expect(phone.evaluate('document.activeElement.textContent')).resolves.toMatch(/^RALLUMER /);
  await phone.keyboard.press('Shift+Tab');
  await expect(phone.evaluate('document.activeElement.id')).resolves.toBe('duration');
  await phone.keyboard.press('Shift+Tab');
  await expect(phone.evaluate('document.activeElement.id')).resolves.toBe('reason-note');
  expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(PHONE.width);
  await phone.close();

  const desk = await logIn('admin-all', DESKTOP);
  for (const [id, heading] of [
    ['zones', 'Zones'],
    ['programs', 'Programmes'],
    ['alerts', 'Alertes'],
    ['map', 'Carte'],
    ['calendars', 'Calendriers'],
    ['overrides', 'Dérogations'],
    ['officials', 'Ma commune'],
    ['report', 'Rapport d’évaluation mensuel'],
    ['exports', 'Exports'],
    ['people', 'Personnes'],
  ]) {
    await desk.goto(`${live.url}/#/${id}`);
    await desk.getByRole('heading', { name: heading, exact: true }).waitFor();
    await desk.waitForLoadState('networkidle');
    problems[id] = await accessibilityProblems(desk);
  }
  await desk
    .locator('tr[data-user="viewer-metz"]')
    .getByRole('button', { name: 'Lien d’inscription' })
    .click();
  await desk.getByRole('img', { name: /^QR code/ }).waitFor();
  problems['people: enrolment'] = await accessibilityProblems(desk);
  await shot(desk, 'people-desktop');
  expect(problemsOf(desk)).toEqual([]);
  await desk.close();
  expect(problems).toEqual({
    login: [],
    docs: [],
    'emergency: streets': [],
    'emergency: confirm': [],
    zones: [],
    programs: [],
    alerts: [],
    people: [],
    map: [],
    calendars: [],
    overrides: [],
    officials: [],
    report: [],
    exports: [],
    'people: enrolment': [],
  });
}, 90_000);

it('has every text the console asks for in both languages of the catalogue', async () => {
  const page = await openPage(DESKTOP);
  await page.goto(live.url);
  const catalogue = await page.evaluate<{ fr: string[]; en: string[] }>(
    "import('/strings.js').then((m) => Object.fromEntries(Object.entries(m.STRINGS).map(([l, s]) => [l, Object.keys(s)])))",
  );
  expect([...catalogue.en].sort()).toEqual([...catalogue.fr].sort());
  // Keys written out in the pages' code, t('…'); keys built from data (roles, slots, kinds) are looked up
  // in the pages and checked by the French tests above.
  const dir = path.join(__dirname, '..', '..', '..', 'controller', 'http', 'console');
  const used = new Set<string>();
  for (const file of [
    'app.js',
    'lib.js',
    'emergency.js',
    'zones.js',
    'programs.js',
    'alerts.js',
    'people.js',
    'docs.js',
    'map.js',
    'calendars.js',
    'overrides.js',
    'officials.js',
    'report.js',
    'exports.js',
  ]) {
    const source = await readFile(path.join(dir, file), 'utf8');
    for (const [, key] of source.matchAll(/\bt\('([\w.-]+)'/g)) used.add(key);
  }
  expect(used.size).toBeGreaterThan(100);
  expect([...used].filter((key) => !catalogue.fr.includes(key))).toEqual([]);

  // English on request, remembered on the device; then back to French for whoever comes next.
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await expect(page.evaluate('document.documentElement.lang')).resolves.toBe('en');
  await page.reload();
  await page.getByLabel('Password').waitFor();
  await page.getByRole('button', { name: 'Français' }).click();
  await page.getByRole('heading', { name: 'Connexion' }).waitFor();
  expect(problemsOf(page)).toEqual([]);
  await page.close();
});
