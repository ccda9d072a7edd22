// Exports: a series over a period, downloaded as CSV for a French spreadsheet or as NDJSON. The file is
// streamed by the browser straight to disk (a link with a one-use ticket), never held in the page.
import { t } from './i18n.js';
import { ApiError, api, errorBox, h, replace, session } from './lib.js';

const KINDS = ['building', 'point', 'zone', 'commune'];

/** 'YYYY-MM-DD' of a local date. */
function isoDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export async function exportsPage(main, { onUnauthorized }) {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  main.append(h('h1', {}, t('exports.title')), h('p', { class: 'muted' }, t('exports.intro')));
  let choices;
  try {
    const [buildings, zones, communes] = await Promise.all([
      api('GET', '/api/buildings'),
      api('GET', '/api/zones'),
      api('GET', '/api/communes'),
    ]);
    choices = {
      building: buildings.map((b) => ({ id: b.id, label: b.name ?? b.id })),
      point: buildings.flatMap((b) =>
        b.points.map((p) => ({ id: `${b.id}/${p.id}`, label: `${b.name ?? b.id} · ${p.name ?? p.id}` })),
      ),
      zone: zones.map((z) => ({ id: z.id, label: z.name ?? z.id })),
      commune: communes.map((c) => ({ id: c.id, label: c.name })),
    };
  } catch (error) {
    if (error.status === 401) return onUnauthorized();
    main.append(errorBox(error));
    return;
  }

  const kind = h(
    'select',
    { id: 'export-kind', name: 'kind' },
    KINDS.map((k) => h('option', { value: k }, t(`exports.kind.${k}`))),
  );
  const id = h('select', { id: 'export-id', name: 'id', required: true });
  const fillIds = () =>
    replace(
      id,
      ...choices[kind.value].map((c) =>
        h('option', { value: c.id }, c.label === c.id ? c.id : `${c.label} (${c.id})`),
      ),
    );
  kind.addEventListener('change', fillIds);
  fillIds();

  // Last month by default: what the evaluators ask for.
  const today = new Date();
  const from = h('input', {
    id: 'export-from',
    type: 'date',
    required: true,
    value: isoDate(new Date(today.getFullYear(), today.getMonth() - 1, 1)),
  });
  const to = h('input', {
    id: 'export-to',
    type: 'date',
    required: true,
    value: isoDate(new Date(today.getFullYear(), today.getMonth(), 1)),
  });
  const format = h(
    'select',
    { id: 'export-format', name: 'format' },
    h('option', { value: 'csv' }, t('exports.format.csv')),
    h('option', { value: 'ndjson' }, t('exports.format.ndjson')),
  );

  const form = h(
    'form',
    {
      class: 'panel stack',
      onsubmit: async (event) => {
        event.preventDefault();
        if (to.value <= from.value) {
          replace(status, h('p', { class: 'error', role: 'alert' }, t('exports.error.period')));
          return;
        }
        replace(status, t('exports.preparing'));
        const query = new URLSearchParams({
          kind: kind.value,
          id: id.value,
          from: from.value,
          to: to.value,
          format: format.value,
        });
        try {
          // Asked once with the token, so that a refusal shows here rather than as a downloaded file;
          // dropped as soon as its status is known.
          const probe = new AbortController();
          const response = await fetch(`/api/exports?${query}`, {
            headers: { authorization: `Bearer ${session.token}`, 'x-nocturne-client': 'console' },
            signal: probe.signal,
          });
          if (!response.ok) {
            const body = await response.json().catch(() => undefined);
            if (response.status === 401) return onUnauthorized();
            replace(status, errorBox(new ApiError(response.status, body)));
            return;
          }
          probe.abort();
          const { ticket } = await api('POST', '/api/events/ticket');
          query.set('ticket', ticket);
          const link = h('a', { href: `/api/exports?${query}`, download: '' });
          document.body.append(link);
          link.click();
          link.remove();
          replace(status, t('exports.started'));
        } catch (error) {
          if (error.status === 401) return onUnauthorized();
          replace(status, errorBox(error));
        }
      },
    },
    h('label', { for: 'export-kind' }, t('exports.kind')),
    kind,
    h('label', { for: 'export-id' }, t('exports.what')),
    id,
    h('label', { for: 'export-from' }, t('exports.from')),
    from,
    h('label', { for: 'export-to' }, t('exports.to')),
    to,
    h('label', { for: 'export-format' }, t('exports.format')),
    format,
    h('button', { class: 'primary', type: 'submit' }, t('exports.download')),
    status,
  );
  main.append(form, h('p', { class: 'muted' }, t('exports.cli')));
}
