import { X509Certificate, createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { OPCUACertificateManager, StatusCodes, type StatusCode } from 'node-opcua';
import type { Logger } from '../../core/logger';

type StatusCodeCallback = (err: Error | null, statusCode?: StatusCode) => void;

/**
 * The client's PKI on disk (node-opcua's OPCUACertificateManager): own/ holds the client certificate,
 * trusted/ and rejected/ the server certificates. It adds one policy to the library's: trust on first
 * use. The certificate of a server met for the first time (no trusted certificate carries its
 * application URI) is stored in trusted/ with a warning naming its thumbprint. Afterwards the server is
 * pinned: another certificate with the same application URI is refused, and so is one in rejected/.
 * node-opcua's own `automaticallyAcceptUnknownCertificate` is not used: it accepts any of those.
 *
 * One instance per OPC UA client: node-opcua disposes it when the client disconnects.
 */
export class ClientPki extends OPCUACertificateManager {
  private disposal?: Promise<void>;

  constructor(
    rootFolder: string,
    private readonly trustOnFirstUse: boolean,
    private readonly logger: Logger,
  ) {
    // Folders are rescanned by each new instance; watchers would only add handles to close.
    super({ rootFolder, automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true });
  }

  override checkCertificate(chain: Buffer | Buffer[]): Promise<StatusCode>;
  override checkCertificate(chain: Buffer | Buffer[], callback: StatusCodeCallback): void;
  override checkCertificate(
    chain: Buffer | Buffer[],
    callback?: StatusCodeCallback,
  ): Promise<StatusCode> | undefined {
    const checked = this.checkServerCertificate(chain);
    if (!callback) return checked;
    checked.then(
      (status) => callback(null, status),
      (error: Error) => callback(error),
    );
    return undefined;
  }

  /** Idempotent, whatever node-opcua's reference count says: each client has its own instance. */
  override dispose(): Promise<void> {
    this.referenceCounter = 0;
    this.disposal ??= super.dispose();
    return this.disposal;
  }

  private async checkServerCertificate(chain: Buffer | Buffer[]): Promise<StatusCode> {
    const leaf = leafCertificate(Array.isArray(chain) ? chain[0] : chain);
    const thumbprint = sha1(leaf);
    let explained = false;
    if (this.trustOnFirstUse) {
      const trusted = await certificatesIn(this.trustedFolder);
      const rejected = await certificatesIn(this.rejectedFolder);
      if (![...trusted, ...rejected].some((c) => c.thumbprint === thumbprint)) {
        const applicationUri = applicationUriOf(leaf);
        const pinned = applicationUri && trusted.find((c) => c.applicationUri === applicationUri);
        if (pinned) {
          explained = true;
          this.logger.error(
            `server ${applicationUri} presents certificate ${thumbprint} instead of the trusted ` +
              `${pinned.thumbprint}: refused; if the server was reinstalled, move the new certificate ` +
              `from ${this.rejectedFolder} to ${this.trustedFolder} and delete ${pinned.file}`,
            { thumbprint },
          );
        } else {
          await this.trustCertificate(leaf);
          this.logger.warn(
            `trusting the certificate ${thumbprint} of server ${applicationUri ?? '(no application URI)'} ` +
              `on first use; it is now in ${this.trustedFolder} (move it to ${this.rejectedFolder} to refuse it)`,
            { thumbprint },
          );
        }
      }
    }
    const status = await super.checkCertificate(chain);
    if (status.value !== StatusCodes.Good.value && !explained) {
      this.logger.error(
        `server certificate ${thumbprint} refused (${status.name}); ` +
          `to accept it, move it from ${this.rejectedFolder} to ${this.trustedFolder}`,
        { thumbprint },
      );
    }
    return status;
  }
}

/** SHA-1 of the DER certificate, in hex: the thumbprint OPC UA tools show. */
export function sha1(der: Buffer): string {
  return createHash('sha1').update(der).digest('hex');
}

/** Servers may send a chain as concatenated DER certificates: the first one is the server's own. */
export function leafCertificate(der: Buffer): Buffer {
  if (der.length < 2 || der[0] !== 0x30) return der;
  const first = der[1];
  if (first < 0x80) return der.subarray(0, 2 + first);
  const lengthBytes = first & 0x7f;
  let length = 0;
  for (let i = 0; i < lengthBytes; i++) length = length * 256 + der[2 + i];
  return der.subarray(0, Math.min(der.length, 2 + lengthBytes + length));
}

interface KnownCertificate {
  file: string;
  thumbprint: string;
  applicationUri?: string;
}

/** The application URI in a certificate's subjectAltName: what identifies an OPC UA server. */
export function applicationUriOf(der: Buffer): string | undefined {
  try {
    const altNames = new X509Certificate(der).subjectAltName ?? '';
    return altNames
      .split(', ')
      .find((name) => name.startsWith('URI:'))
      ?.slice('URI:'.length);
  } catch {
    return undefined;
  }
}

async function certificatesIn(folder: string): Promise<KnownCertificate[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const certificates: KnownCertificate[] = [];
  for (const name of names) {
    const file = path.join(folder, name);
    try {
      let der: Buffer | undefined;
      if (name.endsWith('.der')) der = leafCertificate(await readFile(file));
      if (name.endsWith('.pem')) {
        const base64 = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(
          await readFile(file, 'utf8'),
        )?.[1];
        if (base64) der = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
      }
      if (der) certificates.push({ file, thumbprint: sha1(der), applicationUri: applicationUriOf(der) });
    } catch {
      // an unreadable file names no certificate: the one checked stays unknown
    }
  }
  return certificates;
}
