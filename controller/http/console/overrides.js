// Manual overrides (works at 30 % until Friday): a zone or some luminaires, a level, until when and why;
// the overrides in force with their end, kept current by the event stream, each releasable.
import { api, errorBox, formatDateTime, formatNumber, h, replace } from './lib.js';
import { t } from './i18n.js';

/** The default end offered: four hours from now, a working shift. */
const DEFAULT_HOURS = 4;

/** Epoch ms → the value of an <input type="datetime-local" step="1"> in the browser's time zone. */
function localInputValue(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function overridesPage(main, { onUnauthorized }) {
  const form = h('section', { 'aria-labelledby': 'override-form-title' });
  const inForce = h('section', { 'aria-labelledby': 'overrides-title', id: 'overrides' });
  main.append(h('h1', {}, t('overrides.title')), form, inForce);
  let zones = [];

  const fail = (box) => (error) => {
    if (error.status === 401) return onUnauthorized();
    replace(box, errorBox(error));
  };

  async function load() {
    try {
      zones = await api('GET', '/api/zones');
      drawForm();
    } catch (error) {
      fail(form)(error);
    }
    refresh();
  }

  function drawForm() {
    const status = h('div', { role: 'status', 'aria-live': 'polite' });
    const kind = h(
      'select',
      { id: 'override-kind' },
      h('option', { value: 'zone' }, t('overrides.kindZone')),
      h('option', { value: 'luminaires' }, t('overrides.kindLuminaires')),
    );
    const zone = h(
      'select',
      { id: 'override-zone' },
      zones.map((z) => h('option', { value: z.id }, `${z.name || z.id} (${z.commune})`)),
    );
    const luminaires = h('input', {
      id: 'override-luminaires',
      type: 'text',
      placeholder: 'metz-0001, metz-0002',
    });
    const zoneField = h('div', {}, h('label', { for: 'override-zone' }, t('overrides.zone')), zone);
    const luminairesField = h(
      'div',
      { hidden: true },
      h('label', { for: 'override-luminaires' }, t('overrides.luminaires')),
      luminaires,
    );
    kind.addEventListener('change', () => {
      zoneField.hidden = kind.value !== 'zone';
      luminairesField.hidden = kind.value === 'zone';
    });
    const level = h('input', {
      id: 'override-level',
      type: 'number',
      min: 0,
      max: 100,
      step: 1,
      value: 30,
      required: true,
    });
    const until = h('input', {
      id: 'override-until',
      type: 'datetime-local',
      step: 1,
      value: localInputValue(Date.now() + DEFAULT_HOURS * 3_600_000),
    });
    const released = h('input', { id: 'override-released', type: 'checkbox' });
    released.addEventListener('change', () => (until.disabled = released.checked));
    const reason = h('input', { id: 'override-reason', type: 'text', required: true, maxlength: 500 });
    replace(
      form,
      h('h2', { id: 'override-form-title' }, t('overrides.new')),
      h(
        'form',
        {
          class: 'panel stack',
          onsubmit: async (event) => {
            event.preventDefault();
            const target =
              kind.value === 'zone'
                ? { zone: zone.value }
                : {
                    luminaires: luminaires.value
                      .split(',')
                      .map((s) => s.trim())
                      .filter(Boolean),
                  };
            const end = released.checked
              ? { untilReleased: true }
              : { expiresAt: new Date(until.value).getTime() };
            replace(status, t('overrides.sending'));
            try {
              const { record } = await api('POST', '/api/overrides', {
                target,
                level: Number(level.value),
                reason: reason.value,
                ...end,
              });
              replace(status, h('div', { class: 'confirmed' }, t('overrides.given', { id: record.id })));
              refresh();
            } catch (error) {
              fail(status)(error);
            }
          },
        },
        h('div', {}, h('label', { for: 'override-kind' }, t('overrides.kind')), kind),
        zoneField,
        luminairesField,
        h('div', {}, h('label', { for: 'override-level' }, t('overrides.level')), level),
        h('div', {}, h('label', { for: 'override-until' }, t('overrides.until')), until),
        h('label', { class: 'check' }, released, t('overrides.untilReleased')),
        h('div', {}, h('label', { for: 'override-reason' }, t('overrides.reason')), reason),
        h('button', { type: 'submit', class: 'primary' }, t('overrides.give')),
        status,
      ),
    );
  }

  async function refresh() {
    try {
      const overrides = await api('GET', '/api/overrides');
      const status = h('div', { role: 'status' });
      replace(
        inForce,
        h('h2', { id: 'overrides-title' }, t('overrides.inForce')),
        overrides.length === 0
          ? h('p', { class: 'muted' }, t('overrides.none'))
          : h(
              'ul',
              { class: 'stack plain' },
              overrides.map((o) =>
                h(
                  'li',
                  { class: 'panel', dataset: { override: o.id } },
                  h('strong', {}, describe(o.target, zones)),
                  ` · ${formatNumber(o.level)} % · ${t('overrides.luminaireCount', { count: formatNumber(o.luminaires) })}`,
                  h(
                    'div',
                    { class: 'muted' },
                    `${o.reason} — ${o.actor}, ${formatDateTime(o.acceptedAt)} · `,
                    o.untilReleased
                      ? t('overrides.endsReleased')
                      : t('overrides.ends', { at: formatDateTime(o.expiresAt) }),
                    o.pending ? ` · ${t('overrides.pending')}` : '',
                  ),
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'quiet',
                      onclick: () =>
                        api('DELETE', `/api/overrides/${encodeURIComponent(o.id)}`).then(
                          refresh,
                          fail(status),
                        ),
                    },
                    t('overrides.release'),
                  ),
                ),
              ),
            ),
        status,
      );
    } catch (error) {
      fail(inForce)(error);
    }
  }

  load();
  return {
    onEvent(type, data) {
      // Given, replaced, released or expired, here or elsewhere: the list follows.
      if (type === 'command' && data.record.slot === 'override') refresh();
    },
  };
}

function describe(target, zones) {
  if (target.zone) {
    const zone = zones.find((z) => z.id === target.zone);
    return t('overrides.targetZone', { zone: zone?.name || target.zone });
  }
  if (target.commune) return t('overrides.targetCommune', { commune: target.commune });
  if (target.all) return t('overrides.targetAll');
  return t('overrides.targetLuminaires', { ids: target.luminaires.join(', ') });
}
