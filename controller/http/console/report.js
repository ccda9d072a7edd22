// The monthly evaluation report (docs/evaluation.md): energy, € and CO2e against the baseline, payback,
// availability, alerts and usage, per commune and for the territory; printable to PDF from the
// browser (print rules in style.css) and downloadable as CSV for a French spreadsheet.
import { api, errorBox, h, replace, session } from './lib.js';
import { currentLocale, t } from './i18n.js';

/** The month before this one, as 'YYYY-MM': the last complete month. */
function lastMonth() {
  const now = new Date();
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

function number(value, digits = 2) {
  if (value === undefined || value === null) return t('report.notComputed');
  return value.toLocaleString(currentLocale(), { maximumFractionDigits: digits });
}

function row(label, value, unit) {
  return h('tr', {}, h('th', { scope: 'row' }, label), h('td', { class: 'num' }, value), h('td', {}, unit));
}

function table(caption, rows) {
  return h('table', { class: 'report-table' }, h('caption', {}, caption), h('tbody', {}, rows));
}

function energyTable(line) {
  const key = `report.quantity.${line.quantity}`;
  // A quantity without a label of its own (free text in the configuration) shows as it is.
  const quantity = t(key) === key ? line.quantity : t(key);
  const rows = [
    row(t('report.consumption'), number(line.amount), line.unit),
    row(t('report.cost'), number(line.eur), '€'),
    row(t('report.emissions'), number(line.kgCo2e), 'kg CO2e'),
  ];
  if (line.baseline)
    rows.push(
      row(t(`report.baseline.${line.baseline.kind}`), number(line.baseline.amount), line.unit),
      row(t('report.saved'), number(line.saved.amount), line.unit),
      row(t('report.saved'), number(line.saved.pct, 1), '%'),
      row(t('report.saved'), number(line.saved.eur), '€'),
      row(t('report.avoided'), number(line.saved.kgCo2e), 'kg CO2e'),
    );
  return table(t(`report.use.${line.use}`, { quantity }), rows);
}

function area(report) {
  const { investment, availability, alerts, usage } = report;
  return h(
    'section',
    { class: 'report-area' },
    h('h2', {}, report.commune === '*' ? t('report.territory') : `${report.name} (${report.commune})`),
    report.energy.length === 0
      ? h('p', { class: 'muted' }, t('report.noEnergy'))
      : report.energy.map(energyTable),
    table(t('report.investment'), [
      row(t('report.capex'), number(investment.capexEur, 0), '€'),
      row(t('report.yearlyCost'), number(investment.yearlyCostEur, 0), t('report.perYear')),
      row(t('report.monthSavings'), number(investment.monthSavingsEur), '€'),
      row(t('report.yearlyNet'), number(investment.yearlyNetSavingsEur, 0), t('report.perYear')),
      row(t('report.payback'), number(investment.paybackYears, 1), t('report.years')),
    ]),
    table(t('report.availability'), [
      row(
        t('report.luminairesConfirmed'),
        number(availability.luminairesConfirmed.pct, 1),
        `% (${availability.luminairesConfirmed.count}/${availability.luminairesConfirmed.of})`,
      ),
      row(t('report.deviceUptime'), number(availability.deviceUptime.pct, 2), '%'),
      row(t('report.completeness'), number(availability.dataCompleteness.pct, 1), '%'),
    ]),
    table(t('report.alerts'), [
      row(t('report.raised'), number(alerts.raised, 0), ''),
      row(t('report.acknowledged'), number(alerts.acknowledged, 0), ''),
      row(t('report.cleared'), number(alerts.cleared, 0), ''),
      row(t('report.ackMedian'), number(alerts.ackMedianMin, 0), 'min'),
      row(t('report.ackP90'), number(alerts.ackP90Min, 0), 'min'),
    ]),
    table(t('report.usage'), [
      row(t('report.signIns'), number(usage.signIns, 0), ''),
      row(t('report.pageViews'), number(usage.pageViews, 0), ''),
      row(t('report.actions'), number(usage.actions, 0), ''),
    ]),
    report.notes.length
      ? h(
          'ul',
          { class: 'muted' },
          report.notes.map((n) => h('li', {}, n)),
        )
      : null,
  );
}

/** The CSV as the API gives it (BOM and all), saved under its own name. */
async function downloadCsv(path, month) {
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${session.token}`, 'x-nocturne-client': 'console' },
    cache: 'no-store',
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const link = h('a', {
    href: URL.createObjectURL(await response.blob()),
    download: `evaluation-${month}.csv`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(link.href);
}

export function reportPage(main, { onUnauthorized }) {
  const month = h('input', { id: 'report-month', type: 'month', value: lastMonth(), required: true });
  const communes = session.me.communes.includes('*') ? [] : session.me.communes;
  const commune = h(
    'select',
    { id: 'report-commune' },
    h('option', { value: '' }, t('report.allCommunes')),
    communes.map((c) => h('option', { value: c }, c)),
  );
  const out = h('div', { 'aria-live': 'polite' });
  const status = h('div', { role: 'status' });
  const query = () =>
    `/api/reports/${encodeURIComponent(month.value)}${commune.value ? `?commune=${encodeURIComponent(commune.value)}` : ''}`;

  async function show() {
    replace(out, t('report.loading'));
    try {
      const report = await api('GET', query());
      replace(
        out,
        h('p', {}, t('report.period', { from: report.from, to: report.to, days: report.days })),
        report.communes.map(area),
        report.communes.length > 1 ? area(report.territory) : null,
        h(
          'p',
          { class: 'muted' },
          report.tariffs
            .map((x) =>
              t('report.tariff', {
                quantity: x.quantity,
                price: number(x.eurPerUnit, 4),
                unit: x.unit,
                from: x.from,
              }),
            )
            .join(' · '),
        ),
      );
    } catch (error) {
      if (error.status === 401) return onUnauthorized();
      replace(out, errorBox(error));
    }
  }

  main.append(
    h('h1', {}, t('report.title')),
    h(
      'form',
      {
        class: 'panel report-form',
        onsubmit: (event) => {
          event.preventDefault();
          show();
        },
      },
      h('label', { for: 'report-month' }, t('report.month')),
      month,
      communes.length > 1 ? [h('label', { for: 'report-commune' }, t('report.commune')), commune] : null,
      h('button', { class: 'primary', type: 'submit' }, t('report.show')),
      h(
        'button',
        {
          type: 'button',
          onclick: async () => {
            replace(status);
            try {
              const path = query();
              await downloadCsv(`${path}${path.includes('?') ? '&' : '?'}format=csv`, month.value);
            } catch (error) {
              replace(status, errorBox(error));
            }
          },
        },
        t('report.csv'),
      ),
      h('button', { type: 'button', onclick: () => window.print() }, t('report.print')),
      status,
    ),
    out,
  );
  show();
}
