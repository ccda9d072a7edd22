import { FAILURE_BIT } from '../../../config/deviceUnits';
import { type Arbiter } from '../arbiter';
import { PRIORITY, type SlotName } from '../slots';
import { EnergyLedger, estimatePowerW, powerOf } from '../energy';
import type { LightingTopology } from '../topology';
import type { DeviceBinding } from './bindings';
import type { DeviceReports } from './deviceReports';
import type { LuminaireFaultChanged, LuminaireFaultKind, LuminaireReport } from './events';

/**
 * Lighting energy and lamp health per luminaire, in typed arrays: power measured by the device or
 * estimated from rated power × level in effect, energy and burn time integrated by an EnergyLedger
 * (or the device's own counter), the full-power-all-night baseline, output and lamp status as reported,
 * and the faults the alert rules need (raised/cleared transitions).
 */

const FAULT_BITS: Record<LuminaireFaultKind, number> = {
  'lamp-failure': 1,
  'driver-failure': 2,
  'no-power': 4,
  'in-effect-mismatch': 8,
  'relay-failure': 16,
  'communication-failure': 32,
  'power-mismatch': 64,
};
/**
 * Measured power this far from rated power × light output, at a level in effect from MISMATCH_FROM_LEVEL
 * up (below it a driver's own losses dominate), means the device gives another light than the profile
 * says: a wrong level curve (linear on DALI gear draws 3 % at "50 %"), or a wrong rated power.
 */
const POWER_MISMATCH_FACTOR = 2;
const MISMATCH_FROM_LEVEL = 20;
/** The failures a device's status reports (deviceUnits FAILURE_BIT) → the faults they raise. */
const STATUS_FAULTS: [failure: number, fault: LuminaireFaultKind][] = [
  [FAILURE_BIT.lamp, 'lamp-failure'],
  [FAILURE_BIT.gear, 'driver-failure'],
  [FAILURE_BIT.relay, 'relay-failure'],
  [FAILURE_BIT.communication, 'communication-failure'],
];
const FAULT_KINDS = Object.keys(FAULT_BITS) as LuminaireFaultKind[];
const SLOT_OF: Record<number, SlotName> = {
  [PRIORITY.emergency]: 'emergency',
  [PRIORITY.override]: 'override',
  [PRIORITY.presence]: 'presence',
  [PRIORITY.schedule]: 'schedule',
};

export interface AccountingDeps {
  topology: LightingTopology;
  arbiter: Arbiter;
  /** Hours of darkness (the zone's dusk to dawn) between two instants, for the baseline. */
  darkHours(zone: number, from: number, to: number): number;
  /** Whether luminaire i's device holds two levels as the same value. */
  sameLevel(i: number, level: number, other: number): boolean;
  /** Level last commanded to luminaire i, % (NaN: none yet). */
  commanded(i: number): number;
}

export class LightingAccounting {
  private readonly ledger: EnergyLedger;
  private readonly deviceEnergyWh: Float64Array;
  private readonly output: Float64Array;
  private readonly lampStatus: Float64Array;
  /** 1 where the device measures power: the ledger follows its measurements, not estimates. */
  private readonly measured: Uint8Array;
  private readonly faults: Uint8Array;
  /** Per zone: hours of darkness since the service started, and up to when. */
  private readonly zoneDarkHours: Float64Array;
  private readonly zoneDarkAt: Float64Array;

  constructor(private readonly deps: AccountingDeps) {
    const n = deps.topology.count;
    this.ledger = new EnergyLedger(n);
    this.deviceEnergyWh = new Float64Array(n).fill(Number.NaN);
    this.output = new Float64Array(n).fill(Number.NaN);
    this.lampStatus = new Float64Array(n).fill(Number.NaN);
    this.measured = new Uint8Array(n);
    this.faults = new Uint8Array(n);
    this.zoneDarkHours = new Float64Array(deps.topology.zones.length);
    this.zoneDarkAt = new Float64Array(deps.topology.zones.length).fill(Number.NaN);
  }

  /** The service starts counting now. */
  start(now: number): void {
    this.zoneDarkAt.fill(now);
  }

  /** A new level in effect: devices that do not measure power get the estimate from it. */
  levelInEffect(i: number, level: number, at: number): void {
    if (this.measured[i] || !Number.isFinite(level)) return;
    this.ledger.observe(i, at, estimatePowerW(this.deps.topology.ratedW[i], level), level > 0);
  }

  /** A device's poll: power, energy counter, output and lamp status of its channels; returns fault changes. */
  reported(binding: DeviceBinding, reports: DeviceReports, at: number): LuminaireFaultChanged[] {
    const { arbiter } = this.deps;
    const changes: LuminaireFaultChanged[] = [];
    const luminaires = binding.luminaires;
    for (let k = 0; k < luminaires.length; k++) {
      const i = luminaires[k];
      const watts = reports.power[k];
      if (Number.isFinite(watts)) {
        this.measured[i] = 1;
        arbiter.recordPower(i, watts, at);
        this.ledger.observe(i, at, watts, arbiter.inEffectOf(i) > 0);
      } else if (!this.measured[i]) {
        const level = arbiter.inEffectOf(i);
        if (Number.isFinite(level)) this.levelInEffect(i, level, at);
      }
      if (Number.isFinite(reports.energy[k])) this.deviceEnergyWh[i] = reports.energy[k];
      this.output[i] = reports.output[k];
      this.lampStatus[i] = reports.lampStatus[k];
      this.checkFaults(binding, k, at, changes);
    }
    return changes;
  }

  /** Advances the baseline of every zone to `now`. */
  advance(now: number): void {
    for (let z = 0; z < this.zoneDarkAt.length; z++) {
      const from = this.zoneDarkAt[z];
      if (!(now > from)) continue;
      this.zoneDarkHours[z] += this.deps.darkHours(z, from, now);
      this.zoneDarkAt[z] = now;
    }
  }

  /** A row of the `lighting` measurement; brings the ledger to `now`. */
  report(i: number, now: number): LuminaireReport {
    const { arbiter, topology } = this.deps;
    const zone = topology.zones[topology.zoneOf[i]];
    const priority = arbiter.priorityOf(i);
    const inEffect = arbiter.inEffectOf(i);
    const commanded = this.deps.commanded(i);
    const level = Number.isFinite(inEffect) ? inEffect : commanded;
    const power = powerOf(arbiter.measuredPowerOf(i), level, topology.ratedW[i]);
    if (power) this.ledger.observe(i, now, power.watts, level > 0);
    const deviceEnergy = this.deviceEnergyWh[i];
    return {
      luminaire: topology.ids[i],
      zone: zone.id,
      commune: topology.communes[zone.commune],
      level: finite(commanded),
      inEffect: finite(inEffect),
      output: finite(this.output[i]),
      priority,
      source: priority === undefined ? 'fail-safe' : SLOT_OF[priority],
      powerW: power?.watts,
      energyWh: Number.isFinite(deviceEnergy) ? deviceEnergy : this.ledger.energyWh(i),
      baselineWh: topology.ratedW[i] * this.zoneDarkHours[topology.zoneOf[i]],
      burnS: this.ledger.burnHours(i) * 3600,
      lampStatus: finite(this.lampStatus[i]),
      estimated: power?.estimated ?? true,
    };
  }

  outputOf(i: number): number | undefined {
    return finite(this.output[i]);
  }

  lampStatusOf(i: number): number | undefined {
    return finite(this.lampStatus[i]);
  }

  energyWh(i: number): number {
    const device = this.deviceEnergyWh[i];
    return Number.isFinite(device) ? device : this.ledger.energyWh(i);
  }

  burnHours(i: number): number {
    return this.ledger.burnHours(i);
  }

  private checkFaults(binding: DeviceBinding, k: number, at: number, changes: LuminaireFaultChanged[]): void {
    const { arbiter } = this.deps;
    const i = binding.luminaires[k];
    const status = this.lampStatus[i];
    const commanded = finite(this.deps.commanded(i));
    const inEffect = arbiter.inEffectOf(i);
    const power = arbiter.measuredPowerOf(i);
    const output = this.output[i];
    let bits = 0;
    for (const [failure, fault] of STATUS_FAULTS) if (status & failure) bits |= FAULT_BITS[fault];
    const settled = !Number.isFinite(output) || binding.matches(output, inEffect);
    if (this.measured[i] && !(status > 0) && inEffect > 0 && settled && power === 0)
      bits |= FAULT_BITS['no-power'];
    const expectedW = (this.deps.topology.ratedW[i] * inEffect) / 100;
    if (
      this.measured[i] &&
      settled &&
      power > 0 &&
      inEffect >= MISMATCH_FROM_LEVEL &&
      expectedW > 0 &&
      (power * POWER_MISMATCH_FACTOR < expectedW || power > expectedW * POWER_MISMATCH_FACTOR)
    )
      bits |= FAULT_BITS['power-mismatch'];
    if (commanded !== undefined && Number.isFinite(inEffect) && !this.deps.sameLevel(i, commanded, inEffect))
      bits |= FAULT_BITS['in-effect-mismatch'];
    const before = this.faults[i];
    if (bits === before) return;
    this.faults[i] = bits;
    const { topology } = this.deps;
    const zone = topology.zones[topology.zoneOf[i]];
    for (const kind of FAULT_KINDS) {
      const bit = FAULT_BITS[kind];
      if ((bits & bit) === (before & bit)) continue;
      changes.push({
        at,
        luminaire: topology.ids[i],
        zone: zone.id,
        commune: topology.communes[zone.commune],
        device: binding.deviceId,
        channel: binding.channels[k],
        kind,
        state: bits & bit ? 'raised' : 'cleared',
        commanded,
        inEffect: finite(inEffect),
        powerW: finite(power),
        lampStatus: finite(status),
      });
    }
  }
}

function finite(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}
