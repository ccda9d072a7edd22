import { Writable } from 'node:stream';
import { createLogger } from '../../../core/logger';

it('writes no password, token, cookie or code given as a field, at the top or one level down', () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: 'info', format: 'json', destination });
  logger.info('sign-in', {
    user: 'police-metz',
    password: 'hunter2-hunter2',
    request: { authorization: 'Bearer tok-123', cookie: 'nocturne_session=abc', code: 'xyz' },
  });
  const entry = JSON.parse(lines.join('')) as Record<string, unknown>;
  expect(entry).toMatchObject({
    user: 'police-metz',
    password: '[redacted]',
    request: { authorization: '[redacted]', cookie: '[redacted]', code: '[redacted]' },
  });
});
