import type { z } from 'zod';
import { describeIssue } from '../../config/describeIssue';
import { formatPath } from '../../config/issues';
import { AlertError } from '../telemetry/services';
import { LightingError } from '../lighting/runtime/lightingService';

export type ErrorCode =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'rate-limited'
  | 'unavailable'
  | 'internal';

/** One problem with a request: `body.target.zone`, `query.from`… and what is allowed there. */
export interface ApiIssue {
  path: string;
  message: string;
}

/** Every error the API answers with has this body. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  issues?: ApiIssue[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly issues: readonly ApiIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return {
      error: this.code,
      message: this.message,
      ...(this.issues.length > 0 ? { issues: [...this.issues] } : {}),
    };
  }
}

const SERVICE_STATUS: Record<string, { status: number; code: ErrorCode }> = {
  invalid: { status: 400, code: 'invalid' },
  forbidden: { status: 403, code: 'forbidden' },
  'not-found': { status: 404, code: 'not-found' },
  conflict: { status: 409, code: 'conflict' },
  unavailable: { status: 503, code: 'unavailable' },
};

const STATUS_CODE: Record<number, ErrorCode> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'rate-limited',
  503: 'unavailable',
};

/** Where the request part sits in an issue path. */
export type RequestPart = 'body' | 'querystring' | 'params' | 'headers';
const PART_NAME: Record<RequestPart, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

/** Issues listed at most; the message still says how many there were. */
const MAX_ISSUES = 20;

/** Longest message or path of one issue: they echo what the client sent (a value, unknown keys). */
const MAX_ISSUE_CHARS = 300;

/**
 * A request that fails its schema: every problem (the first MAX_ISSUES), each with its path and the
 * allowed values. What echoes the input is cut short, so neither the answer nor the audit entry
 * that carries its message grows with the body.
 */
export function validationError(
  part: RequestPart,
  schema: z.core.$ZodType,
  data: unknown,
  issues: readonly z.core.$ZodIssue[],
): ApiError {
  const described = issues.slice(0, MAX_ISSUES).map((issue) => ({
    path: clip(
      formatPath([PART_NAME[part], ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))]),
    ),
    message: clip(describeIssue(issue, schema, data)),
  }));
  return new ApiError(400, 'invalid', summarize(described, issues.length), described);
}

function summarize(listed: readonly ApiIssue[], total: number): string {
  if (total === 1) return `${listed[0].path}: ${listed[0].message}`;
  return `${total} problems: ${listed.map((i) => i.path).join(', ')}${total > listed.length ? ', …' : ''}`;
}

function clip(text: string): string {
  return text.length <= MAX_ISSUE_CHARS ? text : `${text.slice(0, MAX_ISSUE_CHARS - 1)}…`;
}

/**
 * Any error a handler meets, as the API answers it: the services' coded errors keep their meaning
 * (forbidden → 403, not-found → 404, conflict → 409, unavailable → 503), fastify's own 4xx keep their
 * status, and anything else is a 500 whose details go to the log, not to the client.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof LightingError) {
    const mapped = SERVICE_STATUS[error.code];
    const issues = error.issues.map((i) => ({ path: formatPath(['body', ...i.path]), message: i.message }));
    return new ApiError(mapped.status, mapped.code, error.message, issues);
  }
  if (error instanceof AlertError || isCodedServiceError(error)) {
    const mapped = SERVICE_STATUS[error.code];
    return new ApiError(mapped.status, mapped.code, error.message);
  }
  if ((error as { code?: unknown } | null)?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new ApiError(
      415,
      'unsupported-media-type',
      "the body must be JSON, sent with 'Content-Type: application/json'",
    );
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(status, STATUS_CODE[status] ?? 'invalid', (error as Error).message);
  }
  return new ApiError(500, 'internal', 'internal error (logged on the server)');
}

/** The energy service throws plain errors carrying one of the service codes. */
function isCodedServiceError(error: unknown): error is Error & { code: keyof typeof SERVICE_STATUS } {
  return (
    error instanceof Error &&
    typeof (error as { code?: unknown }).code === 'string' &&
    /Error$/.test(error.name) &&
    error.name !== 'Error' &&
    Object.hasOwn(SERVICE_STATUS, (error as unknown as { code: string }).code)
  );
}
