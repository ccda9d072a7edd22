import { toYaml } from '../../../config/generateDemo';
import { buildTerritory } from '../../../config/demoTerritory';
import { ConfigError } from '../../../config/issues';
import { parseConfig } from '../../../config/load';
import type { ConfigInput } from '../../../config/schema';
import { NotificationsSection } from '../../../config/schema/notifications';
import { timeZone } from '../../../core/localTime';
import {
  emailMessage,
  smsText,
  type MessageContext,
} from '../../../controller/telemetry/alerts/notifyMessages';
import {
  quietUntil,
  resolveRecipients,
  route,
  type ResolvedRecipient,
} from '../../../controller/telemetry/alerts/recipients';
import { renderSmsRequest, type SmsTemplate } from '../../../controller/telemetry/alerts/smsTemplate';
import type { AlertView } from '../../../controller/telemetry/services';

const PARIS = timeZone('Europe/Paris');
/** Friday 4 December 2026, in Paris (UTC+1). */
const at = (localTime: string, day = '2026-12-04'): number => Date.parse(`${day}T${localTime}:00+01:00`);

function alert(overrides: Partial<AlertView> = {}): AlertView {
  return {
    id: 'porte-ecole-1',
    rule: 'porte',
    kind: 'threshold',
    severity: 'warning',
    state: 'raised',
    commune: 'metz',
    source: 'ecole/porte',
    code: 'rule-message',
    params: { text: 'Porte de l’école ouverte' },
    message: 'Porte de l’école ouverte',
    value: 1,
    raisedAt: at('22:13'),
    ...overrides,
  };
}

const USERS = [
  {
    id: 'marie',
    name: 'Marie Durand',
    role: 'lighting-manager' as const,
    communes: ['metz'],
    token_sha256: 'a'.repeat(64),
  },
  { id: 'pompiers', role: 'emergency' as const, communes: ['*'], token_sha256: 'b'.repeat(64) },
];

const NOTIFICATIONS = NotificationsSection.parse({
  console_url: 'https://nocturne.metz.fr/',
  quiet_hours: { from: '22:00', to: '07:00' },
  routes: [
    { roles: ['lighting-manager'], min_severity: 'warning', channels: ['email'] },
    { roles: ['lighting-manager'], min_severity: 'critical', channels: ['sms'] },
    { roles: ['emergency'], min_severity: 'critical' },
    { roles: ['energy-manager'], min_severity: 'info', kinds: ['night-flow'] },
  ],
  recipients: [
    { id: 'marie', user: 'marie', email: 'marie@metz.fr', phone: '+33611111111', on_clear: true },
    { id: 'caserne', user: 'pompiers', email: 'cta@sdis57.fr', phone: '+33622222222', quiet_hours: false },
    {
      id: 'paul',
      role: 'energy-manager',
      communes: ['woippy'],
      email: 'paul@woippy.fr',
      quiet_hours: { from: '20:00', to: '21:00' },
    },
  ],
});

const recipients = resolveRecipients(NOTIFICATIONS, USERS);
const sent = (a: AlertView, change: 'raised' | 'acknowledged' | 'cleared', now: number): string[] =>
  route(a, change, recipients, NOTIFICATIONS.routes, now, PARIS).map(
    (d) =>
      `${d.recipient.id}:${d.channel}:${d.address}${d.heldUntil !== undefined ? `@${new Date(d.heldUntil).toISOString()}` : ''}`,
  );

describe('recipients', () => {
  it('take their role, communes and name from their user unless given, and the default quiet hours unless refused', () => {
    expect(
      recipients.map((r: ResolvedRecipient) => [r.id, r.role, r.communes, r.name, r.quietHours]),
    ).toEqual([
      ['marie', 'lighting-manager', ['metz'], 'Marie Durand', { from: '22:00', to: '07:00' }],
      ['caserne', 'emergency', ['*'], undefined, undefined],
      ['paul', 'energy-manager', ['woippy'], undefined, { from: '20:00', to: '21:00' }],
    ]);
  });
});

describe('routing by role, commune and severity', () => {
  const afternoon = at('15:00');

  it('sends a warning by e-mail to the lighting manager of its commune only', () => {
    expect(sent(alert(), 'raised', afternoon)).toEqual(['marie:email:marie@metz.fr']);
    expect(sent(alert({ commune: 'woippy' }), 'raised', afternoon)).toEqual([]);
  });

  it('sends a critical alert by e-mail and SMS to the manager, and to the emergency services of every commune', () => {
    expect(sent(alert({ severity: 'critical' }), 'raised', afternoon)).toEqual([
      'marie:email:marie@metz.fr',
      'marie:sms:+33611111111',
      'caserne:email:cta@sdis57.fr',
      'caserne:sms:+33622222222',
    ]);
  });

  it('follows kinds: the energy manager gets night flows of Woippy, even as info, and nothing else', () => {
    const leak = alert({ kind: 'night-flow', severity: 'info', commune: 'woippy' });
    expect(sent(leak, 'raised', afternoon)).toEqual(['paul:email:paul@woippy.fr']);
    expect(sent({ ...leak, kind: 'threshold' }, 'raised', afternoon)).toEqual([]);
  });

  it('tells of a clear only those who asked, and of an acknowledgement no one here', () => {
    expect(sent(alert({ state: 'cleared' }), 'cleared', afternoon)).toEqual(['marie:email:marie@metz.fr']);
    expect(sent(alert(), 'acknowledged', afternoon)).toEqual([]);
  });

  it('reaches a territory-wide alert to everyone whose route matches', () => {
    expect(
      sent(alert({ commune: '*', severity: 'critical', kind: 'telemetry-storage' }), 'raised', afternoon),
    ).toHaveLength(4);
  });

  it('lets a person raise the minimum severity for themselves', () => {
    const strict = resolveRecipients(
      NotificationsSection.parse({
        ...NOTIFICATIONS,
        recipients: [{ id: 'marie', user: 'marie', email: 'm@metz.fr', min_severity: 'critical' }],
      }),
      USERS,
    );
    expect(route(alert(), 'raised', strict, NOTIFICATIONS.routes, afternoon, PARIS)).toEqual([]);
  });
});

describe('quiet hours', () => {
  it('hold a warning until the end of the window, but never a critical alert', () => {
    expect(sent(alert(), 'raised', at('23:30'))).toEqual([
      'marie:email:marie@metz.fr@2026-12-05T06:00:00.000Z',
    ]);
    expect(sent(alert({ severity: 'critical' }), 'raised', at('23:30'))).toEqual([
      'marie:email:marie@metz.fr',
      'marie:sms:+33611111111',
      'caserne:email:cta@sdis57.fr',
      'caserne:sms:+33622222222',
    ]);
  });

  it('cross midnight: after midnight the end is the same morning; at the end it is over', () => {
    const window = { from: '22:00', to: '07:00' };
    expect(quietUntil(window, at('03:10'), PARIS)).toBe(at('07:00'));
    expect(quietUntil(window, at('07:00'), PARIS)).toBeUndefined();
    expect(quietUntil(window, at('21:59'), PARIS)).toBeUndefined();
    expect(quietUntil(window, at('22:00'), PARIS)).toBe(at('07:00', '2026-12-05'));
  });

  it('within a day, and empty when both ends are equal', () => {
    expect(quietUntil({ from: '12:00', to: '14:00' }, at('13:00'), PARIS)).toBe(at('14:00'));
    expect(quietUntil({ from: '12:00', to: '14:00' }, at('14:30'), PARIS)).toBeUndefined();
    expect(quietUntil({ from: '12:00', to: '12:00' }, at('12:00'), PARIS)).toBeUndefined();
  });

  it('end in local time across a change of offset (the night of 25 October 2026)', () => {
    const evening = Date.parse('2026-10-24T23:00:00+02:00');
    expect(new Date(quietUntil({ from: '22:00', to: '07:00' }, evening, PARIS)!).toISOString()).toBe(
      '2026-10-25T06:00:00.000Z', // 07:00 CET
    );
  });
});

describe('messages', () => {
  const context: MessageContext = {
    timeZone: 'Europe/Paris',
    communeNames: new Map([['metz', 'Metz']]),
    consoleUrl: 'https://nocturne.metz.fr/',
  };

  it('e-mail: French subject and body with severity, what, where, local time and the console link', () => {
    const mail = emailMessage(alert({ severity: 'critical', unit: '' }), 'raised', context);
    expect(mail.subject).toBe('[Nocturne] CRITIQUE – Alerte : Porte de l’école ouverte (Metz)');
    expect(mail.text).toContain('Gravité : CRITIQUE');
    expect(mail.text).toContain('Quoi : Porte de l’école ouverte');
    expect(mail.text).toContain('Où : Metz – ecole/porte');
    expect(mail.text).toContain('Quand : vendredi 4 décembre 2026 à 22:13 UTC+1');
    expect(mail.text).toContain('Console : https://nocturne.metz.fr/#/alerts');
    expect(mail.html).toContain('<a href="https://nocturne.metz.fr/#/alerts">');
  });

  it('e-mail: a clear says when it ended; HTML escapes what rules wrote', () => {
    const mail = emailMessage(
      alert({ state: 'cleared', clearedAt: at('23:01'), message: '<b>T > 30 °C</b>' }),
      'cleared',
      context,
    );
    expect(mail.subject).toContain('Fin d’alerte');
    expect(mail.text).toContain('Fin : vendredi 4 décembre 2026 à 23:01 UTC+1');
    expect(mail.html).toContain('&lt;b&gt;T &gt; 30 °C&lt;/b&gt;');
    expect(mail.html).not.toContain('<b>T');
  });

  it('SMS: one line, cut to the configured length with an ellipsis', () => {
    const text = smsText(alert(), 'raised', context, 160);
    expect(text).toBe('Alerte Avertissement 04/12 22:13 Metz, ecole/porte : Porte de l’école ouverte');
    const short = smsText(alert({ message: 'x'.repeat(400) }), 'raised', context, 160);
    expect(Array.from(short)).toHaveLength(160);
    expect(short.endsWith('…')).toBe(true);
  });
});

describe('SMS gateway templates', () => {
  const template: SmsTemplate = {
    url: 'https://api.sms.example/{account}/send?to={to}',
    method: 'POST',
    headers: { authorization: 'Bearer t0k' },
    params: { account: 'mairie metz', sender: 'MAIRIE' },
    contentType: 'application/json',
    body: '{"sender":"{sender}","receivers":["{to}"],"message":"{text}","keep":"{unknown}"}',
  };

  it('fills JSON bodies JSON-escaped and the URL URL-encoded; leaves unknown names', () => {
    const request = renderSmsRequest(template, '+33611111111', 'Porte "A" ouverte\nà 22:13');
    expect(request.url.href).toBe('https://api.sms.example/mairie%20metz/send?to=%2B33611111111');
    expect(JSON.parse(request.body!)).toEqual({
      sender: 'MAIRIE',
      receivers: ['+33611111111'],
      message: 'Porte "A" ouverte\nà 22:13',
      keep: '{unknown}',
    });
    expect(request.headers).toEqual({
      'content-type': 'application/json; charset=utf-8',
      authorization: 'Bearer t0k',
    });
  });

  it('fills form bodies as form fields, and sends no body without a template', () => {
    const form = renderSmsRequest(
      { ...template, contentType: 'application/x-www-form-urlencoded', body: 'to={to}&msg={text}' },
      '+33611111111',
      'a&b=c é',
    );
    expect(Object.fromEntries(new URLSearchParams(form.body))).toEqual({
      to: '+33611111111',
      msg: 'a&b=c é',
    });
    const get = renderSmsRequest({ ...template, method: 'GET', body: undefined }, '+33611111111', 'x');
    expect(get.body).toBeUndefined();
    expect(get.headers).toEqual({ authorization: 'Bearer t0k' });
  });
});

describe('configuration', () => {
  function problems(notifications: unknown, tweak: (input: ConfigInput) => void = () => undefined): string[] {
    const input = buildTerritory({
      communes: 2,
      modbusPorts: [15001, 15002],
      opcuaPorts: [],
      luminairesPerController: 4,
    });
    tweak(input);
    try {
      parseConfig(toYaml({ ...input, notifications } as ConfigInput), 'site.yaml');
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.issues.map((i) => `${i.path}: ${i.message}`);
    }
  }

  it('names each wrong recipient field, and accepts a complete section', () => {
    expect(
      problems({
        recipients: [
          { id: 'a', user: 'nobody', email: 'a@b.fr' },
          { id: 'b', communes: ['atlantis'], phone: '0612' },
          { id: 'c', role: 'viewer', communes: ['*'] },
        ],
        quiet_hours: { from: '22h', to: '07:00' },
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^notifications\.quiet_hours\.from: must be a clock time/),
        expect.stringMatching(/^notifications\.recipients\[1\]\.phone: must be an international number/),
      ]),
    );
    expect(
      problems({
        recipients: [
          { id: 'a', user: 'nobody', email: 'a@b.fr' },
          { id: 'b', communes: ['atlantis'], phone: '+33612345678' },
          { id: 'c', role: 'viewer', communes: ['*'] },
        ],
      }),
    ).toEqual([
      "notifications.recipients[0].user: unknown user 'nobody'",
      'notifications.recipients[0].email: an e-mail address needs notifications.email (the SMTP server)',
      'notifications.recipients[1].role: give a role, or a user to take it from',
      "notifications.recipients[1].communes[0]: unknown commune 'atlantis'",
      'notifications.recipients[1].phone: a phone number needs notifications.sms (the SMS gateway)',
      "notifications.recipients[2]: recipient 'c' has neither email nor phone",
    ]);
    expect(
      problems({
        email: { host: 'smtp.metz.fr', from: 'Mairie <alertes@metz.fr>', password: { env: 'SMTP_PASSWORD' } },
        recipients: [{ id: 'c', role: 'viewer', communes: ['*'], email: 'c@metz.fr' }],
      }),
    ).toEqual(['notifications.email.password: environment variable SMTP_PASSWORD is not set']);
  });
});
