import { LocalTimeFormatter, csvField, csvLine, frenchDecimal } from '../../../controller/exports/csv';
import { timeZone } from '../../../core/localTime';

describe('French decimals', () => {
  it('writes a comma and every digit of the number', () => {
    expect(frenchDecimal(21.5)).toBe('21,5');
    expect(frenchDecimal(-0.25)).toBe('-0,25');
    expect(frenchDecimal(1234)).toBe('1234');
    expect(frenchDecimal(0.1 + 0.2)).toBe('0,30000000000000004');
    expect(Number(frenchDecimal(Math.PI).replace(',', '.'))).toBe(Math.PI);
  });

  it('writes very small and very large numbers out in full, never with an exponent', () => {
    expect(frenchDecimal(1e-7)).toBe('0,0000001');
    expect(frenchDecimal(-2.5e-8)).toBe('-0,000000025');
    expect(frenchDecimal(1.5e-7)).toBe('0,00000015');
    expect(frenchDecimal(1.2345e25)).toBe('12345000000000000000000000');
    expect(frenchDecimal(1e21)).toBe('1000000000000000000000');
    expect(frenchDecimal(Number.NaN)).toBe('');
    expect(frenchDecimal(Number.POSITIVE_INFINITY)).toBe('');
  });
});

describe('CSV fields and lines', () => {
  it('quotes only fields holding a separator, a quote or a line end', () => {
    expect(csvField('salle-conseil')).toBe('salle-conseil');
    expect(csvField('a;b')).toBe('"a;b"');
    expect(csvField('dit "bas"')).toBe('"dit ""bas"""');
    expect(csvField('deux\nlignes')).toBe('"deux\nlignes"');
    expect(csvLine(['a', 'b', '1,5'])).toBe('a;b;1,5\r\n');
  });
});

describe('LocalTimeFormatter', () => {
  const paris = new LocalTimeFormatter(timeZone('Europe/Paris'));

  it('writes local time with its offset, in winter and in summer', () => {
    expect(paris.format(Date.parse('2026-11-03T21:15:00Z'))).toBe('2026-11-03T22:15:00+01:00');
    expect(paris.format(Date.parse('2026-07-14T21:30:00Z'))).toBe('2026-07-14T23:30:00+02:00');
    expect(paris.format(Date.parse('2026-12-31T23:00:00Z'))).toBe('2027-01-01T00:00:00+01:00');
    expect(paris.format(Date.parse('2026-11-03T21:15:00.042Z'))).toBe('2026-11-03T22:15:00.042+01:00');
  });

  it('changes offset at the instant of the change, on both change days', () => {
    const spring = Date.parse('2026-03-29T01:00:00Z');
    expect(paris.format(spring - 900_000)).toBe('2026-03-29T01:45:00+01:00');
    expect(paris.format(spring)).toBe('2026-03-29T03:00:00+02:00');
    const autumn = Date.parse('2026-10-25T01:00:00Z');
    // 02:00-03:00 happens twice: the offset tells the two apart.
    expect(paris.format(autumn - 3_600_000)).toBe('2026-10-25T02:00:00+02:00');
    expect(paris.format(autumn - 900_000)).toBe('2026-10-25T02:45:00+02:00');
    expect(paris.format(autumn)).toBe('2026-10-25T02:00:00+01:00');
    expect(paris.format(autumn + 2_700_000)).toBe('2026-10-25T02:45:00+01:00');
  });

  it('agrees with the zone at every quarter hour of a year, whatever order the instants come in', () => {
    const zone = timeZone('Europe/Paris');
    const start = Date.parse('2026-01-01T00:00:00Z');
    const fresh = new LocalTimeFormatter(zone);
    for (let t = start; t < start + 366 * 86_400_000; t += 900_000) {
      const text = fresh.format(t);
      expect(Date.parse(text)).toBe(t);
      expect(text.slice(19)).toBe(offsetText(zone.offset(t)));
    }
    expect(fresh.format(start + 5000)).toBe('2026-01-01T01:00:05+01:00');
  });

  it('handles zones west of Greenwich and with half hours', () => {
    expect(
      new LocalTimeFormatter(timeZone('America/Cayenne')).format(Date.parse('2026-11-03T02:00:00Z')),
    ).toBe('2026-11-02T23:00:00-03:00');
    expect(new LocalTimeFormatter(timeZone('Asia/Kolkata')).format(Date.parse('2026-11-03T00:00:00Z'))).toBe(
      '2026-11-03T05:30:00+05:30',
    );
  });
});

function offsetText(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
