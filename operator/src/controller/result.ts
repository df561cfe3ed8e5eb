// What a reconcile can say about itself (controller-runtime style): done, come back later, or
// fail. A plain error is retried with per-key exponential backoff; a TerminalError is recorded
// in status and not retried until the object changes (or the periodic resync looks again).

export interface ReconcileResult {
  requeueAfterMs?: number;
}

export const done: ReconcileResult = {};

export class TerminalError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = "TerminalError";
    this.reason = reason;
  }
}
