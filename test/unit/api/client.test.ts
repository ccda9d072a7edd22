import {
  UsageError,
  confirmation,
  durationMinutes,
  parseExpiry,
  parseTarget,
} from '../../../controller/http/client';

describe('command-line arguments', () => {
  it('reads durations in minutes, rounded up', () => {
    expect(durationMinutes('90s')).toBe(2);
    expect(durationMinutes('30min')).toBe(30);
    expect(durationMinutes('45m')).toBe(45);
    expect(durationMinutes('2h')).toBe(120);
    expect(durationMinutes('1.5h')).toBe(90);
    expect(durationMinutes('1d')).toBe(1440);
    expect(durationMinutes('soon')).toBeUndefined();
  });

  it('takes an expiry as a duration or an ISO time with its offset', () => {
    expect(parseExpiry('2h')).toEqual({ expiresInMin: 120 });
    expect(parseExpiry('2025-07-14T23:30:00+02:00')).toEqual({ expiresAt: '2025-07-14T23:30:00+02:00' });
    expect(() => parseExpiry('2025-07-14 23:30')).toThrow(UsageError);
    expect(() => parseExpiry('tomorrow')).toThrow("--expires: 'tomorrow' is neither a duration");
  });

  it('reads targets, resolving a bare id to a commune or a zone the service knows', () => {
    const known = { communes: new Set(['metz']), zones: new Set(['metz-serpenoise']) };
    expect(parseTarget(['all'], known)).toEqual({ all: true });
    expect(parseTarget(['commune:woippy'], known)).toEqual({ commune: 'woippy' });
    expect(parseTarget(['zone:metz-foch'], known)).toEqual({ zone: 'metz-foch' });
    expect(parseTarget(['metz'], known)).toEqual({ commune: 'metz' });
    expect(parseTarget(['metz-serpenoise'], known)).toEqual({ zone: 'metz-serpenoise' });
    expect(parseTarget(['metz-serpenoise-001'], known)).toEqual({ luminaires: ['metz-serpenoise-001'] });
    expect(parseTarget(['l-1', 'luminaire:l-2'], known)).toEqual({ luminaires: ['l-1', 'l-2'] });
    expect(() => parseTarget([], known)).toThrow('name what to relight');
    expect(() => parseTarget(['zone:a', 'l-1'], known)).toThrow(
      "'zone:a': commune, zone and all are given alone",
    );
  });

  it('says how far the devices have confirmed', () => {
    const base = {
      id: 'r',
      slot: 'emergency' as const,
      communes: ['metz'],
      total: 12,
      failures: [],
      acceptedAt: 0,
      superseded: 0,
    };
    expect(confirmation({ ...base, confirmed: 12, failed: 0, pending: 0, done: true })).toBe(
      'confirmed by 12/12 luminaires',
    );
    expect(confirmation({ ...base, confirmed: 9, failed: 1, pending: 2, superseded: 0, done: false })).toBe(
      'confirmed by 9/12 luminaires, 2 pending, 1 failed',
    );
  });
});
