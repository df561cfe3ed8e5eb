// What a reconcile can say about itself (controller-runtime / kopf style): done, come back
// later, or fail. One vocabulary for every reconciler:
// - a plain error (or a conflict on a stale copy) is retried with per-key exponential backoff;
// - RetryAfterError: a known, temporary state (NATS away, a stream not there yet) — recorded in
//   status and looked at again after its delay, without backoff;
// - TerminalError: a refusal retrying cannot fix (a bad spec) — recorded in status and not
//   retried until the object changes (or the periodic resync looks again).
// Both carry the condition reason for status and Events, and optionally which condition type
// is at fault (the Ready condition always follows).
import { JetStreamRefused, NatsUnavailable, SUBJECTS_OVERLAP } from "../jetstream/admin.ts";

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export const done: ReconcileResult = {};

/** How long to wait before asking NATS again after it was unreachable. */
export const NATS_RETRY_MS = 5_000;

export interface ProblemOptions {
  /** The condition type at fault besides Ready (e.g. StreamReady, ConsumerReady). */
  condition?: string;
}

export abstract class ReconcileProblem extends Error {
  readonly reason: string;
  readonly condition: string | undefined;
  constructor(reason: string, message: string, opts: ProblemOptions = {}) {
    super(message);
    this.reason = reason;
    this.condition = opts.condition;
  }
}

export class TerminalError extends ReconcileProblem {
  override name = "TerminalError";
}

export class RetryAfterError extends ReconcileProblem {
  override name = "RetryAfterError";
  readonly afterMs: number;
  constructor(reason: string, message: string, afterMs: number, opts: ProblemOptions = {}) {
    super(reason, message, opts);
    this.afterMs = afterMs;
  }
}

/**
 * The errors of the I/O edges in this vocabulary: NATS away → retry after NATS_RETRY_MS,
 * JetStream's refusal → terminal (by its error code, never by its wording). `what` names the
 * object for the message ("stream shop_events"). Anything else is returned unchanged: a
 * plain error, retried with backoff.
 */
export function asReconcileProblem(err: unknown, what: string, opts: ProblemOptions = {}): unknown {
  if (err instanceof ReconcileProblem) return err;
  if (err instanceof NatsUnavailable) {
    return new RetryAfterError(
      "NatsUnavailable",
      `NATS is not reachable (${err.message}); ${what} is created or checked as soon as it is`,
      NATS_RETRY_MS,
      opts,
    );
  }
  if (err instanceof JetStreamRefused) {
    return new TerminalError(err.code === SUBJECTS_OVERLAP ? "SubjectsOverlap" : "JetStreamRefused", `JetStream refused ${what}: ${err.message}`, opts);
  }
  return err;
}
