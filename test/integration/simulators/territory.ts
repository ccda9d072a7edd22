import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toYaml } from '../../../config/generateDemo';
import { parseConfig } from '../../../config/load';
import type { Config } from '../../../config/schema';
import { buildTerritory, type TerritoryOptions } from '../../../config/demoTerritory';
import { freePorts } from '../../helpers/ports';

export interface TestTerritory {
  config: Config;
  yaml: string;
  ports: {
    modbus: number[];
    opcua: number[];
    bms: number;
    meterGateway: number;
    mqtt: number;
  };
}

/**
 * A small territory from the demo's own generator (Metz only), on ports chosen for this run and checked
 * by the same loader as the service's configuration.
 */
export async function testTerritory(
  options: {
    modbus?: number;
    opcua?: number;
    luminaires?: number;
    /** The building management system on the first OPC UA controller's port: one server plays both. */
    bmsOnOpcuaPort?: boolean;
    overrides?: Partial<TerritoryOptions>;
  } = {},
): Promise<TestTerritory> {
  const modbusCount = options.modbus ?? 1;
  const opcuaCount = options.opcua ?? 0;
  const all = await freePorts(modbusCount + opcuaCount + 3);
  const ports = {
    modbus: all.slice(0, modbusCount),
    opcua: all.slice(modbusCount, modbusCount + opcuaCount),
    bms: options.bmsOnOpcuaPort ? all[modbusCount] : all[modbusCount + opcuaCount],
    meterGateway: all[modbusCount + opcuaCount + 1],
    mqtt: all[modbusCount + opcuaCount + 2],
  };
  const yaml = toYaml(
    buildTerritory({
      communes: 1,
      luminairesPerController: options.luminaires ?? 4,
      zonesPerController: 1,
      presenceSensorsPerZone: 1,
      modbusPorts: ports.modbus,
      opcuaPorts: ports.opcua,
      bmsPort: ports.bms,
      meterGatewayPort: ports.meterGateway,
      embeddedMqttPort: ports.mqtt,
      httpPort: 0,
      ...options.overrides,
    }),
  );
  return { config: parseConfig(yaml, 'test-territory.yaml'), yaml, ports };
}

/** Writes the territory to a fresh temp directory; remove it with the returned function. */
export async function writeTerritory(
  territory: TestTerritory,
): Promise<{ file: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'nocturne-sim-'));
  const file = path.join(dir, 'territory.yaml');
  await writeFile(file, territory.yaml);
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** JSON over the control API; T is what the caller expects a successful answer to hold. */
export async function control<T = { error?: string }>(
  port: number,
  method: 'GET' | 'POST',
  pathname: string,
  body?: unknown,
): Promise<{ status: number; body: T & { error?: string } }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`, {
    method,
    ...(body !== undefined
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  return { status: response.status, body: (await response.json()) as T & { error?: string } };
}
