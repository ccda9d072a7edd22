// The console's one catalogue of strings, French first. Keys are grouped by page (`nav.`, `login.`,
// `emergency.`…); placeholders in braces are filled by t(key, vars).
export const STRINGS = {
  fr: {
    'nav.pages': 'Pages',
    'nav.language': 'Langue',
  },
  en: {
    'nav.pages': 'Pages',
    'nav.language': 'Language',
  },
};
