import { setMaxListeners } from 'node:events';
import type { Logger } from './logger';

/** Anything the service starts and stops: drivers, brokers, controllers, the HTTP server. */
export interface Component {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts components in order and stops the started ones in reverse order. A failed or aborted start
 * stops what was already running; stop() is idempotent, isolates each component's failure and gives
 * up on a component that does not stop within the time limit.
 */
export class Lifecycle {
  private readonly components: Component[] = [];
  private readonly started: Component[] = [];
  private stopping?: Promise<void>;

  constructor(
    private readonly logger: Logger,
    private readonly stopTimeoutMs: number,
  ) {}

  add(component: Component): void {
    this.components.push(component);
  }

  async start(signal: AbortSignal): Promise<void> {
    // Every component, and each of its drivers, may listen to this one signal.
    setMaxListeners(0, signal);
    for (const component of this.components) {
      if (signal.aborted) throw abortError(signal);
      const begun = Date.now();
      this.started.push(component);
      try {
        await component.start(signal);
      } catch (error) {
        this.logger.error(`${component.name} failed to start: ${(error as Error).message}`);
        await this.stop();
        throw error;
      }
      this.logger.debug(() => `${component.name} started in ${Date.now() - begun} ms`);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    const deadline = Date.now() + this.stopTimeoutMs;
    for (const component of [...this.started].reverse()) {
      const remaining = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), remaining);
      });
      try {
        const outcome = await Promise.race([component.stop().then(() => 'stopped' as const), timeout]);
        if (outcome === 'timeout') this.logger.error(`${component.name} did not stop within the time limit`);
      } catch (error) {
        this.logger.error(`${component.name} failed to stop: ${(error as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.started.length = 0;
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('start aborted');
}
