/**
 * The service's one catalogue of alert texts. Every alert carries a code and the parameters its text
 * needs (AlertView `code`, `params`); its `message` is the French text rendered here, for integrators,
 * logs, InfluxDB events and notifications. The console keeps the same codes in its own catalogue
 * (controller/http/console/strings.js, keys `alertText.<code>`, `alertFault.<code>`, `alertDuration.<unit>`)
 * and renders them in the reader's language; a test keeps the two catalogues in step.
 *
 * Parameters, rendered alike on both sides: a number in the language's locale ('?' when missing or not
 * finite); `unit` with its separating space, or nothing; a name ending in `Ms`, a duration; `faults`, a
 * list of fault codes, each translated; `devices`, entries joined by semicolons (their errors may hold
 * commas); any other list joined by commas.
 */

/** Null or absent: not known, shown '?' (a number that is not finite is stored as null in JSON). */
export type AlertParam = string | number | readonly string[] | null | undefined;
export type AlertParams = Readonly<Record<string, AlertParam>>;

export type AlertLanguage = 'fr' | 'en';

const FR = {
  'threshold-above': '{name} ({place}) : {value}{unit}, au-dessus du seuil de {threshold}{unit}',
  'threshold-below': '{name} ({place}) : {value}{unit}, en dessous du seuil de {threshold}{unit}',
  'rate-rise':
    'Montée rapide de {name} ({place}) : {rate}{unit} sur {overMin} min, au-delà de {perHour}{unit}',
  'rate-fall':
    'Baisse rapide de {name} ({place}) : {rate}{unit} sur {overMin} min, au-delà de {perHour}{unit}',
  'night-flow': 'Débit nocturne de {value}{unit} à {place} ({name}) entre {from} et {to} : fuite probable',
  'outside-hours-on': "{name} : allumé hors des heures d'ouverture de {place}",
  'outside-hours-value': "{name} : {value}{unit} hors des heures d'ouverture de {place}",
  stale: '{name} ({place}) : aucune valeur valide depuis {sinceMs}',
  'stale-refused':
    "{name} ({place}) : aucune valeur valide depuis {sinceMs} (refusé par l'équipement : {refused})",
  'lamp-by-day': '{count} luminaire(s) allumé(s) en plein jour dans {zone} ({examples})',
  'level-mismatch':
    '{count} luminaire(s) de {zone} : niveaux commandé, appliqué et mesuré en désaccord depuis plus de {forMs} ({examples})',
  'lamp-failure': 'Luminaire {luminaire} ({zone}) : {faults}',
  'lamp-cycling':
    'Luminaire {luminaire} ({zone}) : {count} allumages ou extinctions en {windowMs} sans changement de commande',
  'relight-unconfirmed':
    "Rallumage d'urgence '{id}' ({target}) : des luminaires n'ont pas confirmé le niveau commandé",
  'relight-unconfirmed-count':
    "Rallumage d'urgence '{id}' ({target}) : {count} luminaire(s) non confirmé(s) par les équipements ({devices})",
  'override-unconfirmed': "Forçage '{id}' ({target}) : des luminaires n'ont pas confirmé le niveau commandé",
  'override-unconfirmed-count':
    "Forçage '{id}' ({target}) : {count} luminaire(s) non confirmé(s) par les équipements ({devices})",
  'device-unreachable': 'Équipement injoignable depuis {forMs} : {name} ({device})',
  'influx-down': 'InfluxDB injoignable depuis {forMs} : les mesures attendent dans le spool',
  'spool-full': '{count} mesures perdues : spool plein (augmenter influx.spool_max_mb ou rétablir InfluxDB)',
  quarantined: '{count} mesures refusées par InfluxDB, gardées dans quarantine.lp',
  /** A rule's own `message` template, filled in: shown as the commune wrote it, in any language. */
  'rule-message': '{text}',
} as const;

export type AlertCode = keyof typeof FR;

export interface AlertText {
  code: AlertCode;
  params: AlertParams;
}

export const ALERT_TEXTS: Readonly<Record<AlertLanguage, Readonly<Record<AlertCode, string>>>> = {
  fr: FR,
  en: {
    'threshold-above': '{name} ({place}): {value}{unit}, above the threshold of {threshold}{unit}',
    'threshold-below': '{name} ({place}): {value}{unit}, below the threshold of {threshold}{unit}',
    'rate-rise': '{name} ({place}) rising fast: {rate}{unit} over {overMin} min, beyond {perHour}{unit}',
    'rate-fall': '{name} ({place}) falling fast: {rate}{unit} over {overMin} min, beyond {perHour}{unit}',
    'night-flow': 'Night flow of {value}{unit} at {place} ({name}) between {from} and {to}: probable leak',
    'outside-hours-on': '{name}: on outside the opening hours of {place}',
    'outside-hours-value': '{name}: {value}{unit} outside the opening hours of {place}',
    stale: '{name} ({place}): no valid value for {sinceMs}',
    'stale-refused': '{name} ({place}): no valid value for {sinceMs} (refused by the device: {refused})',
    'lamp-by-day': '{count} luminaire(s) burning in daylight in {zone} ({examples})',
    'level-mismatch':
      '{count} luminaire(s) of {zone}: commanded, applied and measured levels disagree for more than {forMs} ({examples})',
    'lamp-failure': 'Luminaire {luminaire} ({zone}): {faults}',
    'lamp-cycling':
      'Luminaire {luminaire} ({zone}): switched on or off {count} times in {windowMs} with no change of command',
    'relight-unconfirmed':
      "Emergency relight '{id}' ({target}): luminaires did not confirm the commanded level",
    'relight-unconfirmed-count':
      "Emergency relight '{id}' ({target}): {count} luminaire(s) not confirmed by the devices ({devices})",
    'override-unconfirmed': "Override '{id}' ({target}): luminaires did not confirm the commanded level",
    'override-unconfirmed-count':
      "Override '{id}' ({target}): {count} luminaire(s) not confirmed by the devices ({devices})",
    'device-unreachable': 'Device unreachable for {forMs}: {name} ({device})',
    'influx-down': 'InfluxDB unreachable for {forMs}: readings wait in the spool',
    'spool-full': '{count} readings lost: spool full (raise influx.spool_max_mb or bring InfluxDB back)',
    quarantined: '{count} readings refused by InfluxDB, kept in quarantine.lp',
    'rule-message': '{text}',
  },
};

/** Luminaire faults (LuminaireFaultChanged kinds), as the lamp-failure text lists them. */
export const FAULT_TEXTS: Readonly<Record<AlertLanguage, Readonly<Record<string, string>>>> = {
  fr: {
    'lamp-failure': 'lampe en panne',
    'driver-failure': 'driver en panne',
    'relay-failure': 'relais en panne',
    'communication-failure': 'ballast muet (pas de réponse sur la ligne DALI)',
    'power-mismatch':
      'puissance mesurée sans rapport avec le niveau (courbe du profil ou puissance nominale à vérifier)',
    'no-power': 'commandé allumé, aucune puissance mesurée',
    unknown: 'panne',
  },
  en: {
    'lamp-failure': 'lamp failed',
    'driver-failure': 'driver failed',
    'relay-failure': 'relay failed',
    'communication-failure': 'ballast silent (no answer on the DALI line)',
    'power-mismatch': 'measured power unrelated to the level (check the profile curve or the rated power)',
    'no-power': 'commanded on, no power measured',
    unknown: 'failure',
  },
};

/** How a rule's `message` template names a command in `{name}`, in French like the template's numbers. */
export const COMMAND_NAMES = {
  relight: "Rallumage d'urgence",
  override: 'Forçage',
  other: 'Commande',
} as const;

/** Units of durations: `{n}` is the rounded number. */
export const DURATION_TEXTS: Readonly<Record<AlertLanguage, Readonly<Record<DurationUnit, string>>>> = {
  fr: { s: '{n} s', min: '{n} min', h: '{n} h', days: '{n} jours' },
  en: { s: '{n} s', min: '{n} min', h: '{n} h', days: '{n} days' },
};

type DurationUnit = 's' | 'min' | 'h' | 'days';

const LOCALES: Readonly<Record<AlertLanguage, string>> = { fr: 'fr-FR', en: 'en-GB' };
const NUMBER_FORMATS = {
  fr: new Intl.NumberFormat(LOCALES.fr, { maximumFractionDigits: 3 }),
  en: new Intl.NumberFormat(LOCALES.en, { maximumFractionDigits: 3 }),
};

/** The alert's text in one language, French by default; an unknown code shows as itself. */
export function renderAlertText(text: AlertText, language: AlertLanguage = 'fr'): string {
  const template = (ALERT_TEXTS[language] as Record<string, string | undefined>)[text.code] ?? text.code;
  return template.replace(/\{(\w+)\}/g, (_, name: string) => renderParam(name, text.params[name], language));
}

export function formatAlertNumber(value: unknown, language: AlertLanguage = 'fr'): string {
  return typeof value === 'number' && Number.isFinite(value) ? NUMBER_FORMATS[language].format(value) : '?';
}

export function formatAlertDuration(ms: unknown, language: AlertLanguage = 'fr'): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '?';
  const minutes = Math.round(ms / 60_000);
  const hours = Math.round(minutes / 60);
  const [unit, n]: [DurationUnit, number] =
    minutes < 1
      ? ['s', Math.max(1, Math.round(ms / 1000))]
      : minutes < 120
        ? ['min', minutes]
        : hours < 48
          ? ['h', hours]
          : ['days', Math.round(hours / 24)];
  return DURATION_TEXTS[language][unit].replace('{n}', formatAlertNumber(n, language));
}

function renderParam(name: string, value: AlertParam | undefined, language: AlertLanguage): string {
  if (name === 'unit') return typeof value === 'string' && value !== '' ? ` ${value}` : '';
  if (name.endsWith('Ms')) return formatAlertDuration(value, language);
  if (Array.isArray(value)) {
    const list = value as readonly string[];
    if (name === 'faults') return list.map((code) => FAULT_TEXTS[language][code] ?? code).join(', ');
    return list.join(name === 'devices' ? ' ; ' : ', ');
  }
  if (typeof value === 'string') return value;
  return formatAlertNumber(value, language);
}
