import type { AlertRuleConfig } from '../../../config/schema';
import {
  LampByDayRunner,
  LampCyclingRunner,
  LampFailureRunner,
  LevelMismatchRunner,
  LightingCommandFailedRunner,
} from './lightingRules';
import {
  NightFlowRunner,
  OutsideOpeningHoursRunner,
  RateOfChangeRunner,
  StaleRunner,
  ThresholdRunner,
} from './pointRules';
import type { RuleHost, Runner } from './rule';
import { DeviceUnreachableRunner, TelemetryStorageRunner } from './serviceRules';

/** The runner of each kind of rule. */
export function createRunner(rule: AlertRuleConfig, engine: RuleHost): Runner {
  switch (rule.kind) {
    case 'threshold':
      return new ThresholdRunner(rule, engine);
    case 'night-flow':
      return new NightFlowRunner(rule, engine);
    case 'outside-opening-hours':
      return new OutsideOpeningHoursRunner(rule, engine);
    case 'stale':
      return new StaleRunner(rule, engine);
    case 'lamp-by-day':
      return new LampByDayRunner(rule, engine);
    case 'level-mismatch':
      return new LevelMismatchRunner(rule, engine);
    case 'lamp-failure':
      return new LampFailureRunner(rule, engine);
    case 'lamp-cycling':
      return new LampCyclingRunner(rule, engine);
    case 'device-unreachable':
      return new DeviceUnreachableRunner(rule, engine);
    case 'telemetry-storage':
      return new TelemetryStorageRunner(rule, engine);
    case 'rate-of-change':
      return new RateOfChangeRunner(rule, engine);
    case 'lighting-command-failed':
      return new LightingCommandFailedRunner(rule, engine);
  }
}
