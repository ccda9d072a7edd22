import { ManualClock } from '../../../../core/clock';
import { silentLogger } from '../../../../core/logger';
import { buildBindings } from '../../../../controller/lighting/runtime/bindings';
import type { DeviceReports } from '../../../../controller/lighting/runtime/deviceReports';
import { ReportPoller, type ReportPollerOptions } from '../../../../controller/lighting/runtime/reportPoller';
import { LightingTopology } from '../../../../controller/lighting/topology';
import type { Config } from '../../../../config/schema';
import { FakeSegmentController, territory } from './fakes';

/** Lets every settled promise run its continuations. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setup(config: Config, options: ReportPollerOptions = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 22));
  const topology = LightingTopology.fromConfig(config);
  const { bindings } = buildBindings(config, topology);
  const devices = new Map(
    config.devices.map((d) => [
      d.id,
      new FakeSegmentController(d.id, d.lighting!.channels, d.lighting!.fail_safe_level),
    ]),
  );
  const reports: { device: string; reports: DeviceReports }[] = [];
  const poller = new ReportPoller(
    {
      bindings,
      driver: (id) => devices.get(id),
      clock,
      logger: silentLogger,
      hooks: {
        reported: (binding, r) => reports.push({ device: binding.deviceId, reports: r }),
      },
    },
    options,
  );
  return { clock, poller, devices, reports };
}

describe('ReportPoller', () => {
  it('passes the polled output, power, energy and lamp status on', async () => {
    const t = setup(territory(), { reportMs: 60_000, tickMs: 1_000 });
    const [a] = [...t.devices.values()];
    await a.start();
    a.values.set('input:2001', 25.4);
    a.values.set('input:4002', 1);
    t.poller.start();
    t.clock.advance(60_000);
    await settle();
    const report = t.reports.find((r) => r.device === a.deviceId)!.reports;
    expect(report.power[1]).toBeCloseTo(25.4);
    expect(report.lampStatus[2]).toBe(1);
    expect(report.output[0]).toBe(100);
  });

  it('logs a failure of what follows a report and polls again: no unhandled rejection', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 15, 22));
    const config = territory();
    const topology = LightingTopology.fromConfig(config);
    const { bindings } = buildBindings(config, topology);
    const [device] = config.devices;
    const controller = new FakeSegmentController(device.id, device.lighting!.channels, 100);
    await controller.start();
    const errors: string[] = [];
    let calls = 0;
    const poller = new ReportPoller(
      {
        bindings: bindings.filter((b) => b.deviceId === device.id),
        driver: () => controller,
        clock,
        logger: { ...silentLogger, error: (msg) => errors.push(msg) },
        hooks: {
          reported: () => {
            calls++;
            throw new Error('accounting broke');
          },
        },
      },
      { reportMs: 60_000, tickMs: 1_000 },
    );
    poller.start();
    clock.advance(60_000);
    await settle();
    clock.advance(60_000);
    await settle();
    poller.stop();
    expect(calls).toBe(2);
    expect(errors).toEqual([
      `reports of '${device.id}' not taken: accounting broke`,
      `reports of '${device.id}' not taken: accounting broke`,
    ]);
  });
});
