// The placed event of an order whose publish failed after the order was stored (NATS went
// away between the two writes) is published again in the background until it goes through.
// Without it the order stays `placed` forever and the checker reports it stuck: the client
// got a 503 and may never retry. The event id is derived from the order id, so a publish that
// did reach JetStream, or the client's own retry with its Idempotency-Key, is deduplicated.
// The request (with the card number, which the order record does not keep) lives only in
// memory: a process that dies meanwhile leaves the order for the client's retry.

export interface PlacedRetryOptions {
  /** First delay; doubled after each failure up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Orders kept at most; past it the oldest is given up (and logged). */
  maxPending?: number;
  onGiveUp?: (orderId: string) => void;
  onPublished?: (orderId: string, attempts: number) => void;
}

export class PlacedRetry {
  readonly #pending = new Map<string, { publish: () => Promise<void>; attempts: number; timer: NodeJS.Timeout }>();
  readonly #initial: number;
  readonly #max: number;
  readonly #maxPending: number;
  readonly #opts: PlacedRetryOptions;
  #stopped = false;

  constructor(opts: PlacedRetryOptions = {}) {
    this.#initial = opts.initialDelayMs ?? 500;
    this.#max = opts.maxDelayMs ?? 30_000;
    this.#maxPending = opts.maxPending ?? 10_000;
    this.#opts = opts;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Keeps publishing `publish` for `orderId` until it resolves (once per order id). */
  add(orderId: string, publish: () => Promise<void>): void {
    if (this.#stopped || this.#pending.has(orderId)) return;
    if (this.#pending.size >= this.#maxPending) {
      const [oldest] = this.#pending.keys();
      if (oldest !== undefined) this.#drop(oldest, true);
    }
    this.#schedule(orderId, publish, 0, this.#initial);
  }

  #schedule(orderId: string, publish: () => Promise<void>, attempts: number, delayMs: number): void {
    const timer = setTimeout(() => {
      publish().then(
        () => {
          this.#pending.delete(orderId);
          this.#opts.onPublished?.(orderId, attempts + 1);
        },
        () => {
          if (this.#stopped || !this.#pending.has(orderId)) return;
          this.#schedule(orderId, publish, attempts + 1, Math.min(delayMs * 2, this.#max));
        },
      );
    }, delayMs);
    timer.unref?.();
    this.#pending.set(orderId, { publish, attempts, timer });
  }

  #drop(orderId: string, gaveUp: boolean): void {
    const p = this.#pending.get(orderId);
    if (!p) return;
    clearTimeout(p.timer);
    this.#pending.delete(orderId);
    if (gaveUp) this.#opts.onGiveUp?.(orderId);
  }

  stop(): void {
    this.#stopped = true;
    for (const id of [...this.#pending.keys()]) this.#drop(id, false);
  }
}
