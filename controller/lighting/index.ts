/** Lighting decisions: pure modules, no I/O. docs/lighting.md describes the semantics and the API. */
export * from './arbiter';
export * from './calendar';
export * from './energy';
export * from './holidays';
export * from '../../core/localTime';
export * from './lux';
export * from './presence';
export * from './schedule';
export * from '../../core/sun';
export * from './topology';
export * from './zoneSchedule';
