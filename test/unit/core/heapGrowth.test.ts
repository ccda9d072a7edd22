import { limitHeapGrowth } from '../../../core/heapGrowth';

describe('limitHeapGrowth', () => {
  it("leaves V8's heap growing factor to the operator who gave one on the command line", () => {
    expect(limitHeapGrowth(['--heap-growing-percent=20'])).toBe(false);
    expect(limitHeapGrowth(['--expose-gc', '--heap_growing_percent', '20'])).toBe(false);
  });

  it('sets it otherwise', () => {
    expect(limitHeapGrowth(['--expose-gc'])).toBe(true);
    expect(limitHeapGrowth([])).toBe(true);
  });
});
