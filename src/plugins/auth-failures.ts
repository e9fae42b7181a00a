import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

export interface AuthFailureOptions {
  /** Failed authentications a window per client address before it is refused; 0 switches the bound off. */
  limit: number;
  windowMs?: number;
  /** How many addresses are tracked at most: the least recently failing ones are forgotten first. */
  maxAddresses?: number;
}

interface Window {
  failures: number;
  endsAt: number;
}

/**
 * Counts failed authentications per client address, in this process's memory only. Anyone can mint
 * well-formed tokens (the checksum is public), and each unknown one costs a database look-up and
 * gets a fresh per-token rate-limit bucket; past `limit` failures in a window, an address is
 * refused until the window ends. Addresses are keyed by a keyed hash with a per-process secret, so
 * not even this memory holds them in the clear; nothing of them is ever stored or logged.
 */
export class AuthFailureGuard {
  private readonly windows: LRUCache<string, Window>;
  private readonly secret = randomBytes(32);
  private readonly windowMs: number;

  constructor(private readonly options: AuthFailureOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    this.windows = new LRUCache({ max: options.maxAddresses ?? 50_000, ttl: this.windowMs });
  }

  /** Seconds the address must wait before it may fail again, or 0 when it is not refused. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    // Nobody has failed lately (the usual case): no keyed hash to compute, on every authenticated request.
    if (this.options.limit <= 0 || this.windows.size === 0) return 0;
    const window = this.windows.get(this.keyOf(address));
    if (!window || window.endsAt <= now || window.failures < this.options.limit) return 0;
    return Math.max(1, Math.ceil((window.endsAt - now) / 1000));
  }

  recordFailure(address: string, now = Date.now()): void {
    if (this.options.limit <= 0) return;
    const key = this.keyOf(address);
    const window = this.windows.get(key);
    if (window && window.endsAt > now) window.failures++;
    else this.windows.set(key, { failures: 1, endsAt: now + this.windowMs });
  }

  private keyOf(address: string): string {
    return createHmac('sha256', this.secret).update(address).digest('base64url');
  }
}
