import type { CalendarConfig, CalendarRuleConfig } from '../../config/schema';
import { holidayOn } from './holidays';
import { daysInMonth, formatCivilDate, monthDay, weekdayOf, type CivilDate } from '../../core/localTime';

/** Which program a calendar gives a night, and why. */
export interface CalendarChoice {
  program: string;
  /** Position of the rule that matched in `rules`; undefined when the default applied. */
  rule?: number;
  ruleName?: string;
}

/**
 * The program for the lighting night that starts at noon on `night` (so "Friday night" is the night
 * from Friday noon to Saturday noon). Rules are tried in order and the first whose conditions all hold
 * wins; when none does, the calendar's default applies.
 */
export function programFor(calendar: CalendarConfig, night: CivilDate): CalendarChoice {
  for (let i = 0; i < calendar.rules.length; i++) {
    const rule = calendar.rules[i];
    if (ruleMatches(rule, night)) return { program: rule.program, rule: i, ruleName: rule.name };
  }
  return { program: calendar.default };
}

/**
 * Whether every condition the rule states holds on `night`. A rule with no condition at all matches
 * every night (the configuration check reports it, since it hides all later rules).
 */
export function ruleMatches(rule: CalendarRuleConfig, night: CivilDate): boolean {
  const full = formatCivilDate(night);
  const md = monthDay(night);
  if (rule.dates && !rule.dates.some((d) => (d.length === 5 ? d === md : d === full))) return false;
  if ((rule.from !== undefined || rule.to !== undefined) && !inRange(rule.from, rule.to, full, md))
    return false;
  if (rule.weekdays && !rule.weekdays.includes(weekdayOf(night))) return false;
  if (rule.nth_weekday) {
    const { n, weekday, month } = rule.nth_weekday;
    if (weekdayOf(night) !== weekday) return false;
    if (month !== undefined && night.month !== month) return false;
    const matchesN =
      n === -1 ? night.day + 7 > daysInMonth(night.year, night.month) : Math.ceil(night.day / 7) === n;
    if (!matchesN) return false;
  }
  if (rule.holidays && !holidayOn(night, rule.holidays)) return false;
  return true;
}

/**
 * Inclusive date range. Two full dates compare as dates; otherwise the 'MM-DD' parts compare within the
 * year, and a range whose end comes before its start ('12-20' to '01-05') crosses the new year.
 * A lone bound is open on the other side.
 */
function inRange(from: string | undefined, to: string | undefined, full: string, md: string): boolean {
  if (from !== undefined && to !== undefined && from.length === 10 && to.length === 10) {
    return from <= full && full <= to;
  }
  if (from === undefined || to === undefined) {
    const bound = (from ?? to)!;
    const value = bound.length === 10 ? full : md;
    return from !== undefined ? value >= bound : value <= bound;
  }
  const start = from.slice(-5);
  const end = to.slice(-5);
  return start <= end ? start <= md && md <= end : md >= start || md <= end;
}
