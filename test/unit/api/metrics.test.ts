import { renderMetrics } from '../../../controller/http/metrics';

describe('renderMetrics', () => {
  it('writes the text exposition format with escaped labels and help', () => {
    const text = renderMetrics([
      {
        name: 'nocturne_luminaires',
        help: 'Luminaires configured.',
        type: 'gauge',
        samples: [{ value: 1104 }],
      },
      {
        name: 'nocturne_device_health',
        help: 'Health: 2 up,\n1 degraded \\ 0 down.',
        type: 'gauge',
        samples: [
          { labels: { device: 'metz-sc-01', commune: 'metz' }, value: 2 },
          { labels: { device: 'odd"name\\x\ny', commune: '-' }, value: 0 },
        ],
      },
      {
        name: 'nocturne_lag_seconds',
        help: 'Lag.',
        type: 'gauge',
        samples: [{ value: NaN }, { labels: { k: 'v' }, value: Infinity }],
      },
    ]);
    expect(text).toBe(
      [
        '# HELP nocturne_luminaires Luminaires configured.',
        '# TYPE nocturne_luminaires gauge',
        'nocturne_luminaires 1104',
        '# HELP nocturne_device_health Health: 2 up,\\n1 degraded \\\\ 0 down.',
        '# TYPE nocturne_device_health gauge',
        'nocturne_device_health{device="metz-sc-01",commune="metz"} 2',
        'nocturne_device_health{device="odd\\"name\\\\x\\ny",commune="-"} 0',
        '# HELP nocturne_lag_seconds Lag.',
        '# TYPE nocturne_lag_seconds gauge',
        'nocturne_lag_seconds NaN',
        'nocturne_lag_seconds{k="v"} +Inf',
        '',
      ].join('\n'),
    );
  });

  it('refuses names Prometheus would reject, and a family declared twice', () => {
    expect(() => renderMetrics([{ name: 'nocturne-bad', help: '', type: 'gauge', samples: [] }])).toThrow(
      "metric name 'nocturne-bad'",
    );
    expect(() =>
      renderMetrics([
        { name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] },
      ]),
    ).toThrow("label name 'bad-label'");
    const twice = { name: 'n', help: '', type: 'counter' as const, samples: [] };
    expect(() => renderMetrics([twice, twice])).toThrow("metric 'n' is declared twice");
  });
});
