import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ALERT_TEXTS,
  DURATION_TEXTS,
  FAULT_TEXTS,
  renderAlertText,
  type AlertLanguage,
} from '../../../controller/telemetry/alerts/texts';

const ROOT = path.join(__dirname, '..', '..', '..');
const LANGUAGES: AlertLanguage[] = ['fr', 'en'];

/**
 * The console's catalogue, run as the browser runs it: an ES module (given on stdin, the package being
 * CommonJS for Node).
 */
function consoleStrings(): Record<AlertLanguage, Record<string, string>> {
  const source = readFileSync(path.join(ROOT, 'controller', 'http', 'console', 'strings.js'), 'utf8');
  const out = execFileSync(process.execPath, ['--input-type=module'], {
    input: `${source}\nprocess.stdout.write(JSON.stringify(STRINGS));\n`,
    encoding: 'utf8',
  });
  return JSON.parse(out) as Record<AlertLanguage, Record<string, string>>;
}

const placeholders = (text: string): string[] =>
  [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort((a, b) => a.localeCompare(b));

/** Every code the rules and the engine give: the quoted strings of their `code:` expressions. */
function codesInRules(): Set<string> {
  const codes = new Set<string>();
  for (const file of ['pointRules.ts', 'lightingRules.ts', 'serviceRules.ts', 'engine.ts']) {
    const source = readFileSync(path.join(ROOT, 'controller', 'telemetry', 'alerts', file), 'utf8');
    for (const [, expression] of source.matchAll(/\bcode: ([^,}\n]+)/g))
      // The outcomes of the expression, not what a condition compares with ('rise' ? …).
      for (const [, code] of expression.matchAll(/'([\w-]+)'(?!\s*\?)/g)) codes.add(code);
  }
  return codes;
}

describe('alert texts', () => {
  const strings = consoleStrings();
  const server = {
    alertText: ALERT_TEXTS,
    alertFault: FAULT_TEXTS,
    alertDuration: DURATION_TEXTS,
  } as const;

  it('has every code in French and English, in the service’s catalogue and in the console’s, with the same parameters', () => {
    for (const [prefix, catalogue] of Object.entries(server)) {
      const codes = Object.keys(catalogue.fr);
      expect(codes.length).toBeGreaterThan(3);
      for (const language of LANGUAGES) {
        const own = catalogue[language] as Record<string, string>;
        expect(Object.keys(own).sort()).toEqual([...codes].sort());
        const shown = Object.keys(strings[language])
          .filter((key) => key.startsWith(`${prefix}.`))
          .map((key) => key.slice(prefix.length + 1));
        expect(shown.sort()).toEqual([...codes].sort());
        for (const code of codes) {
          const wanted = placeholders((catalogue.fr as Record<string, string>)[code]);
          expect([code, placeholders(own[code])]).toEqual([code, wanted]);
          expect([code, placeholders(strings[language][`${prefix}.${code}`])]).toEqual([code, wanted]);
        }
      }
    }
  });

  it('knows every code a rule gives, and gives every code it knows', () => {
    const given = codesInRules();
    expect([...given].filter((code) => !(code in ALERT_TEXTS.fr))).toEqual([]);
    expect(Object.keys(ALERT_TEXTS.fr).filter((code) => !given.has(code))).toEqual([]);
  });

  it('renders numbers, units, durations, fault lists and device lists in each language', () => {
    const threshold = {
      code: 'threshold-above',
      params: { name: 'Débit', place: 'École', value: 1234.5, unit: 'm³/h', threshold: 3.5 },
    } as const;
    expect(renderAlertText(threshold)).toBe(
      'Débit (École) : 1\u202f234,5 m³/h, au-dessus du seuil de 3,5 m³/h',
    );
    expect(renderAlertText(threshold, 'en')).toBe(
      'Débit (École): 1,234.5 m³/h, above the threshold of 3.5 m³/h',
    );
    // No unit, and a value not known (NaN is stored as null in JSON).
    expect(
      renderAlertText({ code: 'threshold-below', params: { ...threshold.params, unit: '', value: null } }),
    ).toBe('Débit (École) : ?, en dessous du seuil de 3,5');
    const stale = {
      code: 'stale',
      params: { name: 'Porte', place: 'Armoire', sinceMs: 3 * 86_400_000 },
    } as const;
    expect(renderAlertText(stale)).toBe('Porte (Armoire) : aucune valeur valide depuis 3 jours');
    expect(renderAlertText(stale, 'en')).toBe('Porte (Armoire): no valid value for 3 days');
    expect(renderAlertText({ code: 'influx-down', params: { forMs: 25_000 } }, 'en')).toBe(
      'InfluxDB unreachable for 25 s: readings wait in the spool',
    );
    const failure = {
      code: 'lamp-failure',
      params: { luminaire: 'rue-002', zone: 'Rue Serpenoise', faults: ['no-power', 'odd-fault'] },
    } as const;
    expect(renderAlertText(failure)).toBe(
      'Luminaire rue-002 (Rue Serpenoise) : commandé allumé, aucune puissance mesurée, odd-fault',
    );
    expect(renderAlertText(failure, 'en')).toBe(
      'Luminaire rue-002 (Rue Serpenoise): commanded on, no power measured, odd-fault',
    );
    expect(
      renderAlertText(
        {
          code: 'override-unconfirmed-count',
          params: {
            id: 'travaux',
            target: 'zone rue',
            count: 2,
            devices: ['sc : timeout', 'sc2 : refused, 3'],
          },
        },
        'en',
      ),
    ).toBe(
      "Override 'travaux' (zone rue): 2 luminaire(s) not confirmed by the devices (sc : timeout ; sc2 : refused, 3)",
    );
  });
});
