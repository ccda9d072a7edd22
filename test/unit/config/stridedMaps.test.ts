import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigIssue } from '../../../config/issues';
import { parseConfig } from '../../../config/load';

// Register maps of real DALI↔Modbus gateways (../shared/FIELD.md) lay each channel's registers out as one
// record: blocks with a stride interleave, and only registers that really coincide overlap.

const SMALL = readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'config', 'small.yaml'), 'utf8');
const SMALL_MAP = `register_maps:
  - id: sc-v1
    commanded_level: { table: holding, start: 1000 }
    in_effect_level: { table: input, start: 1000 }
    power_w: { table: input, start: 2000, scale: 0.1 }
`;

/** The small fixture with its map replaced and its controller given `channels`. */
function withMap(map: string, channels = 8): string {
  if (!SMALL.includes(SMALL_MAP)) throw new Error('fixture changed');
  return SMALL.replace(SMALL_MAP, map).replace(
    'lighting: { channels: 8, map: sc-v1 }',
    `lighting: { channels: ${channels}, map: sc-v1 }`,
  );
}

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseConfig(text, 'site.yaml', { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

/** ECOdim DALI GW2: arc power written at 3000+5·A, status at 3003+5·A, read back at 3004+5·A. */
const ECODIM = `register_maps:
  - id: sc-v1
    level_max_raw: 254
    commanded_level: { table: holding, start: 3000, stride: 5 }
    lamp_status: { table: holding, start: 3003, stride: 5 }
    in_effect_level: { table: holding, start: 3004, stride: 5 }
`;

describe('strided register blocks', () => {
  it('accepts per-channel records that interleave (ECOdim DALI GW2, 64 channels)', () => {
    expect(issuesOf(withMap(ECODIM, 64))).toEqual([]);
  });

  it('accepts strides beyond 64 registers (HMS Intesis: 100 registers per DALI address)', () => {
    const intesis = `register_maps:
  - id: sc-v1
    commanded_level: { table: holding, start: 7100, stride: 100 }
    in_effect_level: { table: holding, start: 7101, stride: 100 }
`;
    expect(issuesOf(withMap(intesis, 64))).toEqual([]);
  });

  it('reports registers that really coincide, naming the channels', () => {
    // A 32-bit read-back at 3002+5·A runs into the status register 3003+5·A of the same channel.
    const broken = ECODIM.replace(
      'in_effect_level: { table: holding, start: 3004, stride: 5 }',
      'in_effect_level: { table: holding, start: 3002, stride: 5, type: uint32 }',
    );
    const messages = issuesOf(withMap(broken, 3)).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toEqual([
      "devices[0].lighting.map: holding registers 3003-3003 of device 'sc-1' (lighting lamp_status (channel 1)) overlap 3002-3003 (lighting in_effect_level (channel 1))",
      "devices[0].lighting.map: holding registers 3008-3008 of device 'sc-1' (lighting lamp_status (channel 2)) overlap 3007-3008 (lighting in_effect_level (channel 2))",
      "devices[0].lighting.map: holding registers 3013-3013 of device 'sc-1' (lighting lamp_status (channel 3)) overlap 3012-3013 (lighting in_effect_level (channel 3))",
    ]);
  });

  it('reports a stride shorter than the value, whose channels overlap each other', () => {
    const short = ECODIM.replace(
      'commanded_level: { table: holding, start: 3000, stride: 5 }',
      'commanded_level: { table: holding, start: 4000, stride: 1, type: uint32 }',
    );
    const messages = issuesOf(withMap(short, 3)).map((i) => i.message);
    expect(messages).toEqual([
      "holding registers 4001-4002 of device 'sc-1' (lighting commanded_level (channel 2)) overlap 4000-4001 (lighting commanded_level (channel 1))",
      "holding registers 4002-4003 of device 'sc-1' (lighting commanded_level (channel 3)) overlap 4001-4002 (lighting commanded_level (channel 2))",
    ]);
  });
});
