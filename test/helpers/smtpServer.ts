import { SMTPServer } from 'smtp-server';
import { freePort } from './ports';

/** A message the loopback SMTP server received: envelope, decoded subject and plain-text part. */
export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  user?: string;
}

export interface LoopbackSmtp {
  port: number;
  mails: ReceivedMail[];
  /** Answers the next RCPT TO commands with these SMTP codes (e.g. 451 then 250). */
  rcptScript: number[];
  stop(): Promise<void>;
}

/**
 * An SMTP server on 127.0.0.1 (smtp-server), without TLS (loopback only), with optional plain login.
 * Keeps every message decoded enough to assert on (encoded-word subjects, quoted-printable or base64 parts).
 */
export async function startLoopbackSmtp(credentials?: { user: string; pass: string }): Promise<LoopbackSmtp> {
  const mails: ReceivedMail[] = [];
  const rcptScript: number[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !credentials,
    logger: false,
    onAuth(auth, _session, callback) {
      if (credentials && auth.username === credentials.user && auth.password === credentials.pass)
        callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onRcptTo(_address, _session, callback) {
      const code = rcptScript.shift() ?? 250;
      if (code < 400) return callback();
      callback(Object.assign(new Error(`refused with ${code}`), { responseCode: code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: decodeWords(header(raw, 'subject')),
          text: part(raw, 'text/plain'),
          html: part(raw, 'text/html'),
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
        });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    mails,
    rcptScript,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function header(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name}:`));
  return line ? line.slice(name.length + 1).trim() : '';
}

/** RFC 2047 encoded words (B and Q), adjacent ones joined. */
function decodeWords(text: string): string {
  return text
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, encoding: string, data: string) =>
      encoding.toLowerCase() === 'b'
        ? Buffer.from(data, 'base64').toString('utf8')
        : decodeQp(data.replace(/_/g, ' ')),
    );
}

function decodeQp(text: string): string {
  const bytes: number[] = [];
  const source = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '=' && /^[0-9A-F]{2}$/i.test(source.slice(i + 1, i + 3))) {
      bytes.push(parseInt(source.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(source[i], 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The body of the first part of this content type, decoded. */
function part(raw: string, type: string): string {
  const at = raw.toLowerCase().indexOf(`content-type: ${type}`);
  if (at < 0) return '';
  const rest = raw.slice(at);
  const split = rest.search(/\r?\n\r?\n/);
  const headers = rest.slice(0, split).toLowerCase();
  const body = rest
    .slice(split)
    .replace(/^\r?\n\r?\n/, '')
    .split(/\r?\n--/)[0];
  if (headers.includes('content-transfer-encoding: base64'))
    return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (headers.includes('content-transfer-encoding: quoted-printable'))
    return decodeQp(body).replace(/\r\n/g, '\n');
  return body.replace(/\r\n/g, '\n');
}
