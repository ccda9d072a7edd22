import { BOM, csvField, csvLine } from '../exports/csv';
import type { AreaReport, EnergyLine, EvaluationReport } from './report';

/**
 * The report as rows of (area, section, figure, value, unit), in French, and those rows as CSV for a
 * French spreadsheet (`;`, decimal comma, UTF-8 with BOM, CRLF) or as the text table of
 * `nocturne report`. Pure.
 */

export interface ReportRow {
  area: string;
  section: string;
  figure: string;
  /** Undefined: not computed (no tariff, no baseline, nothing to count); the notes say why. */
  value: number | undefined;
  unit: string;
}

const USE: Record<EnergyLine['use'], string> = { lighting: 'Éclairage', buildings: 'Bâtiments' };
const BASELINE: Record<string, string> = {
  'full-night': 'pleine puissance toute la nuit',
  'last-year': 'même mois l’an dernier',
  mixed: 'choix de chaque commune',
};
const QUANTITY: Record<string, string> = {
  electricity: 'électricité',
  water: 'eau',
  gas: 'gaz',
  heat: 'chaleur',
};

export function reportRows(report: EvaluationReport): ReportRow[] {
  return [...report.communes, report.territory].flatMap(areaRows);
}

function areaRows(area: AreaReport): ReportRow[] {
  const rows: ReportRow[] = [];
  const label = areaLabel(area);
  const add = (section: string, figure: string, value: number | undefined, unit: string): void => {
    rows.push({ area: label, section, figure, value, unit });
  };
  for (const line of area.energy) {
    const section = `Énergie — ${USE[line.use]}, ${QUANTITY[line.quantity] ?? line.quantity}`;
    add(section, 'Consommation', line.amount, line.unit);
    add(section, 'Coût', line.eur, '€');
    add(section, 'Émissions', line.kgCo2e, 'kg CO2e');
    if (line.baseline) {
      add(section, `Référence (${BASELINE[line.baseline.kind]})`, line.baseline.amount, line.unit);
      add(section, 'Économie', line.saved?.amount, line.unit);
      add(section, 'Économie', line.saved?.pct, '%');
      add(section, 'Économie', line.saved?.eur, '€');
      add(section, 'Émissions évitées', line.saved?.kgCo2e, 'kg CO2e');
    }
  }
  const investment = area.investment;
  add('Investissement', 'Investissements en service', investment.capexEur, '€');
  add('Investissement', 'Coûts annuels', investment.yearlyCostEur, '€/an');
  add('Investissement', 'Économies du mois', investment.monthSavingsEur, '€');
  add('Investissement', 'Économies nettes sur un an (extrapolées)', investment.yearlyNetSavingsEur, '€/an');
  add('Investissement', 'Temps de retour simple', investment.paybackYears, 'ans');
  const availability = area.availability;
  add('Disponibilité', 'Luminaires confirmés', availability.luminairesConfirmed.pct, '%');
  add('Disponibilité', 'Luminaires confirmés', availability.luminairesConfirmed.count, 'luminaires');
  add('Disponibilité', 'Luminaires', availability.luminairesConfirmed.of, 'luminaires');
  add('Disponibilité', 'Disponibilité des équipements', availability.deviceUptime.pct, '%');
  add('Disponibilité', 'Complétude des données', availability.dataCompleteness.pct, '%');
  add('Alertes', 'Levées', area.alerts.raised, 'alertes');
  add('Alertes', 'Acquittées', area.alerts.acknowledged, 'alertes');
  add('Alertes', 'Closes', area.alerts.cleared, 'alertes');
  add('Alertes', 'Délai d’acquittement médian', area.alerts.ackMedianMin, 'min');
  add('Alertes', 'Délai d’acquittement, 90 %', area.alerts.ackP90Min, 'min');
  add('Usage', 'Connexions', area.usage.signIns, 'connexions');
  add('Usage', 'Pages vues', area.usage.pageViews, 'pages');
  add('Usage', 'Actions (API et console)', area.usage.actions, 'requêtes');
  return rows;
}

function areaLabel(area: AreaReport): string {
  return area.commune === '*' ? 'Territoire' : `${area.name} (${area.commune})`;
}

/** 1234.5 → '1234,5'; at most `digits` decimals; '' for a figure not computed. */
export function frenchNumber(value: number | undefined, digits = 2): string {
  if (value === undefined || !Number.isFinite(value)) return '';
  const rounded = Number(value.toFixed(digits));
  return String(Object.is(rounded, -0) ? 0 : rounded).replace('.', ',');
}

export function reportCsv(report: EvaluationReport): string {
  const lines = [['Mois', 'Zone', 'Rubrique', 'Indicateur', 'Valeur', 'Unité']];
  for (const row of reportRows(report))
    lines.push([report.month, row.area, row.section, row.figure, frenchNumber(row.value), row.unit]);
  for (const area of [...report.communes, report.territory])
    for (const note of area.notes) lines.push([report.month, areaLabel(area), 'Remarque', note, '', '']);
  return BOM + lines.map((cells) => csvLine(cells.map(csvField))).join('');
}

/** The text table of `nocturne report`: one block per commune and one for the territory. */
export function reportText(report: EvaluationReport): string {
  const out = [
    `Rapport d’évaluation — ${report.month} (du ${report.from} au ${report.to}, ${report.days} jours)`,
  ];
  const rows = reportRows(report);
  const figureWidth = Math.max(...rows.map((r) => r.figure.length));
  const valueWidth = Math.max(...rows.map((r) => frenchNumber(r.value).length), 1);
  let area = '';
  let section = '';
  for (const row of rows) {
    if (row.area !== area) {
      area = row.area;
      section = '';
      out.push('', `== ${area} ==`);
    }
    if (row.section !== section) {
      section = row.section;
      out.push(`  ${section}`);
    }
    const value = row.value === undefined ? '—' : frenchNumber(row.value);
    out.push(`    ${row.figure.padEnd(figureWidth)}  ${value.padStart(valueWidth)}  ${row.unit}`);
  }
  const notes = [...report.communes, report.territory].flatMap((a) =>
    a.notes.map((n) => `  ${a.name} : ${n}`),
  );
  if (notes.length > 0) out.push('', 'Remarques', ...notes);
  if (report.tariffs.length > 0)
    out.push(
      '',
      'Tarifs appliqués',
      ...report.tariffs.map(
        (t) =>
          `  ${t.quantity} ${frenchNumber(t.eurPerUnit, 4)} €/${t.unit} à partir du ${t.from}${t.commune ? ` (${t.commune})` : ''}`,
      ),
    );
  if (report.emissionFactors.length > 0)
    out.push(
      '',
      'Facteurs d’émission appliqués',
      ...report.emissionFactors.map(
        (f) =>
          `  ${f.quantity} ${frenchNumber(f.kgCo2ePerUnit, 4)} kg CO2e/${f.unit} à partir du ${f.from} (${f.source})`,
      ),
    );
  return `${out.join('\n')}\n`;
}
