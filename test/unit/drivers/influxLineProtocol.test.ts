import {
  booleanValue,
  escapeKey,
  escapeMeasurement,
  fieldKey,
  floatValue,
  formatFields,
  integerValue,
  lineTimestamp,
  pointLine,
  seriesKey,
  stringValue,
} from '../../../drivers/influx/lineProtocol';

describe('series keys', () => {
  test('sort tags by key and leave out empty values', () => {
    expect(
      seriesKey('meter', { unit: 'kWh', commune: 'metz', building: '', kind: undefined, meter: 'm1' }),
    ).toBe('meter,commune=metz,meter=m1,unit=kWh');
    expect(seriesKey('meter')).toBe('meter');
  });

  test('escape commas and spaces in measurements, and also equals signs in tag keys and values', () => {
    expect(seriesKey('a,b c=d', { 'k ey': 'v,a=l ue' })).toBe('a\\,b\\ c=d,k\\ ey=v\\,a\\=l\\ ue');
    expect(escapeMeasurement('x=y')).toBe('x=y');
    expect(escapeKey('x=y')).toBe('x\\=y');
  });

  test('escape backslashes, so that a value ending in one cannot swallow the next separator', () => {
    expect(seriesKey('m', { a: 'ends\\', b: 'x' })).toBe('m,a=ends\\\\,b=x');
  });

  test('never put a newline in a key: a line is one point in the spool', () => {
    expect(seriesKey('m\nn', { t: 'a\r\nb\tc' })).toBe('m\\nn,t=a\\r\\nb\\tc');
  });

  test('refuse what cannot be a measurement or a tag key, naming it', () => {
    expect(() => seriesKey('')).toThrow('the measurement name is empty');
    expect(() => seriesKey('#comment')).toThrow("measurement '#comment' starts with '#'");
    expect(() => seriesKey('m', { '': 'v' })).toThrow("measurement 'm' has an empty tag key");
    expect(() => fieldKey('')).toThrow('the field name is empty');
  });
});

describe('field values', () => {
  test('floats as JavaScript prints them; no value for NaN or infinities', () => {
    expect(floatValue(21.5)).toBe('21.5');
    expect(floatValue(-3)).toBe('-3');
    expect(floatValue(1e21)).toBe('1e+21');
    expect(floatValue(Number.NaN)).toBeUndefined();
    expect(floatValue(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  test('integers with an i suffix, within the 64-bit signed range only', () => {
    expect(integerValue(42)).toBe('42i');
    expect(integerValue(-7)).toBe('-7i');
    expect(integerValue(1.5)).toBeUndefined();
    expect(integerValue(2 ** 60)).toBeUndefined(); // not a safe integer: would be rounded
    expect(integerValue(2n ** 63n - 1n)).toBe('9223372036854775807i');
    expect(integerValue(2n ** 63n)).toBeUndefined();
    expect(integerValue(-(2n ** 63n))).toBe('-9223372036854775808i');
  });

  test('booleans and quoted strings; quotes and backslashes escaped, newlines written as \\n', () => {
    expect(booleanValue(true)).toBe('true');
    expect(booleanValue(false)).toBe('false');
    expect(stringValue('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(stringValue('two\nlines\r')).toBe('"two\\nlines\\r"');
  });

  test('formatFields: numbers as floats, bigints as integers, invalid values left out', () => {
    expect(formatFields({ level: 80, count: 3n, on: true, note: 'ok', bad: Number.NaN, none: null })).toBe(
      'level=80,count=3i,on=true,note="ok"',
    );
    expect(formatFields({ 'a b': 1 })).toBe('a\\ b=1');
    expect(formatFields({ bad: Number.NaN, none: undefined })).toBeUndefined();
  });
});

describe('lines', () => {
  test('series, fields and a millisecond timestamp', () => {
    const key = seriesKey('lighting', { luminaire: 'l1', zone: 'z1', commune: 'metz' });
    expect(pointLine(key, formatFields({ level: 70 }), 1_767_225_600_000)).toBe(
      'lighting,commune=metz,luminaire=l1,zone=z1 level=70 1767225600000',
    );
  });

  test('no line without fields or with a timestamp that is not whole milliseconds', () => {
    expect(pointLine('m', undefined, 1)).toBeUndefined();
    expect(pointLine('m', 'v=1', 1.5)).toBeUndefined();
    expect(pointLine('m', 'v=1', Number.NaN)).toBeUndefined();
    expect(pointLine('m', 'v=1', -1)).toBeUndefined();
  });

  test('lineTimestamp reads the timestamp back', () => {
    expect(lineTimestamp('m,t=a\\ b v="x y" 1767225600000')).toBe(1_767_225_600_000);
    expect(lineTimestamp('garbage')).toBeUndefined();
    expect(lineTimestamp('m v=1 soon')).toBeUndefined();
  });
});
