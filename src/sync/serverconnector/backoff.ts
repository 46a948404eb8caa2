// Per-address exponential backoff with jitter: a failing Polaris address is retried at growing
// intervals (capped), a healthy one immediately.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** A number in [0, 1); injectable for tests. */
  readonly random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 10_000, random: Math.random };

/**
 * backoffDelay is the wait after the `failures`-th consecutive failure (1-based): exponential, capped, with the upper
 * half jittered.
 */
export function backoffDelay(failures: number, opts: BackoffOptions): number {
  if (failures <= 0) return 0;
  const exp = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(exp / 2 + (exp / 2) * opts.random());
}

/** AddressBackoff tracks consecutive failures and the earliest next attempt of each address. */
export class AddressBackoff {
  private readonly failures = new Map<string, number>();
  private readonly notBefore = new Map<string, number>();
  constructor(private readonly opts: BackoffOptions) {}

  /** fail records a failure at `now` and returns the delay before the address may be tried again. */
  fail(address: string, now: number): number {
    const n = (this.failures.get(address) ?? 0) + 1;
    this.failures.set(address, n);
    const delay = backoffDelay(n, this.opts);
    this.notBefore.set(address, now + delay);
    return delay;
  }

  succeed(address: string): void {
    this.failures.delete(address);
    this.notBefore.delete(address);
  }

  /** readyAt is the earliest time the address may be tried. */
  readyAt(address: string): number {
    return this.notBefore.get(address) ?? 0;
  }
}
