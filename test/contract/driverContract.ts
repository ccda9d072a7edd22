import type { Driver, PointRef, PointWrite, Sample, Value } from '../../drivers/driver';

/** What a driver under contract test needs around it; values are chosen by each fixture. */
export interface ContractFixture {
  driver: Driver;
  /** Points that exist on the device, with the values they hold. */
  readable: { ref: PointRef; value: Value }[];
  /** Writes that succeed; `readBack` reads each written point (same key). */
  writes: PointWrite[];
  readBack: PointRef[];
  /** A point the device does not have; its label must appear in errors. */
  missing: PointRef;
  teardown(): Promise<void>;
}

/** The behaviour every Driver promises the controller, whatever its protocol (STYLE 23). */
export function driverContract(name: string, setup: () => Promise<ContractFixture>): void {
  describe(`${name} honours the driver contract`, () => {
    let fixture: ContractFixture;

    beforeAll(async () => {
      fixture = await setup();
      await fixture.driver.start();
    });

    afterAll(async () => {
      await fixture.driver.stop();
      await fixture.teardown();
    });

    it('is up after starting against a reachable device', () => {
      expect(fixture.driver.health()).toBe('up');
    });

    it('reads every point, keyed as asked, with good quality', async () => {
      const samples = await fixture.driver.read(fixture.readable.map((r) => r.ref));
      expect(byKey(samples)).toEqual(
        Object.fromEntries(
          fixture.readable.map((r) => [r.ref.key, { value: closeTo(r.value), quality: 'good' }]),
        ),
      );
    });

    it('writes values that read back', async () => {
      const results = await fixture.driver.write(fixture.writes);
      expect(results.map((r) => [r.key, r.ok])).toEqual(fixture.writes.map((w) => [w.key, true]));
      const samples = await fixture.driver.read(fixture.readBack);
      expect(byKey(samples)).toEqual(
        Object.fromEntries(fixture.writes.map((w) => [w.key, { value: closeTo(w.value), quality: 'good' }])),
      );
    });

    it('names the configuration entry of a point the device does not have', async () => {
      const errors = await fixture.driver.check([...fixture.readable.map((r) => r.ref), fixture.missing]);
      expect(errors).toHaveLength(1);
      expect(errors[0].code).toBe('not-found');
      expect(errors[0].message).toContain(fixture.missing.label);
    });

    it('answers a read of a missing point with a bad sample instead of throwing', async () => {
      const [sample] = await fixture.driver.read([fixture.missing]);
      expect(sample).toMatchObject({ key: fixture.missing.key, value: null, quality: 'bad' });
      expect(sample.error).toBeDefined();
    });

    it('answers a write to a missing point with a failed result instead of throwing', async () => {
      const [result] = await fixture.driver.write([
        { key: fixture.missing.key, address: fixture.missing.address, value: 1 },
      ]);
      expect(result).toMatchObject({ key: fixture.missing.key, ok: false });
      expect(result.error).toBeDefined();
    });

    it('delivers subscribed points through the samples event', async () => {
      const wanted = new Set(fixture.readable.map((r) => r.ref.key));
      const seen = new Set<string>();
      const refs = fixture.readable.map((r) => ({ ...r.ref, periodMs: 100 }));
      const delivered = new Promise<void>((resolve) => {
        const onSamples = (samples: Sample[]): void => {
          for (const s of samples) if (s.quality === 'good') seen.add(s.key);
          if ([...wanted].every((k) => seen.has(k))) {
            fixture.driver.off('samples', onSamples);
            resolve();
          }
        };
        fixture.driver.on('samples', onSamples);
      });
      const subscription = fixture.driver.subscribe(refs);
      if (isFake(fixture.driver)) await fixture.driver.poll();
      await delivered;
      await subscription.close();
      expect(seen).toEqual(wanted);
    });

    it('stops idempotently; requests after stop fail instead of hanging', async () => {
      await fixture.driver.stop();
      await fixture.driver.stop();
      expect(fixture.driver.health()).toBe('down');
      const [sample] = await fixture.driver.read([fixture.readable[0].ref]);
      expect(sample.quality).toBe('bad');
      const [result] = await fixture.driver.write([fixture.writes[0]]);
      expect(result.ok).toBe(false);
    });
  });
}

function byKey(samples: Sample[]): Record<string, { value: unknown; quality: string }> {
  return Object.fromEntries(samples.map((s) => [s.key, { value: s.value, quality: s.quality }]));
}

/** Floats travel as float32 on some devices: compare numbers to 5 significant digits. */
function closeTo(value: Value): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? expect.closeTo(value, 4) : value;
}

function isFake(driver: Driver): driver is Driver & { poll(): Promise<void> } {
  return typeof (driver as { poll?: unknown }).poll === 'function';
}
