import type { PointConfig } from '../../config/schema';
import type { BuildingModel } from '../buildings';
import type { Field } from './fieldBank';

/**
 * The building points a Modbus device serves, at the address, type, word and byte order and scale their
 * configuration gives: raw = (value - offset) / scale. Points are read-only.
 */
export function pointFields(
  model: BuildingModel,
  points: readonly { buildingId: string; point: PointConfig }[],
): Field[] {
  return points.flatMap(({ buildingId, point }) => {
    const binding = point.modbus;
    if (!binding) return [];
    const isMeter = point.measurement === 'meter';
    const field: Field = {
      name: `point '${buildingId}/${point.id}'`,
      table: binding.table,
      address: binding.address,
      format: { type: binding.type, wordOrder: binding.word_order, byteOrder: binding.byte_order },
      wrap: isMeter,
      read: () => {
        const value = model.value(buildingId, point.id);
        if (typeof value === 'boolean') return value ? 1 : 0;
        const raw = (value - binding.offset) / binding.scale;
        // A meter register only steps once a full unit of its resolution has been consumed.
        return isMeter ? Math.floor(raw + 1e-6) : raw;
      },
    };
    return [field];
  });
}
