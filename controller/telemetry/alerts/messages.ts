import { formatAlertNumber } from './texts';

/**
 * A rule's own `message` template with {source}, {name}, {value}, {unit}, {rule}, {building}, {commune}
 * filled in, and how a change of state words a message. The default texts are in texts.ts.
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

export function withUnit(value: number | undefined, unit: string | undefined): string {
  return unit ? `${formatAlertNumber(value)} ${unit}` : formatAlertNumber(value);
}

/** The rule's template filled in; unknown placeholders are left as they are. */
export function fillTemplate(template: string, fields: MessageFields): string {
  return template.replace(/\{(source|name|value|unit|rule|building|commune)\}/g, (_, key: string) => {
    switch (key) {
      case 'value':
        return formatAlertNumber(fields.value);
      case 'unit':
        return fields.unit ?? '';
      case 'building':
        return fields.building ?? '';
      default:
        return String(fields[key as 'source' | 'name' | 'rule' | 'commune']);
    }
  });
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
