import { daysToTruncate, truncateAddress } from '../../../controller/audit/retention';

describe('addresses cut to their network', () => {
  it.each([
    ['192.0.2.57', '192.0.2.0'],
    ['10.0.0.7', '10.0.0.0'],
    ['::ffff:192.0.2.57', '::ffff:192.0.2.0'],
    ['2001:db8:4:7::1', '2001:db8:4::'],
    ['2001:0db8:0000:0042:0000:8a2e:0370:7334', '2001:db8::'],
    ['fe80::1%eth0', 'fe80::'],
    ['::1', '::'],
  ])('%s → %s', (address, network) => {
    expect(truncateAddress(address)).toBe(network);
    expect(truncateAddress(network)).toBe(network); // once cut, stays so
  });

  it.each(['police-dispatch-1', 'alertes/relight', 'email', '999.1.1.1', '1:2:3:4:5:6:7:8:9', 'cafe:babe'])(
    'leaves %s, which is no IP address, as it is',
    (from) => expect(truncateAddress(from)).toBe(from),
  );
});

describe('days due', () => {
  const NOW = Date.parse('2026-12-04T10:00:00Z');
  const days = ['2026-10-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05', '2026-12-04'];

  it('are the files older than ipDays not done yet, and the day before the cutoff becomes the mark', () => {
    // 30 days before 4 December 10:00 is 4 November 10:00: the 4th still holds younger entries.
    expect(daysToTruncate(days, '', NOW, 30)).toEqual({
      days: ['2026-10-01', '2026-11-02', '2026-11-03'],
      through: '2026-11-03',
    });
    expect(daysToTruncate(days, '2026-11-03', NOW, 30)).toEqual({ days: [], through: '2026-11-03' });
  });

  it('come one day at a time as the clock moves', () => {
    expect(daysToTruncate(days, '2026-11-03', NOW + 86_400_000, 30)).toEqual({
      days: ['2026-11-04'],
      through: '2026-11-04',
    });
  });

  it('never go back: a mark ahead of a shorter ipDays stays', () => {
    expect(daysToTruncate(days, '2026-11-30', NOW, 60)).toEqual({ days: [], through: '2026-11-30' });
  });
});
