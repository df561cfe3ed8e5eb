// Error types that carry a decision: what the consumer runner does with the message.

/** Why a message went to the dead-letter subject (label values of jetmesh_dead_letters_total). */
export type DeadLetterReason = "max_deliver" | "terminal" | "invalid_event" | "schema" | "too_large" | "unknown_type";

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = ["max_deliver", "terminal", "invalid_event", "schema", "too_large", "unknown_type"];

/** A message that is not a valid CloudEvent for us; retrying cannot fix it. */
export class InvalidEventError extends Error {
  readonly reason: Exclude<DeadLetterReason, "max_deliver" | "terminal">;
  constructor(reason: Exclude<DeadLetterReason, "max_deliver" | "terminal">, message: string) {
    super(message);
    this.name = "InvalidEventError";
    this.reason = reason;
  }
}

/** A failure that may go away: the message is redelivered after a delay (nak). */
export class TransientError extends Error {
  /** Overrides the consumer's backoff for this redelivery. */
  readonly delayMs: number | undefined;
  constructor(message: string, opts: { delayMs?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "TransientError";
    this.delayMs = opts.delayMs;
  }
}

/** A failure that will not go away by retrying: the message is dead-lettered at once. */
export class TerminalError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "TerminalError";
  }
}

/** Bad configuration found at start; `main` prints it and exits with code 2. */
export class ConfigError extends Error {
  /** Every problem found, each naming its variable. */
  readonly problems: string[];
  constructor(problems: string | string[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.length === 1 ? `invalid configuration: ${list[0]}` : `invalid configuration:\n  - ${list.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = list;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
