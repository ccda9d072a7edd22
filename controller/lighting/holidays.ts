import { addDays, civilDate, epochDay, type CivilDate } from '../../core/localTime';

/**
 * French public holidays (Code du travail, L3133-1), and the two more that apply in Alsace-Moselle
 * (Bas-Rhin, Haut-Rhin, Moselle: Good Friday and 26 December, L3134-13).
 */
export type HolidaySet = 'fr' | 'fr-alsace-moselle';

export interface Holiday {
  date: CivilDate;
  name: string;
}

/** Easter Sunday of the Gregorian calendar (anonymous algorithm, Meeus/Jones/Butcher). */
export function easterSunday(year: number): CivilDate {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return civilDate(year, month, day);
}

/** The public holidays of `year`, in date order. */
export function publicHolidays(year: number, set: HolidaySet): Holiday[] {
  const easter = easterSunday(year);
  const holidays: Holiday[] = [
    { date: civilDate(year, 1, 1), name: "Jour de l'an" },
    { date: addDays(easter, 1), name: 'Lundi de Pâques' },
    { date: civilDate(year, 5, 1), name: 'Fête du Travail' },
    { date: civilDate(year, 5, 8), name: 'Victoire 1945' },
    { date: addDays(easter, 39), name: 'Ascension' },
    { date: addDays(easter, 50), name: 'Lundi de Pentecôte' },
    { date: civilDate(year, 7, 14), name: 'Fête nationale' },
    { date: civilDate(year, 8, 15), name: 'Assomption' },
    { date: civilDate(year, 11, 1), name: 'Toussaint' },
    { date: civilDate(year, 11, 11), name: 'Armistice 1918' },
    { date: civilDate(year, 12, 25), name: 'Noël' },
  ];
  if (set === 'fr-alsace-moselle') {
    holidays.push(
      { date: addDays(easter, -2), name: 'Vendredi saint' },
      { date: civilDate(year, 12, 26), name: 'Saint-Étienne' },
    );
  }
  return holidays.sort((x, y) => epochDay(x.date) - epochDay(y.date));
}

export function holidayOn(date: CivilDate, set: HolidaySet): Holiday | undefined {
  const day = epochDay(date);
  return publicHolidays(date.year, set).find((h) => epochDay(h.date) === day);
}
