// Reconciles an EventSubscription into the durable pull consumer <namespace>_<name> on its
// EventStream's stream: creates it, updates what JetStream can update, recreates it when a
// field JetStream cannot change was edited (a consumer holds no messages, only a position; an
// Event says so), waits with StreamReady=False while its stream does not exist, repairs a
// consumer deleted or edited behind its back, pauses and resumes it as spec.paused says, reports
// lag, and deletes the consumer when the resource goes.
import { setCondition } from "../api/conditions.ts";
import { deadLetterSubject, jetStreamName, objectKey, splitKey, validateName } from "../api/names.ts";
import { resolveSubscriptionSpec, type ResolvedSubscription } from "../api/spec.ts";
import { subjectCovers, subjectsOverlap } from "../api/subjects.ts";
import { confinementProblem } from "../api/tenancy.ts";
import type { Condition, EventSubscription, EventSubscriptionStatus } from "../api/types.ts";
import { JetStreamRefused, NatsUnavailable, type ConsumerState, type JetStreamAdmin } from "../jetstream/admin.ts";
import { desiredConsumerConfig, diffConsumerConfig } from "../jetstream/consumer-config.ts";
import { EVENTSUBSCRIPTIONS, type ReconcileContext } from "./context.ts";
import { ensureFinalizer, hasFinalizer, removeFinalizer } from "./finalizer.ts";
import { done, TerminalError, type ReconcileResult } from "./result.ts";
import { statusPatch } from "./status.ts";
import { isConflict } from "../kube/rest.ts";
import { NATS_RETRY_MS } from "./eventstream.ts";

const OWNED = ["observedGeneration", "conditions", "streamName", "consumerName", "lag", "paused", "lastError"] as const;
const STREAM_WAIT_MS = 10_000;

/** Hook for the autoscaler: told about every reconciled subscription, and about deletions. */
export interface SubscriptionObserver {
  reconciled(sub: EventSubscription, spec: ResolvedSubscription, consumer: { stream: string; name: string }): void;
  removed(key: string): void;
}

type Cond = Pick<Condition, "type" | "status" | "reason" | "message">;

/** A failure that also says which sub-condition is at fault. */
class SubscriptionProblem extends Error {
  readonly reason: string;
  readonly conditionType: "StreamReady" | "ConsumerReady" | "Ready";
  readonly terminal: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(conditionType: "StreamReady" | "ConsumerReady" | "Ready", reason: string, message: string, opts: { terminal?: boolean; retryAfterMs?: number } = {}) {
    super(message);
    this.reason = reason;
    this.conditionType = conditionType;
    this.terminal = opts.terminal ?? false;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export class EventSubscriptionReconciler {
  private readonly ctx: ReconcileContext;
  observer: SubscriptionObserver | undefined;

  constructor(ctx: ReconcileContext) {
    this.ctx = ctx;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { ctx } = this;
    const cached = ctx.subscriptions.get(key);
    if (!cached) {
      const { namespace, name } = splitKey(key);
      ctx.metrics.forgetSubscription(namespace, name);
      this.observer?.removed(key);
      return done;
    }
    let obj = cached;
    const ns = obj.metadata.namespace;
    const consumer = jetStreamName(ns, obj.metadata.name);
    const stream = jetStreamName(ns, obj.spec?.stream ?? "");

    if (obj.metadata.deletionTimestamp) return this.finalize(obj, stream, consumer);

    try {
      const badName = validateName(obj.metadata.name);
      if (badName) throw new SubscriptionProblem("Ready", "InvalidName", badName, { terminal: true });
      const resolved = resolveSubscriptionSpec(obj.spec);
      if (!resolved.ok) throw new SubscriptionProblem("Ready", "InvalidSpec", resolved.problems.join("; "), { terminal: true });
      const spec = resolved.value;
      const notAllowed = confinementProblem(ctx.subjectPolicy, ns, "spec.types", spec.types);
      if (notAllowed) throw new SubscriptionProblem("Ready", "SubjectNotAllowed", notAllowed, { terminal: true });

      obj = await ensureFinalizer(ctx.writer, EVENTSUBSCRIPTIONS, obj);

      const streamObj = ctx.streams.get(objectKey(ns, spec.stream));
      if (!streamObj || streamObj.metadata.deletionTimestamp) {
        throw new SubscriptionProblem(
          "StreamReady",
          "StreamNotFound",
          `EventStream ${ns}/${spec.stream} does not exist${streamObj ? " any more (being deleted)" : " yet"}; the consumer is created as soon as it does`,
          { retryAfterMs: STREAM_WAIT_MS },
        );
      }
      const streamSubjects = streamObj.spec?.subjects ?? [];
      const outside = spec.types.filter((t) => !streamSubjects.some((s) => subjectsOverlap(s, t)));
      if (outside.length > 0) {
        throw new SubscriptionProblem(
          "Ready",
          "TypesNotInStream",
          `types ${outside.join(", ")} are not captured by EventStream ${spec.stream} (subjects ${streamSubjects.join(", ")}): fix spec.types or the stream's subjects`,
          { terminal: true },
        );
      }

      const admin = ctx.nats.admin();
      if (!admin) throw new NatsUnavailable(ctx.nats.lastError);
      const state = await this.applyPause(obj, admin, stream, consumer, spec, await this.converge(obj, admin, stream, consumer, spec));

      const lag = { pending: state.pending, ackPending: state.ackPending, redelivered: state.redelivered };
      const deadLetterProblem = this.checkDeadLetter(obj, spec);
      const now = ctx.now().toISOString();
      const gen = obj.metadata.generation;
      let conditions = setCondition(obj.status?.conditions, { type: "StreamReady", status: "True", reason: "StreamFound", message: `stream ${stream} exists` }, now, gen);
      conditions = setCondition(conditions, { type: "ConsumerReady", status: "True", reason: "ConsumerSynced", message: `consumer ${consumer} matches the spec` }, now, gen);
      const ready: Cond = deadLetterProblem
        ? { type: "Ready", status: "False", ...deadLetterProblem }
        : state.paused
          ? { type: "Ready", status: "True", reason: "Paused", message: `consumer ${consumer} on ${stream} is paused (spec.paused): nothing is delivered until it is resumed` }
          : { type: "Ready", status: "True", reason: "Ready", message: `consuming from ${stream} as ${consumer}` };
      conditions = setCondition(conditions, ready, now, gen);
      const status: EventSubscriptionStatus = {
        streamName: stream,
        consumerName: consumer,
        lag,
        paused: state.paused,
        conditions,
        observedGeneration: deadLetterProblem ? obj.status?.observedGeneration : gen,
      };
      if (deadLetterProblem) status.lastError = deadLetterProblem.message;
      this.noteTransition(obj, ready);
      await this.writeStatus(obj, status);
      ctx.metrics.setSubscription(ns, obj.metadata.name, !deadLetterProblem, lag);
      this.observer?.reconciled(obj, spec, { stream, name: consumer });
      // A missing dead-letter stream may appear without this object changing: look again.
      return deadLetterProblem ? { requeueAfterMs: STREAM_WAIT_MS } : done;
    } catch (err) {
      return this.failed(obj, stream, consumer, err);
    }
  }

  /** Makes the consumer match the spec; returns its state. */
  private async converge(obj: EventSubscription, admin: JetStreamAdmin, stream: string, consumer: string, spec: ResolvedSubscription): Promise<ConsumerState> {
    const { ctx } = this;
    const desired = desiredConsumerConfig(consumer, spec, `${obj.metadata.namespace}/${obj.metadata.name}`);
    const previous = obj.status?.streamName;
    if (previous && previous !== stream) {
      // spec.stream changed: the consumer on the old stream would be left behind.
      await admin.deleteConsumer(previous, consumer);
      ctx.events.normal(obj, "ConsumerMoved", `deleted consumer ${consumer} on ${previous}; spec.stream now names ${stream}`);
    }
    const current = await admin.consumerInfo(stream, consumer);
    const create = async (): Promise<ConsumerState> => {
      try {
        return await admin.addConsumer(stream, desired);
      } catch (err) {
        if (err instanceof JetStreamRefused && (err.code === 10059 || /stream not found/i.test(err.message))) {
          throw new SubscriptionProblem("StreamReady", "StreamNotReady", `stream ${stream} does not exist in JetStream yet (its EventStream is not Ready)`, { retryAfterMs: 2_000 });
        }
        throw err;
      }
    };
    if (!current) {
      const state = await create();
      if (obj.status?.consumerName) {
        ctx.events.warning(obj, "ConsumerRecreated", `consumer ${consumer} was missing in JetStream (deleted outside the operator, or lost with its stream); recreated it`);
      } else ctx.events.normal(obj, "ConsumerCreated", `created durable consumer ${consumer} on stream ${stream}`);
      return state;
    }
    const diff = diffConsumerConfig(desired, current.config);
    if (diff.immutable.length > 0) {
      await admin.deleteConsumer(stream, consumer);
      const state = await create();
      ctx.events.normal(
        obj,
        "ConsumerRecreated",
        `${diff.immutable.join(", ")} cannot change on an existing JetStream consumer; recreated ${consumer} (a consumer holds no messages; delivery restarts from startFrom: ${obj.spec.delivery?.startFrom ?? "new"})`,
      );
      return state;
    }
    if (diff.updatable.length > 0) {
      const drift = obj.status?.observedGeneration === obj.metadata.generation;
      let state: ConsumerState;
      try {
        state = await admin.updateConsumer(stream, desired);
      } catch (err) {
        if (!(err instanceof JetStreamRefused)) throw err;
        // This server cannot change it in place after all: recreate, as for immutable fields.
        await admin.deleteConsumer(stream, consumer);
        state = await create();
        ctx.events.normal(obj, "ConsumerRecreated", `JetStream refused to update ${diff.updatable.join(", ")} in place (${err.message}); recreated ${consumer}`);
        return state;
      }
      ctx.events.normal(
        obj,
        drift ? "DriftRepaired" : "ConsumerUpdated",
        drift ? `consumer ${consumer} was changed outside the operator (${diff.updatable.join(", ")}); restored the spec's values` : `updated ${diff.updatable.join(", ")} of consumer ${consumer}`,
      );
      return state;
    }
    return current;
  }

  /**
   * spec.paused against what the server reports: pause or resume through the pause API. Also
   * repairs a consumer paused or resumed by hand (an Event says so).
   */
  private async applyPause(obj: EventSubscription, admin: JetStreamAdmin, stream: string, consumer: string, spec: ResolvedSubscription, state: ConsumerState): Promise<ConsumerState> {
    if (state.paused === spec.paused) return state;
    const next = await admin.setPaused(stream, consumer, spec.paused);
    const byHand = obj.status?.paused === spec.paused;
    const what = spec.paused ? "paused" : "resumed";
    this.ctx.events.normal(
      obj,
      spec.paused ? "ConsumerPaused" : "ConsumerResumed",
      byHand ? `consumer ${consumer} was ${spec.paused ? "resumed" : "paused"} outside the operator; ${what} it again as spec.paused says` : `${what} consumer ${consumer} (spec.paused: ${spec.paused})`,
    );
    return next;
  }

  /** The dead-letter stream must exist and capture this subscription's dead-letter subject. */
  private checkDeadLetter(obj: EventSubscription, spec: ResolvedSubscription): { reason: string; message: string } | undefined {
    if (!spec.deadLetterStream) return undefined;
    const ns = obj.metadata.namespace;
    const dl = this.ctx.streams.get(objectKey(ns, spec.deadLetterStream));
    const subject = deadLetterSubject(ns, obj.metadata.name);
    if (!dl) {
      return { reason: "DeadLetterStreamNotFound", message: `dead-letter EventStream ${ns}/${spec.deadLetterStream} does not exist: events that exhaust maxDeliver would be lost; create it (subjects jetmesh.dlq.${ns}.>)` };
    }
    if (!(dl.spec?.subjects ?? []).some((s) => subjectCovers(s, subject))) {
      return {
        reason: "DeadLetterSubjectNotCaptured",
        message: `dead-letter EventStream ${ns}/${spec.deadLetterStream} does not capture ${subject}: add jetmesh.dlq.${ns}.> (or ${subject}) to its subjects`,
      };
    }
    return undefined;
  }

  private noteTransition(obj: EventSubscription, ready: Cond): void {
    const prev = obj.status?.conditions?.find((c) => c.type === "Ready");
    if (prev?.status === ready.status && prev.reason === ready.reason) return;
    if (ready.status === "True") {
      if (prev) this.ctx.events.normal(obj, "Ready", ready.message);
    } else this.ctx.events.warning(obj, ready.reason, ready.message);
  }

  private async failed(obj: EventSubscription, stream: string, consumer: string, err: unknown): Promise<ReconcileResult> {
    const { ctx } = this;
    // A stale copy of the object is not a problem to report: retry with fresh data.
    if (isConflict(err)) throw err;
    let problem: SubscriptionProblem;
    if (err instanceof SubscriptionProblem) problem = err;
    else if (err instanceof NatsUnavailable) {
      problem = new SubscriptionProblem("ConsumerReady", "NatsUnavailable", `NATS is not reachable (${err.message}); the consumer is created or checked as soon as it is`, { retryAfterMs: NATS_RETRY_MS });
    } else if (err instanceof JetStreamRefused) {
      problem = new SubscriptionProblem("ConsumerReady", "JetStreamRefused", `JetStream refused consumer ${consumer} on ${stream}: ${err.message}`, { terminal: true });
    } else {
      problem = new SubscriptionProblem("Ready", "ReconcileError", (err as Error).message);
    }
    const now = ctx.now().toISOString();
    const gen = obj.metadata.generation;
    let conditions = obj.status?.conditions;
    if (problem.conditionType !== "Ready") conditions = setCondition(conditions, { type: problem.conditionType, status: "False", reason: problem.reason, message: problem.message }, now, gen);
    if (problem.conditionType === "StreamReady") {
      conditions = setCondition(conditions, { type: "ConsumerReady", status: "False", reason: "WaitingForStream", message: "the consumer needs its stream first" }, now, gen);
    }
    const ready: Cond = { type: "Ready", status: "False", reason: problem.reason, message: problem.message };
    conditions = setCondition(conditions, ready, now, gen);
    this.noteTransition(obj, ready);
    // streamName/consumerName say where the consumer lives: unchanged until it really moved.
    const status: EventSubscriptionStatus = {
      observedGeneration: obj.status?.observedGeneration,
      streamName: obj.status?.streamName,
      consumerName: obj.status?.consumerName,
      lag: obj.status?.lag,
      paused: obj.status?.paused,
      lastError: problem.message,
      conditions,
    };
    // If even the status cannot be written (conflict, API server away), retry the whole
    // reconcile with backoff rather than leave a refusal invisible until the next resync.
    await this.writeStatus(obj, status);
    ctx.metrics.setSubscription(obj.metadata.namespace, obj.metadata.name, false);
    if (problem.terminal) throw new TerminalError(problem.reason, problem.message);
    if (problem.retryAfterMs !== undefined) return { requeueAfterMs: problem.retryAfterMs };
    throw err;
  }

  private async finalize(obj: EventSubscription, stream: string, consumer: string): Promise<ReconcileResult> {
    const { ctx } = this;
    if (!hasFinalizer(obj)) return done;
    const admin = ctx.nats.admin();
    if (!admin) {
      // Removing the finalizer now would leave the consumer behind in JetStream.
      await this.failed(obj, stream, consumer, new NatsUnavailable(ctx.nats.lastError)).catch(() => undefined);
      return { requeueAfterMs: NATS_RETRY_MS };
    }
    await admin.deleteConsumer(stream, consumer);
    const previous = obj.status?.streamName;
    if (previous && previous !== stream) await admin.deleteConsumer(previous, consumer);
    ctx.events.normal(obj, "ConsumerDeleted", `deleted consumer ${consumer}`);
    await removeFinalizer(ctx.writer, EVENTSUBSCRIPTIONS, obj);
    ctx.metrics.forgetSubscription(obj.metadata.namespace, obj.metadata.name);
    this.observer?.removed(objectKey(obj.metadata.namespace, obj.metadata.name));
    return done;
  }

  private async writeStatus(obj: EventSubscription, next: EventSubscriptionStatus): Promise<void> {
    const patch = statusPatch(obj.status as Record<string, unknown> | undefined, next as Record<string, unknown>, OWNED);
    if (patch) await this.ctx.writer.patchStatus(EVENTSUBSCRIPTIONS, obj, patch);
  }
}
