import type ModbusRTU from 'modbus-serial';
import type { LinkJob, ModbusWire, WireAnswer } from './wire';

// modbus-serial keeps a timer per pending transaction; this (internal) method cancels them on teardown.
interface CancellableClient {
  _cancelPendingTransactions?: () => void;
}

/**
 * Requests through modbus-serial, for RTU framing (a serial port, or raw RTU frames on a TCP socket to a
 * serial gateway): one request at a time on a bus, so its per-request callback and the one transaction
 * it keeps per port cost little there.
 */
export class LibraryWire implements ModbusWire {
  constructor(
    readonly client: ModbusRTU,
    private readonly answer: WireAnswer,
  ) {}

  send(job: LinkJob): void {
    const client = this.client;
    const reply = (error: unknown, result: unknown): void => this.answer(job, error, result);
    try {
      // Read synchronously when the request is written, so each request gets its own device's timeout.
      client.setTimeout(job.timeoutMs);
      switch (job.fc) {
        case 1:
          client.writeFC1(job.unitId, job.address, job.count, reply);
          break;
        case 2:
          client.writeFC2(job.unitId, job.address, job.count, reply);
          break;
        case 3:
          client.writeFC3(job.unitId, job.address, job.count, reply);
          break;
        case 4:
          client.writeFC4(job.unitId, job.address, job.count, reply);
          break;
        case 5:
          client.writeFC5(job.unitId, job.address, (job.payload as boolean[])[0], reply);
          break;
        case 6:
          client.writeFC6(job.unitId, job.address, (job.payload as number[])[0], reply);
          break;
        case 15:
          client.writeFC15(job.unitId, job.address, job.payload as boolean[], reply);
          break;
        case 16:
          client.writeFC16(job.unitId, job.address, job.payload as number[], reply);
          break;
      }
    } catch (error) {
      this.answer(job, error, undefined);
    }
  }

  cancel(): void {
    (this.client as unknown as CancellableClient)._cancelPendingTransactions?.();
  }
}
