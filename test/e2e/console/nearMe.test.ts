import { PHONE, problemsOf, shot, startConsoleBrowser, type ConsoleBrowser } from './browser';
import { IN, request, type LiveService } from '../../integration/api/liveService';

// « Près de moi » on the emergency page: the phone's position picks the zone of the nearest luminaire,
// and a refused position leaves the list and the map to choose from. Metz has two streets here (its
// four luminaires shared between them), so the nearest one is a choice the page can get wrong.

let browser: ConsoleBrowser;
let live: LiveService;

beforeAll(async () => {
  browser = await startConsoleBrowser({ zonesPerController: 2 });
  ({ live } = browser);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** Great-circle distance in metres: the test's own measure, independent of the page's. */
function metres(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const h =
    Math.sin(((b.lat - a.lat) * rad) / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(((b.lon - a.lon) * rad) / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.sqrt(h));
}

/** The zone of Metz whose luminaire is nearest the position. */
function nearestZone(position: { lat: number; lon: number }): string {
  let best = { zone: '', d: Infinity };
  for (const zone of live.config.zones.filter((z) => z.commune === IN))
    for (const l of zone.luminaires) {
      const d = metres(position, l.position!);
      if (d < best.d) best = { zone: zone.id, d };
    }
  return best.zone;
}

const metzZones = () => live.config.zones.filter((z) => z.commune === IN);

async function emergencyZoneStep() {
  const page = await browser.logIn('emergency-metz', PHONE);
  await page.getByRole('heading', { name: 'Choisissez la rue dans Metz' }).waitFor();
  await page.locator('#zone-map[data-ready="true"]').waitFor();
  return page;
}

it('picks the zone of the luminaire nearest the phone’s position, for each street of the commune', async () => {
  expect(metzZones()).toHaveLength(2);
  await browser.context.grantPermissions(['geolocation'], { origin: live.url });
  for (const zone of metzZones()) {
    // 20 m east of the street's last luminaire, and some 400 m from the other street.
    const last = zone.luminaires.at(-1)!.position!;
    const position = { lat: last.lat, lon: last.lon + 20 / (111_320 * Math.cos((last.lat * Math.PI) / 180)) };
    expect(nearestZone(position)).toBe(zone.id);
    await browser.context.setGeolocation({ latitude: position.lat, longitude: position.lon, accuracy: 10 });

    const page = await emergencyZoneStep();
    await page.getByRole('button', { name: 'Près de moi' }).click();
    await page.getByText(`Rallumer ${zone.name} à 100 % : 2 luminaires.`).waitFor();
    await shot(page, `emergency-near-me-${zone.id}-phone`);
    expect(problemsOf(page)).toEqual([]);
    await page.close();
  }
  expect((await request(live, 'admin-all', 'GET', '/api/relights')).body).toEqual([]);
}, 60_000);

it('says in French that the position is unavailable when it is refused, and the list still chooses the street', async () => {
  await browser.context.clearPermissions();
  const page = await emergencyZoneStep();
  await page.getByRole('button', { name: 'Près de moi' }).click();
  await page
    .getByRole('status')
    .getByText('Position indisponible : choisissez la rue dans la liste ou sur la carte.')
    .waitFor();
  await shot(page, 'emergency-near-me-refused-phone');
  const zone = metzZones()[1];
  await page.getByRole('button', { name: new RegExp(`^${zone.name}`) }).click();
  await page.getByText(`Rallumer ${zone.name} à 100 % : 2 luminaires.`).waitFor();
  expect(problemsOf(page)).toEqual([]);
  await page.close();
}, 60_000);
