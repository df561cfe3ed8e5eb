// Client-side rate limiting of requests to the Kubernetes API server, as client-go does it with
// flowcontrol.NewTokenBucketRateLimiter(qps, burst) (golang.org/x/time/rate underneath): the
// bucket starts full with `burst` tokens, is refilled at `qps` tokens per second up to `burst`,
// and each request takes one token, waiting when there is none. Waiting requests are served in
// the order they asked (a reservation each, like rate.Limiter.Wait): a late request cannot
// overtake one that waits, so a lease renewal queued behind a reconcile burst waits at most
// (requests ahead of it) / qps. The bucket only paces requests; it never refuses one.

export interface TokenBucketOptions {
  /** Tokens added per second (client-go's QPS). */
  qps: number;
  /** Bucket size: how many requests may go at once after a quiet period. */
  burst: number;
  /** Monotonic milliseconds; a test passes a fake clock. */
  now?: () => number;
}

interface Waiter {
  /** When this request's token will have been refilled (ms on `now`). */
  at: number;
  resolve: () => void;
}

export class TokenBucket {
  readonly qps: number;
  readonly burst: number;
  private readonly now: () => number;
  /** Tokens left at `last`; negative when that many are already promised to waiters. */
  private tokens: number;
  private last: number;
  private readonly waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: TokenBucketOptions) {
    if (!(opts.qps > 0) || !Number.isFinite(opts.qps)) throw new Error(`token bucket: qps must be a positive number, got ${opts.qps}`);
    if (!Number.isInteger(opts.burst) || opts.burst < 1) throw new Error(`token bucket: burst must be an integer ≥ 1, got ${opts.burst}`);
    this.qps = opts.qps;
    this.burst = opts.burst;
    this.now = opts.now ?? (() => performance.now());
    this.tokens = opts.burst;
    this.last = this.now();
  }

  /** Waits for a token; resolves with the seconds waited (0 when one was there). */
  async take(): Promise<number> {
    const started = this.now();
    const at = this.reserve(started);
    if (at <= started) return 0;
    await new Promise<void>((resolve) => {
      this.waiters.push({ at, resolve });
      this.schedule();
    });
    return (this.now() - started) / 1000;
  }

  /** Waiting requests (for tests and logs). */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Takes a token now (possibly one not refilled yet) and says when it is the caller's. */
  private reserve(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? now : now + (-this.tokens / this.qps) * 1000;
  }

  /** One timer, for the first waiter: releases, in order, every waiter whose time has come. */
  private schedule(): void {
    if (this.timer !== undefined) return;
    const first = this.waiters[0];
    if (!first) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = this.now();
        while (this.waiters.length > 0 && (this.waiters[0] as Waiter).at <= now) (this.waiters.shift() as Waiter).resolve();
        this.schedule();
      },
      Math.max(0, Math.ceil(first.at - this.now())),
    );
  }
}
