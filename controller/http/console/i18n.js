// The console's language: French first, English on request. Every text a page shows comes from the
// catalogue (strings.js) through t(); numbers, dates and units are formatted for the same locale.
import { STRINGS } from './strings.js';

const LANGUAGE_KEY = 'nocturne.language';
export const LANGUAGES = ['fr', 'en'];

/** The reader's choice if made, else the browser's first supported language, else French. */
function initialLanguage() {
  const chosen = localStorage.getItem(LANGUAGE_KEY);
  if (LANGUAGES.includes(chosen)) return chosen;
  for (const tag of navigator.languages || []) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(base)) return base;
  }
  return 'fr';
}

let language = initialLanguage();
document.documentElement.lang = language;

export function currentLanguage() {
  return language;
}

/** fr-FR or en-GB: the locale of numbers and dates (24-hour clock either way). */
export function currentLocale() {
  return language === 'fr' ? 'fr-FR' : 'en-GB';
}

/** Remembered on this device; the caller re-renders. */
export function setLanguage(next) {
  if (!LANGUAGES.includes(next)) return;
  language = next;
  localStorage.setItem(LANGUAGE_KEY, next);
  document.documentElement.lang = next;
}

/**
 * t('emergency.confirmed', { done: 3, total: 4 }) → « Confirmé par 3/4 luminaires ».
 * A key missing from the reader's language falls back to French, then shows the key itself, so a
 * forgotten string is visible rather than blank.
 */
export function t(key, vars) {
  const text = STRINGS[language][key] ?? STRINGS.fr[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}
