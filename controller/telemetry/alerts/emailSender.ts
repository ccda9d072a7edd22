import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import type { EmailChannelConfig } from '../../../config/schema';
import { readSecret } from '../../../config/secrets';
import type { AttemptOutcome } from './deliveryQueue';
import type { EmailMessage } from './notifyMessages';

/**
 * E-mail over SMTP with nodemailer: one connection per message (alerts are rare; nothing lingers
 * after stop). STARTTLS is required when asked for, so a server that does not offer it is an error, not
 * a message in clear. Credentials are read at start from the environment or a file.
 */
export class EmailSender {
  private transport: Transporter<SMTPTransport.SentMessageInfo> | undefined;

  constructor(
    readonly config: EmailChannelConfig,
    private readonly deps: { configDir: string; env?: NodeJS.ProcessEnv },
  ) {}

  /** Reads the credentials; a missing one fails the start with the field named. */
  start(): void {
    const { config } = this;
    const secret = (field: 'user' | 'password'): string | undefined => {
      const value = config[field];
      if (value === undefined || typeof value === 'string') return value;
      try {
        return readSecret(value, this.deps.configDir, this.deps.env);
      } catch (error) {
        throw new Error(`notifications.email.${field}: ${(error as Error).message}`, { cause: error });
      }
    };
    const user = secret('user');
    const pass = secret('password');
    this.transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.security === 'tls',
      requireTLS: config.security === 'starttls',
      ignoreTLS: config.security === 'none',
      auth: user !== undefined ? { user, pass } : undefined,
      connectionTimeout: config.timeout_ms,
      greetingTimeout: config.timeout_ms,
      socketTimeout: config.timeout_ms,
    });
  }

  /** One message: an SMTP 5xx answer is a refusal; a 4xx, a network error or a timeout is worth a retry. */
  async send(to: string, message: EmailMessage): Promise<AttemptOutcome> {
    if (!this.transport) return { ok: false, permanent: true, reason: 'e-mail channel not started' };
    try {
      const info = await this.transport.sendMail({
        from: this.config.from,
        to,
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
      if (info.rejected.length > 0)
        return { ok: false, permanent: true, reason: `rejected by the server: ${info.response}` };
      return { ok: true };
    } catch (error) {
      const { responseCode, message: reason } = error as Error & { responseCode?: number };
      return { ok: false, permanent: responseCode !== undefined && responseCode >= 500, reason };
    }
  }

  stop(): void {
    this.transport?.close();
    this.transport = undefined;
  }
}
