/**
 * Alert messages, for the people on call in the communes: French by default, or the rule's own
 * `message` template with {source}, {name}, {value}, {unit}, {rule}, {building}, {commune} filled in.
 */

export interface MessageFields {
  source: string;
  /** What it is about, as a person names it: the point's or device's name, else its id. */
  name: string;
  value?: number;
  unit?: string;
  rule: string;
  building?: string;
  commune: string;
}

const NUMBER = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 3 });

export function formatNumber(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '?' : NUMBER.format(value);
}

export function withUnit(value: number | undefined, unit: string | undefined): string {
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

/** The rule's template filled in; unknown placeholders are left as they are. */
export function fillTemplate(template: string, fields: MessageFields): string {
  return template.replace(/\{(source|name|value|unit|rule|building|commune)\}/g, (_, key: string) => {
    switch (key) {
      case 'value':
        return formatNumber(fields.value);
      case 'unit':
        return fields.unit ?? '';
      case 'building':
        return fields.building ?? '';
      default:
        return String(fields[key as 'source' | 'name' | 'rule' | 'commune']);
    }
  });
}

export function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} jours`;
}

/** How the event and the webhooks word a change of state. */
export function changeMessage(
  state: 'raised' | 'acknowledged' | 'cleared',
  message: string,
  by?: string,
): string {
  switch (state) {
    case 'raised':
      return message;
    case 'acknowledged':
      return `Pris en compte par ${by ?? '?'} : ${message}`;
    case 'cleared':
      return `Terminé : ${message}`;
  }
}
