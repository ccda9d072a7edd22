/**
 * At most one log line per key and interval, with the count held back in between, so that a flood of
 * the same problem (malformed messages, refused requests, failing writes) costs a counter increment
 * rather than a line each. The caller writes the line, with its own level and wording; time is passed
 * in, so that the caller's clock (a manual one in tests) decides.
 *
 * Every key seen is remembered: keys must come from a small fixed set (a kind of problem), never from
 * the input itself.
 */
export class ThrottledLog<K extends string = string> {
  private readonly keys = new Map<K, { loggedAt: number; heldBack: number }>();

  constructor(private readonly everyMs: number) {}

  /**
   * Calls `log` with what was held back for `key` since its last line (the sum of their weights), or
   * holds this one back when that line is less than `everyMs` old.
   */
  report(key: K, now: number, log: (heldBack: number) => void, weight = 1): void {
    const state = this.keys.get(key);
    if (state && now - state.loggedAt < this.everyMs) {
      state.heldBack += weight;
      return;
    }
    this.keys.set(key, { loggedAt: now, heldBack: 0 });
    log(state?.heldBack ?? 0);
  }
}
