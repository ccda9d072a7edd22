// The console's requests to its API, with the tab's bearer token or else the person's cookie (and CSRF
// token). A module with no imports, so that early.js can ask before the console's other modules arrive.

export const TOKEN_KEY = 'nocturne.token';

/** The fetch of one request; its answer is read by lib.js's answer(). */
export function request(method, path, { body, token, csrf, cache = 'no-store' } = {}) {
  const headers = { 'x-nocturne-client': 'console' };
  if (token) headers.authorization = `Bearer ${token}`;
  else if (csrf && method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache,
    credentials: 'same-origin',
  });
}
