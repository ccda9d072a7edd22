// A reading view of /api/openapi.json: endpoints by tag, with their parameters and body schemas.
import { h, replace } from './lib.js';
import { t } from './i18n.js';

const target = document.getElementById('endpoints');
for (const node of document.querySelectorAll('[data-text]')) node.textContent = t(node.dataset.text);

function schemaText(schema) {
  return JSON.stringify(schema, null, 2);
}

function operation(method, path, op) {
  const params = op.parameters || [];
  const body = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
  return h(
    'article',
    { class: 'panel', id: `${method}-${path}` },
    h('h3', {}, h('code', {}, `${method.toUpperCase()} ${path}`)),
    op.summary ? h('p', {}, op.summary) : null,
    h('p', { class: 'muted' }, t(op.security && op.security.length ? 'docs.tokenRequired' : 'docs.noToken')),
    params.length
      ? h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, t('docs.parameter')),
              h('th', {}, t('docs.in')),
              h('th', {}, t('docs.schema')),
            ),
          ),
          h(
            'tbody',
            {},
            params.map((p) =>
              h(
                'tr',
                {},
                h('td', {}, h('code', {}, p.name), p.required ? ` ${t('docs.required')}` : ''),
                h('td', {}, p.in),
                h('td', {}, h('code', {}, JSON.stringify(p.schema))),
              ),
            ),
          ),
        )
      : null,
    body
      ? h(
          'details',
          {},
          h('summary', {}, t('docs.body')),
          h('pre', { class: 'scroll' }, schemaText(body.schema)),
        )
      : null,
  );
}

(async () => {
  try {
    const doc = await (await fetch('/api/openapi.json')).json();
    const byTag = new Map();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const tag = (op.tags && op.tags[0]) || 'other';
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push(operation(method, path, op));
      }
    }
    replace(
      target,
      [...byTag].map(([tag, ops]) => h('section', {}, h('h2', {}, tag), ops)),
    );
  } catch (error) {
    replace(target, h('p', { class: 'error' }, t('docs.unreadable', { message: error.message })));
  }
})();
