// Emergency relight, made for a phone at 3 a.m.: commune → zone → confirm → relight → "confirmed by
// N/N luminaires" from the devices' read-back → clear.
import { api, describeTarget, errorBox, formatDateTime, h, replace } from './lib.js';
import { zoneMapPicker } from './map.js';

const REASONS = [
  'Road accident',
  'Police intervention',
  'Fire and rescue',
  'Public safety',
  'Medical emergency',
];
const DURATIONS = [
  { label: 'Until cleared', minutes: 0 },
  { label: '1 hour', minutes: 60 },
  { label: '2 hours', minutes: 120 },
  { label: '4 hours', minutes: 240 },
  { label: '8 hours', minutes: 480 },
];

export function emergencyPage(main, { onUnauthorized }) {
  const flow = h('section', { 'aria-labelledby': 'flow-title' });
  const inForce = h('section', { 'aria-labelledby': 'in-force-title' });
  main.append(h('h1', {}, 'Emergency relight'), flow, inForce);

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
      h('h2', { id: 'flow-title' }, '1. Choose the commune'),
      h(
        'div',
        { class: 'choices' },
        communes.map((c) =>
          h(
            'button',
            { type: 'button', onclick: () => chooseZone(c) },
            c.name,
            h('small', {}, `${c.zones} zones, ${c.luminaires} luminaires`),
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
      placeholder: 'Street name',
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
              h('small', {}, `${z.luminaires} luminaires`),
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
      h('h2', { id: 'flow-title' }, `2. Choose the zone in ${commune.name}`),
      h('label', { for: 'zone-search' }, 'Find a street'),
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
              confirm({ commune: commune.id }, `all of ${commune.name}`, commune.luminaires, commune),
          },
          `Whole commune: ${commune.name}`,
        ),
      ),
      list,
      onMap,
      communes.length > 1
        ? h(
            'p',
            {},
            h('button', { type: 'button', class: 'quiet', onclick: chooseCommune }, '← Other commune'),
          )
        : null,
    );
  }

  function confirm(target, label, luminaires, commune) {
    const reason = h(
      'select',
      { id: 'reason' },
      REASONS.map((r) => h('option', { value: r }, r)),
    );
    const duration = h(
      'select',
      { id: 'duration' },
      DURATIONS.map((d) => h('option', { value: String(d.minutes) }, d.label)),
    );
    const status = h('div', { role: 'status', 'aria-live': 'polite' });
    const relight = h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          relight.disabled = true;
          replace(status, 'Sending…');
          const minutes = Number(duration.value);
          try {
            const accepted = await api('POST', '/api/relights', {
              target,
              level: 100,
              reason: reason.value,
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
      `RELIGHT ${label.toUpperCase()}`,
    );
    replace(
      flow,
      h('h2', { id: 'flow-title' }, '3. Confirm'),
      h(
        'div',
        { class: 'panel' },
        h('p', {}, `Relight ${label} at 100 %: ${luminaires} luminaires.`),
        h('label', { for: 'reason' }, 'Reason'),
        reason,
        h('label', { for: 'duration' }, 'For how long'),
        duration,
      ),
      relight,
      status,
      h(
        'p',
        {},
        h('button', { type: 'button', class: 'quiet', onclick: () => chooseZone(commune) }, 'Cancel'),
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
      h('h2', { id: 'flow-title' }, `4. Relight of ${label}`),
      h('p', { class: 'muted' }, `Relight ${record.id}, accepted ${formatDateTime(record.acceptedAt)}.`),
      box,
      h(
        'p',
        {},
        h(
          'button',
          { type: 'button', class: 'primary', onclick: () => clear(record.id, clearStatus) },
          'Clear this relight',
        ),
      ),
      clearStatus,
      h('p', {}, h('button', { type: 'button', class: 'quiet', onclick: load }, 'New relight')),
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
    const lines = [`Confirmed by ${progress.confirmed}/${progress.total} luminaires`];
    if (progress.pending) lines.push(`${progress.pending} waiting for their device`);
    if (progress.failed)
      lines.push(
        `${progress.failed} not confirmed: ${progress.failures.map((f) => `${f.device} (${f.error})`).join(', ')}`,
      );
    replace(watching.box, done ? `✓ ${lines[0]}` : lines.join(' · '));
    if (progress.done) clearInterval(poll);
  }

  async function clear(id, status) {
    if (!window.confirm('Clear this relight? The schedule applies again.')) return;
    try {
      await api('DELETE', `/api/relights/${encodeURIComponent(id)}`);
      if (watching && watching.id === id) {
        clearInterval(poll);
        watching = undefined;
        replace(
          flow,
          h('div', { class: 'confirmed', role: 'status' }, 'Relight cleared: the schedule applies again.'),
          h('p', {}, h('button', { type: 'button', class: 'primary', onclick: load }, 'New relight')),
        );
      } else replace(status, 'Cleared.');
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
        h('h2', { id: 'in-force-title' }, 'Relights in force'),
        relights.length === 0
          ? h('p', { class: 'muted' }, 'None.')
          : h(
              'div',
              { class: 'stack' },
              relights.map((r) =>
                h(
                  'div',
                  { class: 'panel' },
                  h('strong', {}, describeTarget(r.target)),
                  ` · ${r.level} % · ${r.luminaires} luminaires`,
                  h(
                    'div',
                    { class: 'muted' },
                    `${r.reason} — by ${r.actor}, ${formatDateTime(r.acceptedAt)}${r.expiresAt ? `, until ${formatDateTime(r.expiresAt)}` : ''}`,
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
                      'Follow',
                    ),
                    h(
                      'button',
                      { type: 'button', class: 'quiet', onclick: () => clear(r.id, status) },
                      'Clear',
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
