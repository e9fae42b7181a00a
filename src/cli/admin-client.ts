import { readAdminTokenFile } from '../admin-token.js';
import type { CliConfig } from '../config.js';

/** A failure the CLI reports in one sentence and exits non-zero for. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** The server's error code, when the server refused the request. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

interface ErrorEnvelope {
  error?: { code?: string; message?: string; requestId?: string; details?: { field: string; message: string }[] };
}

const REQUEST_TIMEOUT_MS = 15_000;

/** Talks to the Admin API of a running server with the operator's token. */
export class AdminClient {
  private constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  static fromConfig(config: CliConfig): AdminClient {
    const token = config.adminToken ?? readAdminTokenFile(config.dataDir);
    if (token === undefined) {
      throw new CliError(
        `No admin token: set MARKTAG_ADMIN_TOKEN, or run this where the server keeps its data (MARKTAG_DATA_DIR, now ${config.dataDir}).`,
      );
    }
    return new AdminClient(config.serverUrl, token);
  }

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const { cause } = error as { cause?: { code?: string; message?: string } };
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new CliError(`Cannot reach the MarkTag server at ${this.baseUrl} (${reason}). Is it running? Set MARKTAG_URL to its address.`);
    }
    const text = await response.text();
    if (response.ok) return (text === '' ? undefined : JSON.parse(text)) as T;

    let envelope: ErrorEnvelope = {};
    try {
      envelope = JSON.parse(text) as ErrorEnvelope;
    } catch {
      // Not our server, or a proxy in the way: report the status alone.
    }
    const { code = `HTTP_${response.status}`, message = response.statusText, details = [] } = envelope.error ?? {};
    if (response.status === 401) {
      throw new CliError(
        `The server at ${this.baseUrl} refused the admin token (${code}: ${message}). Check MARKTAG_ADMIN_TOKEN or the admin-token file.`,
      );
    }
    const extra = details.filter((detail) => detail.message !== message).map((detail) => `\n  ${detail.field}: ${detail.message}`);
    throw new CliError(`${code}: ${message}${extra.join('')}`, 1, code);
  }
}
