import { z } from 'zod';
import { ApiError, toApiError, validationError } from '../../../controller/http/errors';
import { RelightBody } from '../../../controller/http/schemas';
import { AlertError } from '../../../controller/telemetry/services';
import { LightingError } from '../../../controller/lighting/runtime/lightingService';

describe('validationError', () => {
  it('names each field with its path in the request and what it allows', () => {
    const data = {
      target: { zone: 'Rue X' },
      level: 'full',
      reason: 'x',
      expiresAt: '2025-07-14 23:00',
      extra: 1,
    };
    const result = RelightBody.safeParse(data);
    expect(result.success).toBe(false);
    const error = validationError('body', RelightBody, data, result.error!.issues);
    expect(error.status).toBe(400);
    expect(error.body()).toEqual({
      error: 'invalid',
      message: '4 problems: body.target.zone, body.level, body.expiresAt, body',
      issues: [
        {
          path: 'body.target.zone',
          message:
            "must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit (is 'Rue X')",
        },
        { path: 'body.level', message: "expected number, got string (is 'full')" },
        {
          path: 'body.expiresAt',
          message:
            "must be an ISO 8601 time with its offset, e.g. '2025-07-14T23:30:00+02:00', or epoch milliseconds (is '2025-07-14 23:00')",
        },
        {
          path: 'body',
          message: "unknown field 'extra' (allowed: id, target, level, reason, expiresAt, expiresInMin)",
        },
      ],
    });
  });

  it('uses the part of the request in the path', () => {
    const schema = z.strictObject({ limit: z.coerce.number().max(10) });
    const result = schema.safeParse({ limit: '11' });
    expect(validationError('querystring', schema, { limit: '11' }, result.error!.issues).issues).toEqual([
      { path: 'query.limit', message: "must be at most 10 (is '11')" },
    ]);
  });

  it('cuts short what echoes the input, and lists the first 20 issues', () => {
    const long = { target: { zone: 'metz-a' }, reason: 'x'.repeat(100_000) };
    const tooLong = RelightBody.safeParse(long);
    const [issue] = validationError('body', RelightBody, long, tooLong.error!.issues).issues;
    expect(issue.message).toMatch(/^must have at most 500 characters \(is 'xxx/);
    expect(issue.message.length).toBeLessThanOrEqual(300);

    const many = { target: { luminaires: Array.from({ length: 5000 }, () => 'Not An Id') }, reason: 'x' };
    const manyIssues = RelightBody.safeParse(many);
    const error = validationError('body', RelightBody, many, manyIssues.error!.issues);
    expect(error.issues).toHaveLength(20);
    expect(error.message).toMatch(/^5000 problems: body\.target\.luminaires\[0\], .*\[19\], …$/);
    expect(JSON.stringify(error.body()).length).toBeLessThan(10_000);
  });
});

describe('toApiError', () => {
  it('maps the lighting service’s codes, with its issues under body', () => {
    const invalid = toApiError(
      new LightingError('invalid', 'bad program', [
        { path: ['steps', 1, 'level'], message: 'must be at most 100' },
      ]),
    );
    expect([invalid.status, invalid.body()]).toEqual([
      400,
      {
        error: 'invalid',
        message: 'bad program',
        issues: [{ path: 'body.steps[1].level', message: 'must be at most 100' }],
      },
    ]);
    expect(toApiError(new LightingError('forbidden', 'x')).status).toBe(403);
    expect(toApiError(new LightingError('not-found', 'x')).status).toBe(404);
    expect(toApiError(new LightingError('conflict', 'x')).status).toBe(409);
    expect(toApiError(new LightingError('unavailable', 'x')).status).toBe(503);
  });

  it('maps alert errors and other coded service errors, but not system errors that carry a code', () => {
    expect(toApiError(new AlertError('conflict', 'cleared')).body()).toEqual({
      error: 'conflict',
      message: 'cleared',
    });
    class EnergyError extends Error {
      constructor(readonly code: string) {
        super('no building');
        this.name = 'EnergyError';
      }
    }
    expect(toApiError(new EnergyError('not-found')).status).toBe(404);
    const enoent = Object.assign(new Error('ENOENT: /var/x'), { code: 'ENOENT' });
    expect(toApiError(enoent).body()).toEqual({
      error: 'internal',
      message: 'internal error (logged on the server)',
    });
    expect(toApiError(Object.assign(new Error('forbidden'), { code: 'forbidden' })).status).toBe(500);
  });

  it('keeps fastify’s own client errors and their status', () => {
    expect(
      toApiError(Object.assign(new Error('Request body is too large'), { statusCode: 413 })).body(),
    ).toEqual({
      error: 'payload-too-large',
      message: 'Request body is too large',
    });
    expect(toApiError(new ApiError(429, 'rate-limited', 'slow down')).status).toBe(429);
    expect(toApiError('a string').status).toBe(500);
  });
});
