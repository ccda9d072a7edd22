// Program editor: the steps of a night, a preview of one night in a zone (times, levels, dusk, dawn),
// and the year's cost against what the zone's calendar does now.
import { api, errorBox, formatNumber, formatTime, h, replace, session } from './lib.js';

const SVG = 'http://www.w3.org/2000/svg';

export function programsPage(main, { onUnauthorized }) {
  const picker = h('select', { id: 'program-picker' });
  const editor = h('section', { 'aria-label': 'Program editor' });
  const result = h('section', { id: 'preview', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, 'Programs'),
    h('div', { class: 'row' }, h('div', {}, h('label', { for: 'program-picker' }, 'Program'), picker)),
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
            `${p.program.name || p.program.id}${p.origin === 'runtime' ? ' (changed)' : ''}`,
          ),
        ),
        session.can('programs:write') ? h('option', { value: '' }, '+ New program') : null,
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
      ['official', 'civil', 'nautical'].map((t) => h('option', { value: t }, t)),
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
                'aria-label': `Step ${i + 1} time`,
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
                'aria-label': `Step ${i + 1} level`,
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
                  'aria-label': `Remove step ${i + 1}`,
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
          h('div', {}, h('label', { for: 'program-id' }, 'Id'), id),
          h('div', {}, h('label', { for: 'program-name' }, 'Name'), name),
          h('div', {}, h('label', { for: 'program-twilight' }, 'Dusk and dawn'), twilight),
        ),
        h(
          'p',
          { class: 'muted' },
          "Times: 'HH:MM', or dusk, dawn, sunset, sunrise with an offset such as 'dusk+10min' or 'dawn-15min'. Levels 0–100 %.",
        ),
        h(
          'table',
          { class: 'steps' },
          h('thead', {}, h('tr', {}, h('th', {}, 'From'), h('th', {}, 'Level %'), h('th', {}))),
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
            '+ Step',
          ),
        ),
        usedBy.length ? h('p', { class: 'muted' }, `Used by calendar(s): ${usedBy.join(', ')}`) : null,
      ),
      h(
        'div',
        { class: 'panel' },
        h(
          'div',
          { class: 'row' },
          h('div', {}, h('label', { for: 'preview-zone' }, 'Zone'), zone),
          h('div', {}, h('label', { for: 'preview-night' }, 'Night of'), night),
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
            'Preview',
          ),
          writable ? h('button', { type: 'button', onclick: () => save(current(), status) }, 'Save') : null,
        ),
      ),
      status,
    );
  }

  async function preview(program, zone, night, status) {
    replace(status, 'Computing…');
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
    replace(status, 'Saving…');
    try {
      const entry = await api('PUT', `/api/programs/${encodeURIComponent(program.id)}`, program);
      replace(
        status,
        h(
          'div',
          { class: 'confirmed' },
          `Program ${entry.program.id} saved; its zones follow it within a second.`,
        ),
      );
      await load(entry.program.id);
      replace(status, h('div', { class: 'confirmed' }, `Program ${entry.program.id} saved.`));
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
    h('h2', {}, `Night of ${p.night} in ${p.zone}`),
    h(
      'p',
      {},
      `Dusk ${formatTime(p.dusk, tz)} · dawn ${formatTime(p.dawn, tz)} · starts at ${p.initialLevel} %`,
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
            h('th', {}, 'Time'),
            h('th', {}, 'Step'),
            h('th', { class: 'num' }, 'Level'),
            h('th', {}, 'Note'),
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
                  s.dst ? `DST ${s.dst}` : '',
                  s.movedFrom ? `moved from ${formatTime(s.movedFrom, tz)}` : '',
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
          p.skipped.map((s) => h('li', { class: 'muted' }, `${s.spec} skipped: ${s.reason}`)),
        )
      : null,
    h(
      'p',
      {},
      `${p.energy.luminaires} luminaires: ${formatNumber(p.energy.plannedWh / 1000, 1)} kWh this night, against ${formatNumber(p.energy.fullNightWh / 1000, 1)} kWh at full power (${formatNumber(p.energy.savedPct)} % saved).`,
    ),
  );
}

function yearView(y) {
  const row = (label, f) =>
    h(
      'tr',
      {},
      h('th', {}, label),
      h('td', { class: 'num' }, formatNumber(f.kWh)),
      h('td', { class: 'num' }, formatNumber(f.eur)),
      h('td', { class: 'num' }, formatNumber(f.kgCo2e)),
    );
  return h(
    'div',
    { class: 'panel', id: 'year-cost' },
    h('h2', {}, `${y.nights} nights, ${y.from} to ${y.to}`),
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
            h('th', {}),
            h('th', { class: 'num' }, 'kWh'),
            h('th', { class: 'num' }, '€'),
            h('th', { class: 'num' }, 'kg CO2e'),
          ),
        ),
        h(
          'tbody',
          {},
          row(`This program (${y.proposed.program})`, y.proposed),
          row(`Now (${y.current.programs.map((p) => p.id).join(', ')})`, y.current),
          row('Difference', y.difference),
          row('Full power dusk to dawn', y.fullNight),
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted' },
      [
        ...y.tariffs.map((t) => `${t.eurPerKWh} €/kWh from ${t.from}${t.source ? ` (${t.source})` : ''}`),
        ...y.emissionFactors.map((f) => `${f.kgCo2ePerKWh} kg CO2e/kWh from ${f.from} (${f.source})`),
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
  const x = (t) => ((t - p.start) / (p.end - p.start)) * width;
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
    `Levels through the night: ${p.steps.map((s) => `${s.level} % from ${formatTime(s.at, p.timeZone)}`).join(', ')}`,
  );
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  for (const [label, t] of [
    ['dusk', p.dusk],
    ['dawn', p.dawn],
  ]) {
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(Math.min(width - 60, Math.max(0, x(t)))));
    text.setAttribute('y', String(height - 2));
    text.textContent = `${label} ${formatTime(t, p.timeZone)}`;
    svg.append(text);
  }
  return svg;
}
