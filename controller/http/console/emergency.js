// Emergency relight, made for a phone at 3 a.m.: commune → zone → confirm → relight → "confirmed by
// N/N luminaires" from the devices' read-back → clear.
import {
  REASON_CODES,
  api,
  describeReason,
  describeTarget,
  errorBox,
  formatDateTime,
  h,
  reasonOf,
  replace,
} from './lib.js';
import { t } from './i18n.js';
import { zoneMapPicker } from './map.js';

/** Minutes; 0 until cleared. */
const DURATIONS = [0, 60, 120, 240, 480];

export function emergencyPage(main, { onUnauthorized }) {
  const flow = h('section', { 'aria-labelledby': 'flow-title' });
  const inForce = h('section', { 'aria-labelledby': 'in-force-title' });
  main.append(h('h1', {}, t('emergency.title')), flow, inForce);

  let communes = [];
  let zones = [];
  let watching; // { id, box } while a relight's confirmation is followed
  let poll;

  const fail = (box) => (error) => {
    if (error.status === 401) return onUnauthorized();
    replace(box, errorBox(error));
  };

  async function load() {
    try {
      [communes, zones] = await Promise.all([api('GET', '/api/communes'), api('GET', '/api/zones')]);
      if (communes.length === 1) chooseZone(communes[0]);
      else chooseCommune();
    } catch (error) {
      fail(flow)(error);
    }
    refreshInForce();
  }

  function chooseCommune() {
    replace(
      flow,
      h('h2', { id: 'flow-title' }, t('emergency.chooseCommune')),
      h(
        'div',
        { class: 'choices' },
        communes.map((c) =>
          h(
            'button',
            { type: 'button', onclick: () => chooseZone(c) },
            c.name,
            h('small', {}, t('emergency.communeCounts', { zones: c.zones, luminaires: c.luminaires })),
          ),
        ),
      ),
    );
  }

  function chooseZone(commune) {
    const own = zones.filter((z) => z.commune === commune.id);
    const list = h('div', { class: 'choices' });
    const search = h('input', {
      id: 'zone-search',
      type: 'search',
      placeholder: t('emergency.streetPlaceholder'),
      autocomplete: 'off',
    });
    const draw = () => {
      const q = search.value.trim().toLowerCase();
      replace(
        list,
        own
          .filter((z) => !q || (z.name || z.id).toLowerCase().includes(q) || z.id.includes(q))
          .map((z) =>
            h(
              'button',
              {
                type: 'button',
                onclick: () => confirm({ zone: z.id }, z.name || z.id, z.luminaires, commune),
              },
              z.name || z.id,
              h('small', {}, t('emergency.luminaires', { count: z.luminaires })),
            ),
          ),
      );
    };
    search.addEventListener('input', draw);
    draw();
    // Or by place: a tap on the map, or "near me" (map.js).
    const onMap = h('div');
    zoneMapPicker(onMap, {
      commune: commune.id,
      onPick: (id) => {
        const z = own.find((zone) => zone.id === id);
        if (z) confirm({ zone: z.id }, z.name || z.id, z.luminaires, commune);
      },
    });
    replace(
      flow,
      h('h2', { id: 'flow-title' }, t('emergency.chooseZone', { commune: commune.name })),
      h('label', { for: 'zone-search' }, t('emergency.findStreet')),
      search,
      h(
        'p',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'quiet',
            onclick: () =>
              confirm(
                { commune: commune.id },
                t('emergency.allOf', { commune: commune.name }),
                commune.luminaires,
                commune,
              ),
          },
          t('emergency.wholeCommune', { commune: commune.name }),
        ),
      ),
      list,
      onMap,
      communes.length > 1
        ? h(
            'p',
            {},
            h(
              'button',
              { type: 'button', class: 'quiet', onclick: chooseCommune },
              t('emergency.otherCommune'),
            ),
          )
        : null,
    );
  }

  function confirm(target, label, luminaires, commune) {
    const reason = h(
      'select',
      { id: 'reason' },
      REASON_CODES.map((code) => h('option', { value: code }, t(`reason.${code}`))),
    );
    const note = h('input', { id: 'reason-note', maxlength: 400, autocomplete: 'off' });
    const duration = h(
      'select',
      { id: 'duration' },
      DURATIONS.map((minutes) =>
        h(
          'option',
          { value: String(minutes) },
          minutes === 0 ? t('emergency.untilCleared') : t('emergency.hours', { count: minutes / 60 }),
        ),
      ),
    );
    const status = h('div', { role: 'status', 'aria-live': 'polite' });
    const relight = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          relight.disabled = true;
          replace(status, t('emergency.sending'));
          const minutes = Number(duration.value);
          try {
            const accepted = await api('POST', '/api/relights', {
              target,
              level: 100,
              reason: reasonOf(reason.value, note.value),
              ...(minutes > 0 ? { expiresInMin: minutes } : {}),
            });
            follow(accepted.record, accepted.progress, label);
            refreshInForce();
          } catch (error) {
            relight.disabled = false;
            fail(status)(error);
          }
        },
      },
      t('emergency.relight', { label: label.toUpperCase() }),
    );
    replace(
      flow,
      h('h2', { id: 'flow-title' }, t('emergency.confirmTitle')),
      h(
        'div',
        { class: 'panel' },
        h('p', {}, t('emergency.confirmText', { label, luminaires })),
        h('label', { for: 'reason' }, t('emergency.reason')),
        reason,
        h('label', { for: 'reason-note' }, t('emergency.note')),
        note,
        h('label', { for: 'duration' }, t('emergency.duration')),
        duration,
      ),
      relight,
      status,
      h(
        'p',
        {},
        h(
          'button',
          { type: 'button', class: 'quiet', onclick: () => chooseZone(commune) },
          t('emergency.cancel'),
        ),
      ),
    );
    relight.focus();
  }

  function follow(record, progress, label) {
    const box = h('div', { id: 'confirmation', role: 'status', 'aria-live': 'polite' });
    const clearStatus = h('div', { role: 'status' });
    watching = { id: record.id, box };
    replace(
      flow,
      h('h2', { id: 'flow-title' }, t('emergency.followTitle', { label })),
      h(
        'p',
        { class: 'muted' },
        t('emergency.accepted', { id: record.id, at: formatDateTime(record.acceptedAt) }),
      ),
      box,
      h(
        'p',
        {},
        h(
          'button',
          { type: 'button', class: 'primary', onclick: () => clear(record.id, clearStatus) },
          t('emergency.clear'),
        ),
      ),
      clearStatus,
      h('p', {}, h('button', { type: 'button', class: 'quiet', onclick: load }, t('emergency.newRelight'))),
    );
    showProgress(progress);
    // Events carry the progress; polling covers a stream that is reconnecting.
    clearInterval(poll);
    poll = setInterval(async () => {
      if (!watching) return clearInterval(poll);
      try {
        showProgress(await api('GET', `/api/commands/${encodeURIComponent(watching.id)}/progress`));
      } catch {
        // The stream or the next poll will tell.
      }
    }, 2000);
  }

  function showProgress(progress) {
    if (!watching || progress.id !== watching.id) return;
    const done = progress.done && progress.failed === 0;
    watching.box.className = done ? 'confirmed' : 'pending';
    const lines = [t('emergency.confirmed', { done: progress.confirmed, total: progress.total })];
    if (progress.pending) lines.push(t('emergency.pending', { count: progress.pending }));
    if (progress.failed)
      lines.push(
        t('emergency.failed', {
          count: progress.failed,
          list: progress.failures.map((f) => `${f.device} (${f.error})`).join(', '),
        }),
      );
    replace(watching.box, done ? `✓ ${lines[0]}` : lines.join(' · '));
    if (progress.done) clearInterval(poll);
  }

  async function clear(id, status) {
    if (!window.confirm(t('emergency.clearAsk'))) return;
    try {
      await api('DELETE', `/api/relights/${encodeURIComponent(id)}`);
      if (watching && watching.id === id) {
        clearInterval(poll);
        watching = undefined;
        replace(
          flow,
          h('div', { class: 'confirmed', role: 'status' }, t('emergency.cleared')),
          h(
            'p',
            {},
            h('button', { type: 'button', class: 'primary', onclick: load }, t('emergency.newRelight')),
          ),
        );
      } else replace(status, t('emergency.clearedShort'));
      refreshInForce();
    } catch (error) {
      fail(status)(error);
    }
  }

  async function refreshInForce() {
    try {
      const relights = await api('GET', '/api/relights');
      const status = h('div', { role: 'status' });
      replace(
        inForce,
        h('h2', { id: 'in-force-title' }, t('emergency.inForce')),
        relights.length === 0
          ? h('p', { class: 'muted' }, t('emergency.none'))
          : h(
              'div',
              { class: 'stack' },
              relights.map((r) =>
                h(
                  'div',
                  { class: 'panel' },
                  h('strong', {}, describeTarget(r.target)),
                  ` · ${r.level} % · ${t('emergency.luminaires', { count: r.luminaires })}`,
                  h(
                    'div',
                    { class: 'muted' },
                    t('emergency.by', {
                      reason: describeReason(r.reason),
                      actor: r.actor,
                      at: formatDateTime(r.acceptedAt),
                    }) + (r.expiresAt ? t('emergency.until', { at: formatDateTime(r.expiresAt) }) : ''),
                  ),
                  h(
                    'div',
                    { class: 'row' },
                    h(
                      'button',
                      {
                        type: 'button',
                        onclick: () =>
                          api('GET', `/api/commands/${encodeURIComponent(r.id)}/progress`).then(
                            (p) => follow(r, p, describeTarget(r.target)),
                            fail(status),
                          ),
                      },
                      t('emergency.follow'),
                    ),
                    h(
                      'button',
                      { type: 'button', class: 'quiet', onclick: () => clear(r.id, status) },
                      t('emergency.clearShort'),
                    ),
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
      if (type === 'progress') showProgress(data.progress);
      if (type === 'command' && data.record.slot === 'emergency') refreshInForce();
    },
    dispose() {
      clearInterval(poll);
      watching = undefined;
    },
  };
}
