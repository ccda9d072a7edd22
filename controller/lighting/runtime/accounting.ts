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
};
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
  /** Read-back tolerance of luminaire i's device, %. */
  tolerance(i: number): number;
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
    if (status === 1) bits |= FAULT_BITS['lamp-failure'];
    if (status === 2) bits |= FAULT_BITS['driver-failure'];
    const settled = !Number.isFinite(output) || Math.abs(output - inEffect) <= binding.tolerance;
    if (this.measured[i] && status !== 1 && status !== 2 && inEffect > 0 && settled && power === 0)
      bits |= FAULT_BITS['no-power'];
    if (
      commanded !== undefined &&
      Number.isFinite(inEffect) &&
      Math.abs(commanded - inEffect) > this.deps.tolerance(i)
    )
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
