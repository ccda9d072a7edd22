import type { Actor } from '../scope';
import type { EvaluationReport } from './report';
import type { UsageKind, UsageRecord } from './usage';

/** Usage counting as the API sees it (usageLog.ts). */
export interface UsageService {
  record(user: { role: string; communes: readonly string[] }, kind: UsageKind): void;
  records(scope: readonly string[], from?: string, to?: string): UsageRecord[];
}

/** The monthly evaluation report as the API and the console see it (gather.ts). */
export interface ReportService {
  /** The report of `month` ('YYYY-MM') for the actor's communes, or one of them. */
  monthly(month: string, actor: Actor, commune?: string): Promise<EvaluationReport>;
}

/** A request the report service refuses, coded as the API maps it (controller/http/errors.ts). */
export class ReportError extends Error {
  constructor(
    readonly code: 'invalid' | 'forbidden' | 'not-found' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'ReportError';
  }
}
