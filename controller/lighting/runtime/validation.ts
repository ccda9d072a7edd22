import { describeIssue } from '../../../config/describeIssue';
import type { CalendarConfig, ProgramConfig } from '../../../config/schema';
import { Calendar, Program } from '../../../config/schema/lighting';
import { checkProgram } from '../schedule';
import type { ValidationIssue } from './lightingService';

/**
 * Programs and calendars changed while running go through the same checks as the configuration file:
 * the zod schema (with the loader's messages: what is wrong and what is allowed), checkProgram, and the
 * references. Every problem is returned at once, with its path inside the submitted body.
 */

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

export interface ProgramContext {
  /** 'building/point' of every light sensor point of the configuration. */
  luxPoints: ReadonlySet<string>;
}

export function validateProgram(body: unknown, context: ProgramContext): Validated<ProgramConfig> {
  const parsed = Program.safeParse(body);
  if (!parsed.success) return { ok: false, issues: schemaIssues(parsed.error.issues, Program, body) };
  const program = parsed.data;
  const issues: ValidationIssue[] = checkProgram(program).map((p) => ({ path: p.path, message: p.message }));
  program.steps.forEach((step, j) => {
    if (step.lux && !context.luxPoints.has(step.lux.point))
      issues.push({
        path: ['steps', j, 'lux', 'point'],
        message: `unknown point '${step.lux.point}' (expected 'building/point' of a configured point)`,
      });
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: program };
}

export interface CalendarContext {
  programs: ReadonlySet<string>;
}

export function validateCalendar(body: unknown, context: CalendarContext): Validated<CalendarConfig> {
  const parsed = Calendar.safeParse(body);
  if (!parsed.success) return { ok: false, issues: schemaIssues(parsed.error.issues, Calendar, body) };
  const calendar = parsed.data;
  const issues: ValidationIssue[] = [];
  const known = (): string => {
    const ids = [...context.programs].sort();
    return ids.length > 0 ? ` (known: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', …' : ''})` : '';
  };
  if (!context.programs.has(calendar.default))
    issues.push({ path: ['default'], message: `unknown program '${calendar.default}'${known()}` });
  calendar.rules.forEach((rule, j) => {
    const path = ['rules', j];
    if (!context.programs.has(rule.program))
      issues.push({ path: [...path, 'program'], message: `unknown program '${rule.program}'${known()}` });
    const conditions = [rule.dates, rule.from, rule.to, rule.weekdays, rule.nth_weekday, rule.holidays];
    if (conditions.every((c) => c === undefined))
      issues.push({
        path,
        message: 'a rule needs at least one of dates, from/to, weekdays, nth_weekday, holidays',
      });
    if ((rule.from === undefined) !== (rule.to === undefined))
      issues.push({ path, message: 'from and to go together' });
    else if (rule.from !== undefined && rule.to !== undefined && rule.from.length !== rule.to.length)
      issues.push({
        path: [...path, 'to'],
        message: `from and to must both be 'MM-DD' or both 'YYYY-MM-DD' (from is '${rule.from}')`,
      });
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: calendar };
}

function schemaIssues(
  issues: Parameters<typeof describeIssue>[0][],
  root: Parameters<typeof describeIssue>[1],
  body: unknown,
): ValidationIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: describeIssue(issue, root, body),
  }));
}
