// Wires watches to work queues to reconcilers, one queue per kind: which changes trigger a
// reconcile (spec changes, deletions; not our own status writes), which objects depend on
// which (a subscription on its stream), the periodic resync that repairs drift on the NATS
// side, and the one place where reconcile outcomes are logged and counted (with
// controller-runtime's metric names and result labels: success, requeue, requeue_after, error;
// a TerminalError is an error that is also counted as terminal and not retried).
import type { Logger } from "pino";
import { SpanStatusCode, type Tracer } from "@jetmesh/mesh/tracing";
import { getCondition } from "../api/conditions.ts";
import { objectKey, splitKey } from "../api/names.ts";
import type { EventStream, EventSubscription } from "../api/types.ts";
import type { ChangeType } from "../kube/informer.ts";
import { isConflict } from "../kube/rest.ts";
import type { ControllerName, OperatorMetrics, ReconcileResultLabel } from "../metrics.ts";
import type { Cache } from "./context.ts";
import { isRefusedStream } from "./eventstream.ts";
import { RetryAfterError, TerminalError, type ReconcileResult } from "./result.ts";
import { WorkQueue, type Outcome, type Priority } from "./workqueue.ts";

export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

interface Meta {
  metadata: { generation?: number; deletionTimestamp?: string; namespace?: string; name: string };
}

/** Pure: does this watch event need a reconcile? Status-only updates (our own writes) do not. */
export function needsReconcile(type: ChangeType, obj: Meta, old: Meta | undefined): boolean {
  if (type !== "updated" || !old) return true;
  return obj.metadata.generation !== old.metadata.generation || obj.metadata.deletionTimestamp !== old.metadata.deletionTimestamp;
}

export interface ControllerOptions {
  workers: number;
  resyncMs: number;
  metrics: OperatorMetrics;
  log: Logger;
  /** A span per reconcile (`reconcile EventSubscription`) when tracing is on. */
  tracer?: Tracer | undefined;
}

export class Controller {
  readonly streamQueue: WorkQueue;
  readonly subscriptionQueue: WorkQueue;
  private readonly opts: ControllerOptions;
  private streams: Cache<EventStream> | undefined;
  private subscriptions: Cache<EventSubscription> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(opts: ControllerOptions, streamReconciler: Reconciler, subscriptionReconciler: Reconciler) {
    this.opts = opts;
    this.streamQueue = this.queue("EventStream", streamReconciler, (key, outcome) => this.afterStream(key, outcome));
    this.subscriptionQueue = this.queue("EventSubscription", subscriptionReconciler);
  }

  setCaches(streams: Cache<EventStream>, subscriptions: Cache<EventSubscription>): void {
    this.streams = streams;
    this.subscriptions = subscriptions;
  }

  private queue(kind: "EventStream" | "EventSubscription", r: Reconciler, after?: (key: string, outcome: Outcome) => void): WorkQueue {
    const { metrics, log, tracer } = this.opts;
    const controller: ControllerName = kind === "EventStream" ? "eventstream" : "eventsubscription";
    metrics.maxConcurrentReconciles.set({ controller }, this.opts.workers);
    const process = async (key: string): Promise<Outcome> => {
      const started = performance.now();
      metrics.activeWorkers.inc({ controller });
      let outcome: Outcome;
      let result: ReconcileResultLabel;
      let terminal = false;
      try {
        const res = await r.reconcile(key);
        const after = res.requeueAfterMs;
        outcome = after !== undefined ? { kind: "requeue", afterMs: after } : { kind: "ok" };
        result = after === undefined ? "success" : after > 0 ? "requeue_after" : "requeue";
        log.debug({ kind, object: key, requeueAfterMs: after }, "reconciled");
      } catch (err) {
        if (err instanceof RetryAfterError) {
          // A known temporary state, already in status: look again after its delay.
          outcome = { kind: "requeue", afterMs: err.afterMs };
          result = err.afterMs > 0 ? "requeue_after" : "requeue";
          log.debug({ kind, object: key, reason: err.reason, requeueAfterMs: err.afterMs }, "waiting (see status)");
        } else if (isConflict(err)) {
          // Expected now and then: our cached copy was older than the object (e.g. the watch
          // had not yet delivered our own last write). Back to the queue (rate limited) to be
          // retried with fresh data; counted as a requeue, as a controller-runtime reconciler
          // returning Requeue on a conflict is: no failure of the operator's.
          outcome = { kind: "error" };
          result = "requeue";
          log.debug({ kind, object: key }, "conflict writing the object, retrying");
        } else {
          terminal = err instanceof TerminalError;
          // A refused spec (a user's typo, recorded in status, looked at again every resync) is
          // not an operator failure: counted as terminal too, so the reconcile-errors alert,
          // which leaves terminal errors out, stays quiet.
          result = "error";
          outcome = terminal ? { kind: "terminal" } : { kind: "error" };
          // Logged once, here, with the object key; the reconciler already put it in status.
          log[terminal ? "info" : "warn"](
            { kind, object: key, reason: terminal ? (err as TerminalError).reason : undefined, err: (err as Error).message },
            terminal ? "reconcile refused (see status)" : "reconcile failed, will retry",
          );
        }
      }
      metrics.activeWorkers.dec({ controller });
      metrics.reconciled(controller, result, terminal, (performance.now() - started) / 1000);
      after?.(key, outcome);
      return outcome;
    };
    return new WorkQueue({
      concurrency: this.opts.workers,
      baseDelayMs: 100,
      maxDelayMs: 60_000,
      metrics: metrics.queue(controller),
      process: tracer ? (key) => traceReconcile(tracer, kind, key, process) : process,
    });
  }

  /** A stream reconciled: subscriptions waiting for it should look again now, not after their timer. */
  private afterStream(key: string, outcome: Outcome): void {
    if (outcome.kind !== "ok") return;
    // All of them, not only those waiting: a stream that was recreated lost its consumers. Those
    // not Ready first; Ready ones at low priority, because every resync reconciles every stream,
    // and at normal priority their thousands of subscriptions would queue ahead of a user's change.
    const { namespace, name } = splitKey(key);
    this.enqueueDependents(namespace, name, (s) => (getCondition(s.status?.conditions, "Ready")?.status === "True" ? "low" : "normal"));
  }

  onStreamChange(type: ChangeType, obj: EventStream, old: EventStream | undefined): void {
    const reconcile = needsReconcile(type, obj, old);
    // A deleted or narrowed stream may free subjects another EventStream was refused for; so
    // does one that was just refused (status only: it never became a JetStream stream).
    const freed = type === "deleted" || (type === "updated" && (reconcile || (!!old && !isRefusedStream(old) && isRefusedStream(obj))));
    if (reconcile) {
      const key = objectKey(obj.metadata.namespace, obj.metadata.name);
      this.streamQueue.add(key);
      this.enqueueDependents(obj.metadata.namespace, obj.metadata.name);
    }
    if (freed) {
      for (const s of this.streams?.list() ?? []) {
        if (s !== obj && s.status?.conditions?.some((c) => c.type === "Ready" && c.reason === "SubjectsOverlap")) {
          this.streamQueue.add(objectKey(s.metadata.namespace, s.metadata.name));
        }
      }
    }
  }

  onSubscriptionChange(type: ChangeType, obj: EventSubscription, old: EventSubscription | undefined): void {
    if (!needsReconcile(type, obj, old)) return;
    this.subscriptionQueue.add(objectKey(obj.metadata.namespace, obj.metadata.name));
  }

  /** Subscriptions that use this stream (as their stream or dead-letter stream). */
  enqueueDependents(namespace: string, stream: string, priority: (s: EventSubscription) => Priority = () => "normal"): void {
    for (const s of this.subscriptions?.list() ?? []) {
      if (s.metadata.namespace !== namespace) continue;
      if (s.spec?.stream !== stream && s.spec?.deadLetter?.stream !== stream) continue;
      this.subscriptionQueue.add(objectKey(s.metadata.namespace, s.metadata.name), priority(s));
    }
  }

  /** Every known object, e.g. after NATS came back or on the resync timer: at low priority, so changes go first. */
  enqueueAll(): void {
    for (const s of this.streams?.list() ?? []) this.streamQueue.add(objectKey(s.metadata.namespace, s.metadata.name), "low");
    for (const s of this.subscriptions?.list() ?? []) this.subscriptionQueue.add(objectKey(s.metadata.namespace, s.metadata.name), "low");
  }

  /** Starts processing (on becoming leader). Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.streamQueue.resume();
    this.subscriptionQueue.resume();
    this.enqueueAll();
    this.resyncTimer = setInterval(() => this.enqueueAll(), this.opts.resyncMs);
  }

  /** Stops processing (leadership lost); queued keys stay and are picked up on the next start. */
  pause(): void {
    this.running = false;
    this.streamQueue.pause();
    this.subscriptionQueue.pause();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
  }

  async stop(): Promise<void> {
    this.pause();
    await Promise.all([this.streamQueue.stop(), this.subscriptionQueue.stop()]);
  }
}

/** One root span per reconcile, with the object and what came of it. */
function traceReconcile(tracer: Tracer, kind: "EventStream" | "EventSubscription", key: string, process: (key: string) => Promise<Outcome>): Promise<Outcome> {
  const { namespace, name } = splitKey(key);
  return tracer.startActiveSpan(
    `reconcile ${kind}`,
    { root: true, attributes: { "jetmesh.kind": kind, "k8s.namespace.name": namespace, "jetmesh.object.name": name } },
    async (span) => {
      try {
        const outcome = await process(key);
        span.setAttribute("jetmesh.reconcile.result", outcome.kind);
        if (outcome.kind === "requeue") span.setAttribute("jetmesh.reconcile.requeue_after_ms", outcome.afterMs);
        if (outcome.kind === "error") span.setStatus({ code: SpanStatusCode.ERROR });
        return outcome;
      } finally {
        span.end();
      }
    },
  );
}
