// Program editor: the steps of a night, a preview of one night in a zone (times, levels, dusk, dawn),
// and the year's cost against what the zone's calendar does now.
import { api, costTable, errorBox, formatDay, formatNumber, formatTime, h, replace, session } from './lib.js';
import { t } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';

export function programsPage(main, { onUnauthorized }) {
  const picker = h('select', { id: 'program-picker' });
  const editor = h('section', { 'aria-label': t('programs.editor') });
  const result = h('section', { id: 'preview', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, t('programs.title')),
    h(
      'div',
      { class: 'row' },
      h('div', {}, h('label', { for: 'program-picker' }, t('programs.program')), picker),
    ),
    editor,
    result,
  );

  let programs = [];
  let zones = [];
  let draft; // the program being edited

  const fail = (box) => (error) => {
    if (error.status === 401) return onUnauthorized();
    replace(box, errorBox(error));
  };

  async function load(select) {
    try {
      [programs, zones] = await Promise.all([api('GET', '/api/programs'), api('GET', '/api/zones')]);
      replace(
        picker,
        programs.map((p) =>
          h(
            'option',
            { value: p.program.id },
            `${p.program.name || p.program.id}${p.origin === 'runtime' ? ` ${t('programs.changed')}` : ''}`,
          ),
        ),
        session.can('programs:write') ? h('option', { value: '' }, t('programs.new')) : null,
      );
      picker.value = select ?? (programs[0] ? programs[0].program.id : '');
      edit();
    } catch (error) {
      fail(editor)(error);
    }
  }

  function edit() {
    const entry = programs.find((p) => p.program.id === picker.value);
    draft = entry
      ? structuredClone(entry.program)
      : {
          id: '',
          name: '',
          twilight: 'civil',
          steps: [
            { at: 'dusk', level: 100 },
            { at: 'dawn', level: 0 },
          ],
        };
    const writable = session.can('programs:write');
    const id = h('input', {
      id: 'program-id',
      type: 'text',
      value: draft.id,
      readonly: Boolean(entry),
      pattern: '[a-z0-9][a-z0-9_-]{0,63}',
      required: true,
    });
    const name = h('input', { id: 'program-name', type: 'text', value: draft.name || '' });
    const twilight = h(
      'select',
      { id: 'program-twilight' },
      ['official', 'civil', 'nautical'].map((kind) =>
        h('option', { value: kind }, t(`programs.twilight.${kind}`)),
      ),
    );
    twilight.value = draft.twilight || 'civil';
    const steps = h('tbody');
    const drawSteps = () =>
      replace(
        steps,
        draft.steps.map((step, i) =>
          h(
            'tr',
            {},
            h(
              'td',
              {},
              h('input', {
                type: 'text',
                'aria-label': t('programs.stepTime', { n: i + 1 }),
                value: step.at,
                oninput: (e) => {
                  step.at = e.target.value;
                },
              }),
            ),
            h(
              'td',
              {},
              h('input', {
                type: 'number',
                min: 0,
                max: 100,
                step: 1,
                'aria-label': t('programs.stepLevel', { n: i + 1 }),
                value: step.level,
                oninput: (e) => {
                  step.level = e.target.value === '' ? e.target.value : Number(e.target.value);
                },
              }),
            ),
            h(
              'td',
              {},
              h(
                'button',
                {
                  type: 'button',
                  class: 'quiet',
                  'aria-label': t('programs.stepRemove', { n: i + 1 }),
                  onclick: () => {
                    draft.steps.splice(i, 1);
                    drawSteps();
                  },
                },
                '✕',
              ),
            ),
          ),
        ),
      );
    drawSteps();
    const zone = h(
      'select',
      { id: 'preview-zone' },
      zones.map((z) => h('option', { value: z.id }, `${z.name || z.id} (${z.commune})`)),
    );
    const usedBy = entry && entry.usedBy.length ? entry.usedBy : [];
    const preferred = zones.find((z) => usedBy.includes(z.calendar));
    if (preferred) zone.value = preferred.id;
    const night = h('input', {
      id: 'preview-night',
      type: 'date',
      value: new Date().toISOString().slice(0, 10),
    });
    const status = h('div', { role: 'status', 'aria-live': 'polite' });
    const current = () => ({
      ...draft,
      id: id.value.trim(),
      name: name.value.trim() || undefined,
      twilight: twilight.value,
    });

    replace(
      editor,
      h(
        'div',
        { class: 'panel' },
        h(
          'div',
          { class: 'row' },
          h('div', {}, h('label', { for: 'program-id' }, t('programs.id')), id),
          h('div', {}, h('label', { for: 'program-name' }, t('programs.name')), name),
          h('div', {}, h('label', { for: 'program-twilight' }, t('programs.twilight')), twilight),
        ),
        h('p', { class: 'muted' }, t('programs.help')),
        h(
          'table',
          { class: 'steps' },
          h(
            'thead',
            {},
            h('tr', {}, h('th', {}, t('programs.from')), h('th', {}, t('programs.levelPct')), h('th', {})),
          ),
          steps,
        ),
        h(
          'p',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'quiet',
              onclick: () => {
                draft.steps.push({ at: '23:00', level: 50 });
                drawSteps();
              },
            },
            t('programs.addStep'),
          ),
        ),
        usedBy.length
          ? h('p', { class: 'muted' }, t('programs.usedBy', { calendars: usedBy.join(', ') }))
          : null,
      ),
      h(
        'div',
        { class: 'panel' },
        h(
          'div',
          { class: 'row' },
          h('div', {}, h('label', { for: 'preview-zone' }, t('programs.zone')), zone),
          h('div', {}, h('label', { for: 'preview-night' }, t('programs.nightOf')), night),
        ),
        h(
          'p',
          { class: 'row' },
          h(
            'button',
            {
              type: 'button',
              class: 'primary',
              onclick: () => preview(current(), zone.value, night.value, status),
            },
            t('programs.preview'),
          ),
          writable
            ? h('button', { type: 'button', onclick: () => save(current(), status) }, t('programs.save'))
            : null,
        ),
      ),
      status,
    );
  }

  async function preview(program, zone, night, status) {
    replace(status, t('programs.computing'));
    replace(result);
    const body = { zone, draft: { ...program, id: program.id || 'draft' } };
    try {
      const [nightPlan, year] = await Promise.all([
        api('POST', '/api/programs/preview', { ...body, night }),
        api('POST', '/api/programs/year-cost', body),
      ]);
      replace(status);
      replace(result, nightView(nightPlan), yearView(year));
    } catch (error) {
      fail(status)(error);
    }
  }

  async function save(program, status) {
    replace(status, t('programs.saving'));
    try {
      const entry = await api('PUT', `/api/programs/${encodeURIComponent(program.id)}`, program);
      replace(status, h('div', { class: 'confirmed' }, t('programs.savedFollow', { id: entry.program.id })));
      await load(entry.program.id);
      replace(status, h('div', { class: 'confirmed' }, t('programs.saved', { id: entry.program.id })));
    } catch (error) {
      fail(status)(error);
    }
  }

  picker.addEventListener('change', () => {
    replace(result);
    edit();
  });
  load();
  return {
    onEvent(type) {
      if (type === 'program' || type === 'calendar') {
        // Someone else changed a program: keep the list current, not the draft being edited.
        api('GET', '/api/programs').then(
          (list) => {
            programs = list;
          },
          () => undefined,
        );
      }
    },
  };
}

function nightView(p) {
  const tz = p.timeZone;
  return h(
    'div',
    { class: 'panel' },
    h('h2', {}, t('programs.nightTitle', { night: formatDay(p.night), zone: p.zone })),
    h(
      'p',
      {},
      t('programs.duskDawn', {
        dusk: formatTime(p.dusk, tz),
        dawn: formatTime(p.dawn, tz),
        level: p.initialLevel,
      }),
    ),
    chart(p),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, t('programs.time')),
            h('th', {}, t('programs.step')),
            h('th', { class: 'num' }, t('programs.level')),
            h('th', {}, t('programs.note')),
          ),
        ),
        h(
          'tbody',
          {},
          p.steps.map((s) =>
            h(
              'tr',
              {},
              h('td', {}, formatTime(s.at, tz)),
              h('td', {}, s.spec),
              h('td', { class: 'num' }, `${s.level} %`),
              h(
                'td',
                { class: 'muted' },
                [
                  s.timing !== 'clock' && s.timing !== 'sun' ? s.timing : '',
                  s.dst ? t('programs.dst', { dst: s.dst }) : '',
                  s.movedFrom ? t('programs.movedFrom', { at: formatTime(s.movedFrom, tz) }) : '',
                ]
                  .filter(Boolean)
                  .join(', '),
              ),
            ),
          ),
        ),
      ),
    ),
    p.skipped.length
      ? h(
          'ul',
          {},
          p.skipped.map((s) =>
            h('li', { class: 'muted' }, t('programs.skipped', { spec: s.spec, reason: s.reason })),
          ),
        )
      : null,
    h(
      'p',
      {},
      t('programs.energy', {
        luminaires: p.energy.luminaires,
        planned: formatNumber(p.energy.plannedWh / 1000, 1),
        full: formatNumber(p.energy.fullNightWh / 1000, 1),
        saved: formatNumber(p.energy.savedPct),
      }),
    ),
  );
}

function yearView(y) {
  return h(
    'div',
    { class: 'panel', id: 'year-cost' },
    h('h2', {}, t('programs.yearTitle', { nights: y.nights, from: formatDay(y.from), to: formatDay(y.to) })),
    costTable([
      [t('programs.thisProgram', { id: y.proposed.program }), y.proposed],
      [t('programs.now', { ids: y.current.programs.map((p) => p.id).join(', ') }), y.current],
      [t('programs.difference'), y.difference],
      [t('programs.fullNight'), y.fullNight],
    ]),
    h(
      'p',
      { class: 'muted' },
      [
        ...y.tariffs.map(
          (tariff) =>
            t('programs.tariff', { eur: formatNumber(tariff.eurPerKWh, 4), from: formatDay(tariff.from) }) +
            (tariff.source ? ` (${tariff.source})` : ''),
        ),
        ...y.emissionFactors.map(
          (f) =>
            `${t('programs.emission', { kg: formatNumber(f.kgCo2ePerKWh, 3), from: formatDay(f.from) })} (${f.source})`,
        ),
      ].join(' · '),
    ),
    y.notes.length
      ? h(
          'ul',
          {},
          y.notes.map((n) => h('li', { class: 'muted' }, n)),
        )
      : null,
  );
}

/** The night's levels as a step line, noon to noon, with dusk and dawn marked. */
function chart(p) {
  const width = 600;
  const height = 120;
  const x = (at) => ((at - p.start) / (p.end - p.start)) * width;
  const y = (level) => height - 15 - (level / 100) * (height - 25);
  let d = `M0,${y(0)} L0,${y(p.initialLevel)}`;
  let level = p.initialLevel;
  for (const s of p.steps) {
    d += ` L${x(s.at)},${y(level)} L${x(s.at)},${y(s.level)}`;
    level = s.level;
  }
  d += ` L${width},${y(level)} L${width},${y(0)} Z`;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'night');
  svg.setAttribute('role', 'img');
  svg.setAttribute(
    'aria-label',
    t('programs.chart', {
      steps: p.steps
        .map((s) => t('programs.chartStep', { level: s.level, at: formatTime(s.at, p.timeZone) }))
        .join(', '),
    }),
  );
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  for (const [label, at] of [
    [t('programs.dusk'), p.dusk],
    [t('programs.dawn'), p.dawn],
  ]) {
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(Math.min(width - 60, Math.max(0, x(at)))));
    text.setAttribute('y', String(height - 2));
    text.textContent = `${label} ${formatTime(at, p.timeZone)}`;
    svg.append(text);
  }
  return svg;
}
