// Calendar editor: which program on which night (rules tried in order, the first that holds wins; the
// default otherwise), with the next 14 nights and the year's cost against the calendar now, before saving.
import {
  api,
  costTable,
  errorBox,
  formatNightDay,
  formatNumber,
  formatTime,
  h,
  replace,
  session,
} from './lib.js';
import { t } from './i18n.js';

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const HOLIDAYS = ['fr', 'fr-alsace-moselle'];

/** Monday 5 January 2026 and the six days after: the weekdays' names in the reader's language. */
const weekdayName = (index) =>
  new Intl.DateTimeFormat(document.documentElement.lang, { weekday: 'short', timeZone: 'UTC' }).format(
    Date.UTC(2026, 0, 5 + index),
  );

export function calendarsPage(main, { onUnauthorized }) {
  const picker = h('select', { id: 'calendar-picker' });
  const editor = h('section', { 'aria-label': t('calendars.editor') });
  const result = h('section', { id: 'calendar-preview', 'aria-live': 'polite' });
  main.append(
    h('h1', {}, t('calendars.title')),
    h(
      'div',
      { class: 'row' },
      h('div', {}, h('label', { for: 'calendar-picker' }, t('calendars.calendar')), picker),
    ),
    editor,
    result,
  );
  const writable = session.can('programs:write');
  let calendars = [];
  let programs = [];
  let zones = [];
  let draft;

  const fail = (box) => (error) => {
    if (error.status === 401) return onUnauthorized();
    replace(box, errorBox(error));
  };

  async function load(select) {
    try {
      [calendars, programs, zones] = await Promise.all([
        api('GET', '/api/calendars'),
        api('GET', '/api/programs'),
        api('GET', '/api/zones'),
      ]);
      replace(
        picker,
        calendars.map((c) => h('option', { value: c.calendar.id }, c.calendar.name || c.calendar.id)),
      );
      picker.value = select ?? calendars[0]?.calendar.id ?? '';
      edit();
    } catch (error) {
      fail(editor)(error);
    }
  }

  const programSelect = (id, value, onchange) =>
    h(
      'select',
      { id, onchange: (e) => onchange(e.target.value) },
      programs.map((p) =>
        h(
          'option',
          { value: p.program.id, selected: p.program.id === value },
          p.program.name || p.program.id,
        ),
      ),
    );

  function edit() {
    const entry = calendars.find((c) => c.calendar.id === picker.value);
    if (!entry) return replace(editor, h('p', { class: 'muted' }, t('calendars.none')));
    draft = structuredClone(entry.calendar);
    drawEditor(entry);
  }

  function drawEditor(entry) {
    const status = h('div', { role: 'status', 'aria-live': 'polite' });
    const own = zones.filter((z) => entry.zones.includes(z.id));
    const zone = h(
      'select',
      { id: 'calendar-zone' },
      (own.length ? own : zones).map((z) => h('option', { value: z.id }, `${z.name || z.id} (${z.commune})`)),
    );
    const from = h('input', { id: 'calendar-from', type: 'date' });
    replace(
      editor,
      h(
        'p',
        { class: 'muted' },
        t('calendars.followedBy', { zones: entry.zones.length ? entry.zones.join(', ') : '—' }),
      ),
      h(
        'div',
        { class: 'panel stack' },
        h('label', { for: 'calendar-default' }, t('calendars.default')),
        programSelect('calendar-default', draft.default, (v) => (draft.default = v)),
      ),
      h('h2', {}, t('calendars.rules')),
      h('p', { class: 'muted' }, t('calendars.rulesHelp')),
      writable
        ? h(
            'p',
            {},
            h(
              'button',
              {
                type: 'button',
                onclick: () => {
                  draft.rules.unshift({ name: '', program: draft.default, dates: [''] });
                  drawEditor(entry);
                  editor.querySelector('#rule-0-dates')?.focus();
                },
              },
              t('calendars.addRule'),
            ),
          )
        : null,
      h(
        'ol',
        { class: 'rules stack' },
        draft.rules.map((rule, j) => ruleEditor(rule, j, entry)),
      ),
      h(
        'div',
        { class: 'row' },
        h('div', {}, h('label', { for: 'calendar-zone' }, t('calendars.zone')), zone),
        h('div', {}, h('label', { for: 'calendar-from' }, t('calendars.from')), from),
      ),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          {
            type: 'button',
            class: 'primary',
            onclick: () => preview(zone.value, from.value, status),
          },
          t('calendars.preview'),
        ),
        writable ? h('button', { type: 'button', onclick: () => save(status) }, t('calendars.save')) : null,
      ),
      status,
    );
  }

  function ruleEditor(rule, j, entry) {
    const id = (field) => `rule-${j}-${field}`;
    const text = (field, value, onchange, attrs = {}) =>
      h('input', {
        id: id(field),
        type: 'text',
        value: value ?? '',
        onchange: (e) => onchange(e.target.value),
        ...attrs,
      });
    const list = (value) =>
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    const move = (to) => {
      const [moved] = draft.rules.splice(j, 1);
      draft.rules.splice(to, 0, moved);
      drawEditor(entry);
    };
    return h(
      'li',
      { class: 'panel stack' },
      h('label', { for: id('name') }, t('calendars.ruleName', { n: j + 1 })),
      text('name', rule.name, (v) => (v ? (rule.name = v) : delete rule.name)),
      h('label', { for: id('program') }, t('calendars.ruleProgram', { n: j + 1 })),
      programSelect(id('program'), rule.program, (v) => (rule.program = v)),
      h('label', { for: id('dates') }, t('calendars.ruleDates', { n: j + 1 })),
      text(
        'dates',
        (rule.dates ?? []).join(', '),
        (v) => (list(v).length ? (rule.dates = list(v)) : delete rule.dates),
        {
          placeholder: '07-14, 2026-12-24',
        },
      ),
      h(
        'div',
        { class: 'row' },
        h(
          'div',
          {},
          h('label', { for: id('from') }, t('calendars.ruleFrom')),
          text('from', rule.from, (v) => (v ? (rule.from = v) : delete rule.from), { placeholder: '11-21' }),
        ),
        h(
          'div',
          {},
          h('label', { for: id('to') }, t('calendars.ruleTo')),
          text('to', rule.to, (v) => (v ? (rule.to = v) : delete rule.to), { placeholder: '12-30' }),
        ),
      ),
      h(
        'fieldset',
        { class: 'weekdays' },
        h('legend', {}, t('calendars.ruleWeekdays')),
        WEEKDAYS.map((day, d) =>
          h(
            'label',
            {},
            h('input', {
              type: 'checkbox',
              checked: (rule.weekdays ?? []).includes(day),
              onchange: (e) => {
                const days = new Set(rule.weekdays ?? []);
                if (e.target.checked) days.add(day);
                else days.delete(day);
                if (days.size) rule.weekdays = WEEKDAYS.filter((w) => days.has(w));
                else delete rule.weekdays;
              },
            }),
            weekdayName(d),
          ),
        ),
      ),
      h('label', { for: id('holidays') }, t('calendars.ruleHolidays')),
      h(
        'select',
        {
          id: id('holidays'),
          onchange: (e) => (e.target.value ? (rule.holidays = e.target.value) : delete rule.holidays),
        },
        h('option', { value: '' }, '—'),
        HOLIDAYS.map((k) =>
          h('option', { value: k, selected: rule.holidays === k }, t(`calendars.holidays.${k}`)),
        ),
      ),
      rule.nth_weekday
        ? h(
            'p',
            { class: 'muted' },
            t('calendars.ruleNth', { n: rule.nth_weekday.n, day: rule.nth_weekday.weekday }),
          )
        : null,
      writable
        ? h(
            'div',
            { class: 'row' },
            j > 0
              ? h('button', { type: 'button', class: 'quiet', onclick: () => move(j - 1) }, t('calendars.up'))
              : null,
            j < draft.rules.length - 1
              ? h(
                  'button',
                  { type: 'button', class: 'quiet', onclick: () => move(j + 1) },
                  t('calendars.down'),
                )
              : null,
            h(
              'button',
              {
                type: 'button',
                class: 'quiet',
                onclick: () => {
                  draft.rules.splice(j, 1);
                  drawEditor(entry);
                },
              },
              t('calendars.remove'),
            ),
          )
        : null,
    );
  }

  async function preview(zone, from, status) {
    replace(status, t('calendars.computing'));
    replace(result);
    try {
      const p = await api('POST', '/api/calendars/preview', {
        zone,
        calendar: draft,
        ...(from ? { from } : {}),
      });
      replace(status);
      replace(result, nightsView(p), yearView(p.year));
    } catch (error) {
      fail(status)(error);
    }
  }

  async function save(status) {
    replace(status, t('calendars.saving'));
    try {
      const entry = await api('PUT', `/api/calendars/${encodeURIComponent(draft.id)}`, draft);
      await load(entry.calendar.id);
      replace(
        result,
        h('div', { class: 'confirmed', role: 'status' }, t('calendars.saved', { id: entry.calendar.id })),
      );
    } catch (error) {
      fail(status)(error);
    }
  }

  picker.addEventListener('change', () => {
    replace(result);
    edit();
  });
  load();
  return {};
}

function nightsView(p) {
  const ruleOf = (n) =>
    n.rule === undefined ? t('calendars.byDefault') : n.ruleName || t('calendars.ruleN', { n: n.rule + 1 });
  return h(
    'div',
    { class: 'panel', id: 'calendar-nights' },
    h('h2', {}, t('calendars.nightsTitle', { count: p.nights.length, zone: p.zone })),
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
            h('th', {}, t('calendars.night')),
            h('th', {}, t('calendars.program')),
            h('th', {}, t('calendars.why')),
            h('th', { class: 'hide-narrow' }, t('calendars.duskDawn')),
            h('th', { class: 'num' }, 'kWh'),
            h('th', { class: 'num hide-narrow' }, t('calendars.saved%')),
          ),
        ),
        h(
          'tbody',
          {},
          p.nights.map((n) =>
            h(
              'tr',
              { dataset: { night: n.night } },
              h('td', {}, formatNightDay(n.night)),
              h('td', {}, n.program),
              h('td', {}, ruleOf(n)),
              h(
                'td',
                { class: 'hide-narrow' },
                `${formatTime(n.dusk, p.timeZone)} – ${formatTime(n.dawn, p.timeZone)}`,
              ),
              h('td', { class: 'num' }, formatNumber(n.plannedWh / 1000, 1)),
              h('td', { class: 'num hide-narrow' }, `${formatNumber(n.savedPct)} %`),
            ),
          ),
        ),
      ),
    ),
  );
}

function yearView(y) {
  return h(
    'div',
    { class: 'panel', id: 'calendar-year' },
    h('h2', {}, t('calendars.yearTitle', { from: formatNightDay(y.from), to: formatNightDay(y.to) })),
    costTable([
      [t('calendars.yearDraft'), y.proposed],
      [t('calendars.yearNow'), y.current],
      [t('calendars.yearDifference'), y.difference],
    ]),
    y.notes.length
      ? h(
          'ul',
          {},
          y.notes.map((n) => h('li', { class: 'muted' }, n)),
        )
      : null,
  );
}
