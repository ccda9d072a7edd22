import {
  databaseOf,
  quoteIdentifier,
  quoteString,
  tagConditions,
  timeRange,
} from '../../../drivers/influx/influxql';

describe('InfluxQL text', () => {
  it('quotes identifiers and strings so that quotes and backslashes cannot end them', () => {
    expect(quoteIdentifier('meter')).toBe('"meter"');
    expect(quoteIdentifier('a"b\\')).toBe('"a\\"b\\\\"');
    expect(quoteString("l'école")).toBe("'l\\'école'");
    expect(quoteString("x' OR 1=1 --\\")).toBe("'x\\' OR 1=1 --\\\\'");
  });

  it('joins tag conditions with AND', () => {
    expect(tagConditions({ commune: 'metz', building: "o'neil" })).toBe(
      `"commune" = 'metz' AND "building" = 'o\\'neil'`,
    );
    expect(tagConditions({})).toBe('');
  });

  it('writes a half-open time range in ms and refuses empty, fractional or out-of-range bounds', () => {
    expect(timeRange(1000, 2000)).toBe('time >= 1000ms AND time < 2000ms');
    expect(() => timeRange(2000, 2000)).toThrow('from (2000) must be before to (2000)');
    expect(() => timeRange(1.5, 2000)).toThrow('from is 1.5: must be a whole number of ms');
    expect(() => timeRange(0, Number.NaN)).toThrow('to is NaN');
    expect(() => timeRange(0, 1e16)).toThrow('to is 10000000000000000');
  });

  it('maps a bucket to database and retention policy', () => {
    expect(databaseOf('nocturne')).toEqual({ database: 'nocturne', retentionPolicy: undefined });
    expect(databaseOf('telemetry/one_year')).toEqual({ database: 'telemetry', retentionPolicy: 'one_year' });
    expect(databaseOf('telemetry/')).toEqual({ database: 'telemetry', retentionPolicy: undefined });
  });
});
