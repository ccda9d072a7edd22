import { EventEmitter } from 'node:events';
import type { DriverError, Health, Sample } from '../drivers/driver';
import type { Logger } from '../core/logger';

/** Every event that crosses components, declared once. Names are past tense. */
export interface EventMap {
  samplesReceived: { deviceId: string; samples: Sample[] };
  deviceHealthChanged: { deviceId: string; health: Health; error?: DriverError };
  deviceReconnected: { deviceId: string };
  // lighting: controller/lighting/runtime/events.ts
  lightingReported: import('./lighting/runtime/events').LightingReported;
  presenceDetected: import('./lighting/runtime/events').PresenceDetected;
  lightingCommandChanged: import('./lighting/runtime/events').LightingCommandEvent;
  luminaireFaultChanged: import('./lighting/runtime/events').LuminaireFaultChanged;
  lightingDispatchFailed: import('./lighting/runtime/events').LightingDispatchFailed;
  lightingRequestRefused: import('./lighting/runtime/events').LightingRequestRefused;
  // telemetry and alerts: controller/telemetry/events.ts
  telemetryHealthChanged: import('./telemetry/events').TelemetryHealthChanged;
  telemetryDropped: import('./telemetry/events').TelemetryDropped;
  telemetryQuarantined: import('./telemetry/events').TelemetryQuarantined;
  alertChanged: import('./telemetry/events').AlertChanged;
  alertNotificationSettled: import('./telemetry/events').AlertNotificationSettled;
  // audit log: controller/http/audit.ts
  auditRecorded: import('./audit/entry').AuditEntry;
}

export type EventName = keyof EventMap;
type Listener<E extends EventName> = (payload: EventMap[E]) => void;

/**
 * A typed event bus. Each listener belongs to an owner and runs in its own try/catch, so one
 * failing component cannot stop the others from hearing an event.
 */
export class Bus {
  private readonly emitter = new EventEmitter();
  private readonly byOwner = new Map<
    object,
    { event: EventName; wrapped: Parameters<EventEmitter['off']>[1] }[]
  >();

  constructor(private readonly logger: Logger) {
    this.emitter.setMaxListeners(0);
  }

  on<E extends EventName>(event: E, owner: object, listener: Listener<E>): void {
    const name = owner.constructor.name;
    const wrapped = (payload: EventMap[E]): void => {
      try {
        listener(payload);
      } catch (error) {
        this.logger.error(`${name}/${event}: ${(error as Error).message}`, { stack: (error as Error).stack });
      }
    };
    this.emitter.on(event, wrapped);
    const list = this.byOwner.get(owner) ?? [];
    list.push({ event, wrapped });
    this.byOwner.set(owner, list);
  }

  emit<E extends EventName>(event: E, payload: EventMap[E]): void {
    this.emitter.emit(event, payload);
  }

  /** Removes exactly the listeners this owner added. */
  removeListeners(owner: object): void {
    for (const { event, wrapped } of this.byOwner.get(owner) ?? []) this.emitter.off(event, wrapped);
    this.byOwner.delete(owner);
  }

  listenerCount(event: EventName): number {
    return this.emitter.listenerCount(event);
  }
}
