import { DriverError } from '../../../drivers/driver';
import { HealthTracker } from '../../../drivers/modbus/health';

const timeout = new DriverError('timeout', 'no answer within 100 ms');
const busy = new DriverError('exception', 'busy', 'SlaveDeviceBusy');
const gone = new DriverError('exception', 'gateway: no answer', 'GatewayTargetDeviceFailedToRespond');
const refused = new DriverError('disconnected', 'ECONNREFUSED', 'ECONNREFUSED');

function tracker(): HealthTracker {
  return new HealthTracker({ degradedHoldMs: 1_000, downAfterUnanswered: 2 });
}

describe('HealthTracker', () => {
  it('is down until connected, then up', () => {
    const t = tracker();
    expect(t.current(0).health).toBe('down');
    t.linkOpened();
    expect(t.current(0)).toEqual({ health: 'up' });
  });

  it('is down with the error while the connection cannot be made', () => {
    const t = tracker();
    t.connectFailed(refused);
    expect(t.current(5)).toEqual({ health: 'down', error: refused });
  });

  it('is degraded while reconnecting after a loss, then down if the attempt fails', () => {
    const t = tracker();
    t.linkOpened();
    t.linkLost(refused);
    expect(t.current(10_000)).toEqual({ health: 'degraded', error: refused });
    t.connectFailed(refused);
    expect(t.current(10_500).health).toBe('down');
    t.linkOpened();
    expect(t.current(10_501).health).toBe('up');
  });

  it('stays degraded for the hold time after a failed request, then turns up again', () => {
    const t = tracker();
    t.linkOpened();
    expect(t.failed(busy, 100)).toBe(false);
    expect(t.current(100)).toEqual({ health: 'degraded', error: busy });
    expect(t.degradedUntil()).toBe(1_100);
    expect(t.current(1_099).health).toBe('degraded');
    expect(t.current(1_100).health).toBe('up');
  });

  it('counts a device that stops answering as down, and says when it comes back', () => {
    const t = tracker();
    t.linkOpened();
    t.failed(timeout, 0);
    expect(t.current(0).health).toBe('degraded');
    t.failed(gone, 10);
    expect(t.current(10)).toEqual({ health: 'down', error: gone });
    expect(t.degradedUntil()).toBeUndefined();
    expect(t.current(60_000).health).toBe('down');
    expect(t.answered()).toBe(true);
    expect(t.current(60_000).health).toBe('up');
    expect(t.answered()).toBe(false);
  });

  it('treats an exception as an answer: the device is back even if it refuses the request', () => {
    const t = tracker();
    t.linkOpened();
    t.failed(timeout, 0);
    t.failed(timeout, 1);
    expect(t.failed(new DriverError('exception', 'x', 'IllegalDataAddress'), 2)).toBe(true);
    expect(t.current(2).health).toBe('degraded');
  });

  it('forgets unanswered requests when the link reopens', () => {
    const t = tracker();
    t.linkOpened();
    t.failed(timeout, 0);
    t.failed(timeout, 1);
    t.linkLost(refused);
    t.linkOpened();
    expect(t.current(5_000).health).toBe('up');
  });
});
