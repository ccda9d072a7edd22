import { Leadership } from '../../../controller/cluster/leadership';

/** Instants in ms on a monotonic clock the test moves by hand: TTL 2 s, margin 700 ms. */
const TIMING = { ttlMs: 2_000, marginMs: 700 };

describe('Leadership', () => {
  it('commands nothing before it is elected, as a standby, or once fenced', () => {
    const leadership = new Leadership(TIMING);
    expect(leadership.state).toBe('candidate');
    expect(leadership.mayCommand(0)).toBe(false);
    leadership.watching();
    expect(leadership.state).toBe('standby');
    expect(leadership.mayCommand(10)).toBe(false);
    // A keep-alive of someone else's lease means nothing here.
    leadership.keptAlive(10);
    expect(leadership.deadline).toBe(Number.NEGATIVE_INFINITY);
    leadership.vacant();
    expect(leadership.state).toBe('candidate');
    leadership.elected(100);
    expect(leadership.mayCommand(101)).toBe(true);
    leadership.fence('lease lost: revoked');
    expect(leadership.state).toBe('fenced');
    expect(leadership.fencedBecause).toBe('lease lost: revoked');
    expect(leadership.mayCommand(102)).toBe(false);
  });

  it('may command until the send instant of the last acknowledged keep-alive + TTL − margin, not a millisecond more', () => {
    const leadership = new Leadership(TIMING);
    leadership.elected(1_000);
    expect(leadership.deadline).toBe(1_000 + 2_000 - 700);
    expect(leadership.mayCommand(2_299)).toBe(true);
    // A keep-alive sent at 1,600, acknowledged later: the deadline counts from its sending.
    leadership.keptAlive(1_600);
    expect(leadership.deadline).toBe(2_900);
    expect(leadership.mayCommand(2_899)).toBe(true);
    expect(leadership.mayCommand(2_900)).toBe(false);
    expect(leadership.state).toBe('fenced');
    expect(leadership.fencedBecause).toBe('no keep-alive acknowledged for 1300 ms');
    // Fencing is final: a late acknowledgement does not give the shard back.
    leadership.keptAlive(2_800);
    expect(leadership.mayCommand(2_801)).toBe(false);
  });

  it('never moves the deadline back for an acknowledgement of an older keep-alive', () => {
    const leadership = new Leadership(TIMING);
    leadership.elected(0);
    leadership.keptAlive(900);
    leadership.keptAlive(600);
    expect(leadership.deadline).toBe(900 + 1_300);
  });

  it('is elected only as a candidate', () => {
    const leadership = new Leadership(TIMING);
    leadership.watching();
    expect(() => leadership.elected(0)).toThrow('leadership: elected while standby');
  });

  it('refuses a margin that leaves no time to command', () => {
    expect(() => new Leadership({ ttlMs: 1_000, marginMs: 1_000 })).toThrow(
      'leadership: the safety margin (1000 ms) must be at least 0 and less than the lease TTL (1000 ms)',
    );
  });
});
