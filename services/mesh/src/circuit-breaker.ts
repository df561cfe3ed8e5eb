// The circuit breaker of one subscription in one runtime process: when a handler's downstream
// is failing (a payment processor down), retrying every message and scaling out make things
// worse. Consecutive transient failures (not terminal ones: those are the message's fault; a
// success resets the count, so a partial failure rate stays the retries' business) are counted
// within a sliding window; at the threshold the circuit opens and the runner stops fetching. After
// the cool-down it is half-open: one message is fetched as a probe; success closes the circuit,
// failure opens it for another cool-down. Pure state (injectable clock), table-tested.

export interface CircuitSettings {
  /** Transient failures within `windowMs` that open the circuit. */
  failureThreshold: number;
  windowMs: number;
  /** How long an open circuit waits before probing with one message. */
  coolDownMs: number;
}

export type CircuitState = "closed" | "open" | "half_open";

export class CircuitBreaker {
  readonly settings: CircuitSettings;
  readonly #now: () => number;
  #state: CircuitState = "closed";
  #failures: number[] = [];
  #openedAt = 0;
  #reason = "";

  constructor(settings: CircuitSettings, now: () => number = Date.now) {
    this.settings = settings;
    this.#now = now;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** The last failure that opened (or re-opened) the circuit. */
  get reason(): string {
    return this.#reason;
  }

  /** Milliseconds since epoch when the circuit last opened. */
  get openedAt(): number {
    return this.#openedAt;
  }

  /** A transient failure. True when it opened the circuit (from closed or from the half-open probe). */
  failure(reason: string): boolean {
    const now = this.#now();
    if (this.#state === "open") return false;
    if (this.#state === "half_open") return this.#open(now, `probe failed: ${reason}`);
    const since = now - this.settings.windowMs;
    this.#failures = this.#failures.filter((t) => t > since);
    this.#failures.push(now);
    if (this.#failures.length < this.settings.failureThreshold) return false;
    return this.#open(now, `${this.#failures.length} consecutive transient failures within ${this.settings.windowMs / 1000}s, last: ${reason}`);
  }

  /** A message handled. True when it closed the circuit (the half-open probe succeeded). */
  success(): boolean {
    if (this.#state === "closed") {
      this.#failures = [];
      return false;
    }
    // A success while open is a message that was in flight when it opened: the downstream
    // answered, so the probe is not needed.
    this.#state = "closed";
    this.#failures = [];
    this.#reason = "";
    return true;
  }

  /** While open: milliseconds until a probe may go (0 once the cool-down has passed). */
  coolDownLeftMs(): number {
    if (this.#state !== "open") return 0;
    return Math.max(0, this.#openedAt + this.settings.coolDownMs - this.#now());
  }

  /** Open and cooled down → half-open: the caller fetches one message as the probe. */
  probe(): boolean {
    if (this.#state !== "open" || this.coolDownLeftMs() > 0) return false;
    this.#state = "half_open";
    return true;
  }

  #open(now: number, reason: string): boolean {
    this.#state = "open";
    this.#openedAt = now;
    this.#reason = reason;
    this.#failures = [];
    return true;
  }
}
