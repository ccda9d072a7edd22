/**
 * An SMS gateway's request from its template, pure: `{to}`, `{text}` and the named parameters filled in,
 * escaped for where they land (URL-encoded in the URL and form bodies, JSON-escaped in JSON bodies).
 * Other braces (JSON's own) and unknown names are left as they are.
 */

export interface SmsTemplate {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Values of the other placeholders, secrets already read. */
  params: Record<string, string>;
  contentType: 'application/json' | 'application/x-www-form-urlencoded' | 'text/plain';
  body?: string;
}

export interface SmsRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

const ESCAPE: Readonly<Record<SmsTemplate['contentType'], (value: string) => string>> = {
  'application/json': (value) => JSON.stringify(value).slice(1, -1),
  'application/x-www-form-urlencoded': encodeURIComponent,
  'text/plain': (value) => value,
};

export function renderSmsRequest(template: SmsTemplate, to: string, text: string): SmsRequest {
  const values: Record<string, string> = { ...template.params, to, text };
  const fill = (source: string, escape: (value: string) => string): string =>
    source.replace(/\{([a-z][a-z0-9_]*)\}/g, (whole, name: string) =>
      Object.hasOwn(values, name) ? escape(values[name]) : whole,
    );
  const url = new URL(fill(template.url, encodeURIComponent));
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`notifications.sms.url: must be http:// or https:// (is '${url.protocol}')`);
  if (template.body === undefined) return { url, method: template.method, headers: { ...template.headers } };
  return {
    url,
    method: template.method,
    headers: { 'content-type': `${template.contentType}; charset=utf-8`, ...template.headers },
    body: fill(template.body, ESCAPE[template.contentType]),
  };
}
