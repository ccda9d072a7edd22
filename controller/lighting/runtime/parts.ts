import type { Timer } from '../../../core/clock';
import type { Arbiter } from '../arbiter';
import type { LightingTopology } from '../topology';
import type { ZoneSchedule } from '../zoneSchedule';
import type { LightingAccounting } from './accounting';
import type { DeviceBinding } from './bindings';
import type { Dispatcher } from './dispatcher';
import type { ProgressBoard } from './progress';
import type { ReportPoller } from './reportPoller';

/**
 * What the lighting runtime is made of once its configuration is read: the decisions (topology, arbiter,
 * schedules), dispatch to the devices and what follows from it (progress, accounting),
 * and the polling of the devices' reports.
 */
export interface LightingParts {
  topology: LightingTopology;
  arbiter: Arbiter;
  dispatcher: Dispatcher;
  reportPoller: ReportPoller;
  board: ProgressBoard;
  accounting: LightingAccounting;
  bindings: DeviceBinding[];
  schedules: (ZoneSchedule | undefined)[];
  zoneTimers: (Timer | undefined)[];
  /** Calendar id per zone (configuration, or changed at runtime). */
  zoneCalendars: string[];
  luxZones: Map<string, number[]>;
}
