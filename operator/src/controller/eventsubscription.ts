// Reconciles an EventSubscription into the durable pull consumer <namespace>_<name> on its
// EventStream's stream: creates it, updates what JetStream can update, recreates it when a
// field JetStream cannot change was edited (a consumer holds no messages, only a position; an
// Event says so), waits with StreamReady=False while its stream does not exist, repairs a
// consumer deleted or edited behind its back, pauses and resumes it as spec.paused says, reports
// lag, scales its subscriber (controller/scaling.ts: the native loop, or a rendered KEDA
// ScaledObject / HPA), and deletes the consumer when the resource goes. It is the one writer of
// the EventSubscription's status: the autoscaler loops report to it by requeueing the key.
import { setCondition } from "../api/conditions.ts";
import { deadLetterSubject, jetStreamName, objectKey, splitKey, validateName } from "../api/names.ts";
import { resolveSubscriptionSpec, type ResolvedSubscription } from "../api/spec.ts";
import { subjectCovers, subjectsOverlap } from "../api/subjects.ts";
import { confinementProblem } from "../api/tenancy.ts";
import type { Condition, DeliveryFailures, EventSubscription, EventSubscriptionStatus } from "../api/types.ts";
import { JetStreamRefused, MAX_CONSUMERS_REACHED, NatsUnavailable, STREAM_NOT_FOUND, type ConsumerState, type JetStreamAdmin } from "../jetstream/admin.ts";
import type { CircuitReport, DeliveryFailureReport } from "@jetmesh/mesh/consumer-contract";
import { desiredConsumerConfig, diffConsumerConfig } from "../jetstream/consumer-config.ts";
import { EVENTSUBSCRIPTIONS, type ReconcileContext } from "./context.ts";
import { ensureFinalizer, hasFinalizer, removeFinalizer } from "./finalizer.ts";
import { asReconcileProblem, done, ReconcileProblem, RetryAfterError, TerminalError, type ReconcileResult } from "./result.ts";
import { renderedName } from "../autoscale/render.ts";
import { reconcileScaling, type ScalingAccess, type ScalingStatus } from "./scaling.ts";
import { statusPatch } from "./status.ts";
import { isConflict } from "../kube/rest.ts";

const OWNED = [
  "observedGeneration",
  "conditions",
  "streamName",
  "consumerName",
  "lag",
  "paused",
  "replicas",
  "lastScaleTime",
  "lastScaleReason",
  "lastError",
  "deliveryFailures",
] as const;
const STREAM_WAIT_MS = 10_000;

type Cond = Pick<Condition, "type" | "status" | "reason" | "message">;

export class EventSubscriptionReconciler {
  private readonly ctx: ReconcileContext;
  /** Undefined when the operator does not scale (AUTOSCALE=false) or is not the leader's. */
  private readonly scaling: ScalingAccess | undefined;

  constructor(ctx: ReconcileContext, scaling?: ScalingAccess) {
    this.ctx = ctx;
    this.scaling = scaling;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { ctx } = this;
    const cached = ctx.subscriptions.get(key);
    if (!cached) {
      const { namespace, name } = splitKey(key);
      ctx.metrics.forgetSubscription(namespace, name);
      this.scaling?.loops.run(key, undefined);
      return done;
    }
    let obj = cached;
    const ns = obj.metadata.namespace;
    const consumer = jetStreamName(ns, obj.metadata.name);
    const stream = jetStreamName(ns, obj.spec?.stream ?? "");

    if (obj.metadata.deletionTimestamp) return this.finalize(obj, stream, consumer);

    let result: ReconcileResult;
    let failedScaling: unknown;
    try {
      const badName = validateName(obj.metadata.name);
      if (badName) throw new TerminalError("InvalidName", badName);
      const resolved = resolveSubscriptionSpec(obj.spec);
      if (!resolved.ok) throw new TerminalError("InvalidSpec", resolved.problems.join("; "));
      const spec = resolved.value;
      const notAllowed = confinementProblem(ctx.subjectPolicy, ns, "spec.types", spec.types);
      if (notAllowed) throw new TerminalError("SubjectNotAllowed", notAllowed);

      obj = await ensureFinalizer(ctx.writer, EVENTSUBSCRIPTIONS, obj);

      const streamObj = ctx.streams.get(objectKey(ns, spec.stream));
      if (!streamObj || streamObj.metadata.deletionTimestamp) {
        throw new RetryAfterError(
          "StreamNotFound",
          `EventStream ${ns}/${spec.stream} does not exist${streamObj ? " any more (being deleted)" : " yet"}; the consumer is created as soon as it does`,
          STREAM_WAIT_MS,
          { condition: "StreamReady" },
        );
      }
      const streamSubjects = streamObj.spec?.subjects ?? [];
      const outside = spec.types.filter((t) => !streamSubjects.some((s) => subjectsOverlap(s, t)));
      if (outside.length > 0) {
        throw new TerminalError(
          "TypesNotInStream",
          `types ${outside.join(", ")} are not captured by EventStream ${spec.stream} (subjects ${streamSubjects.join(", ")}): fix spec.types or the stream's subjects`,
        );
      }

      const admin = ctx.nats.admin();
      if (!admin) throw new NatsUnavailable(ctx.nats.lastError);
      const state = await this.applyPause(obj, admin, stream, consumer, spec, await this.converge(obj, admin, stream, consumer, spec));

      const lag = { pending: state.pending, ackPending: state.ackPending, redelivered: state.redelivered };
      const deadLetterProblem = this.checkDeadLetter(obj, spec);
      const now = ctx.now().toISOString();
      const gen = obj.metadata.generation;
      let conditions = setCondition(
        obj.status?.conditions,
        { type: "StreamReady", status: "True", reason: "StreamFound", message: `stream ${stream} exists` },
        now,
        gen,
      );
      conditions = setCondition(
        conditions,
        { type: "ConsumerReady", status: "True", reason: "ConsumerSynced", message: `consumer ${consumer} matches the spec` },
        now,
        gen,
      );
      const ready: Cond = deadLetterProblem
        ? { type: "Ready", status: "False", ...deadLetterProblem }
        : state.paused
          ? {
              type: "Ready",
              status: "True",
              reason: "Paused",
              message: `consumer ${consumer} on ${stream} is paused (spec.paused): nothing is delivered until it is resumed`,
            }
          : { type: "Ready", status: "True", reason: "Ready", message: `consuming from ${stream} as ${consumer}` };
      conditions = setCondition(conditions, ready, now, gen);
      const circuit = spec.circuitBreaker ? circuitCondition(await admin.circuitReports(consumer)) : null;
      this.noteCircuit(obj, circuit);
      conditions = circuit ? setCondition(conditions, circuit, now, gen) : conditions.filter((c) => c.type !== "CircuitOpen");
      const failures = deliveryFailures(await admin.failureReports(consumer));
      const failing = failingCondition(failures);
      this.noteFailing(obj, failing);
      conditions = setCondition(conditions, failing, now, gen);
      const { scaling, scalingError } = await this.scale(obj);
      conditions = withScaling(conditions, scaling.condition, now, gen);
      const status: EventSubscriptionStatus = {
        ...scalingFields(obj.status, scaling),
        streamName: stream,
        consumerName: consumer,
        lag,
        deliveryFailures: failures,
        paused: state.paused,
        conditions,
        observedGeneration: deadLetterProblem ? obj.status?.observedGeneration : gen,
      };
      if (deadLetterProblem) status.lastError = deadLetterProblem.message;
      this.noteTransition(obj, ready);
      this.noteScaling(obj, scaling.condition);
      await this.writeStatus(obj, status);
      ctx.metrics.setSubscription(ns, obj.metadata.name, !deadLetterProblem, lag);
      failedScaling = scalingError;
      // A missing dead-letter stream may appear without this object changing: look again.
      result = deadLetterProblem ? { requeueAfterMs: STREAM_WAIT_MS } : done;
    } catch (err) {
      return this.failed(obj, stream, consumer, err);
    }
    // Recorded in the Scaling condition, not the consumer's failure; retried with backoff.
    if (failedScaling !== undefined) throw failedScaling;
    return result;
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
        if (err instanceof JetStreamRefused && err.code === STREAM_NOT_FOUND) {
          throw new RetryAfterError("StreamNotReady", `stream ${stream} does not exist in JetStream yet (its EventStream is not Ready)`, 2_000, {
            condition: "StreamReady",
          });
        }
        if (err instanceof JetStreamRefused && err.code === MAX_CONSUMERS_REACHED) {
          // Fixed by an edit of the EventStream, not of this object: looked at again, not parked.
          throw new RetryAfterError(
            "StreamConsumerLimit",
            `stream ${stream} already holds its maximum number of consumers (${err.message}): raise spec.maxConsumers of EventStream ${obj.metadata.namespace}/${spec.stream} (nats-server's default is 1,000 per stream since 2.15); the consumer is created as soon as there is room`,
            STREAM_WAIT_MS,
            { condition: "ConsumerReady" },
          );
        }
        throw err;
      }
    };
    if (!current) {
      const state = await create();
      if (obj.status?.consumerName) {
        ctx.events.warning(
          obj,
          "ConsumerRecreated",
          `consumer ${consumer} was missing in JetStream (deleted outside the operator, or lost with its stream); recreated it`,
        );
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
        ctx.events.normal(
          obj,
          "ConsumerRecreated",
          `JetStream refused to update ${diff.updatable.join(", ")} in place (${err.message}); recreated ${consumer}`,
        );
        return state;
      }
      ctx.events.normal(
        obj,
        drift ? "DriftRepaired" : "ConsumerUpdated",
        drift
          ? `consumer ${consumer} was changed outside the operator (${diff.updatable.join(", ")}); restored the spec's values`
          : `updated ${diff.updatable.join(", ")} of consumer ${consumer}`,
      );
      return state;
    }
    return current;
  }

  /**
   * spec.paused against what the server reports: pause or resume through the pause API. Also
   * repairs a consumer paused or resumed by hand (an Event says so).
   */
  private async applyPause(
    obj: EventSubscription,
    admin: JetStreamAdmin,
    stream: string,
    consumer: string,
    spec: ResolvedSubscription,
    state: ConsumerState,
  ): Promise<ConsumerState> {
    if (state.paused === spec.paused) return state;
    const next = await admin.setPaused(stream, consumer, spec.paused);
    const byHand = obj.status?.paused === spec.paused;
    const what = spec.paused ? "paused" : "resumed";
    this.ctx.events.normal(
      obj,
      spec.paused ? "ConsumerPaused" : "ConsumerResumed",
      byHand
        ? `consumer ${consumer} was ${spec.paused ? "resumed" : "paused"} outside the operator; ${what} it again as spec.paused says`
        : `${what} consumer ${consumer} (spec.paused: ${spec.paused})`,
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
      return {
        reason: "DeadLetterStreamNotFound",
        message: `dead-letter EventStream ${ns}/${spec.deadLetterStream} does not exist: events that exhaust maxDeliver would be lost; create it (subjects jetmesh.dlq.${ns}.>)`,
      };
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

  /**
   * Records a failure in status and hands it to the queue in the one vocabulary (result.ts):
   * terminal, retry-after, or a plain error retried with backoff.
   */
  private async failed(obj: EventSubscription, stream: string, consumer: string, err: unknown): Promise<ReconcileResult> {
    const { ctx } = this;
    // A stale copy of the object is not a problem to report: retry with fresh data.
    if (isConflict(err)) throw err;
    const problem = asReconcileProblem(err, `consumer ${consumer} on ${stream}`, { condition: "ConsumerReady" });
    const reason = problem instanceof ReconcileProblem ? problem.reason : "ReconcileError";
    const condition = problem instanceof ReconcileProblem ? problem.condition : undefined;
    const message = (problem as Error).message;
    const now = ctx.now().toISOString();
    const gen = obj.metadata.generation;
    let conditions = obj.status?.conditions;
    if (condition) conditions = setCondition(conditions, { type: condition, status: "False", reason, message }, now, gen);
    if (condition === "StreamReady") {
      conditions = setCondition(
        conditions,
        { type: "ConsumerReady", status: "False", reason: "WaitingForStream", message: "the consumer needs its stream first" },
        now,
        gen,
      );
    }
    const ready: Cond = { type: "Ready", status: "False", reason, message };
    conditions = setCondition(conditions, ready, now, gen);
    this.noteTransition(obj, ready);
    // streamName/consumerName say where the consumer lives: unchanged until it really moved.
    const status: EventSubscriptionStatus = {
      ...scalingFields(obj.status, undefined),
      observedGeneration: obj.status?.observedGeneration,
      streamName: obj.status?.streamName,
      consumerName: obj.status?.consumerName,
      lag: obj.status?.lag,
      paused: obj.status?.paused,
      deliveryFailures: obj.status?.deliveryFailures,
      lastError: message,
      conditions,
    };
    // If even the status cannot be written (conflict, API server away), retry the whole
    // reconcile with backoff rather than leave a refusal invisible until the next resync.
    await this.writeStatus(obj, status);
    ctx.metrics.setSubscription(obj.metadata.namespace, obj.metadata.name, false);
    throw problem;
  }

  /** The scaling step; its failure (e.g. KEDA not installed, RBAC) is reported, not fatal to the consumer. */
  private async scale(obj: EventSubscription): Promise<{ scaling: ScalingStatus; scalingError?: unknown }> {
    if (!this.scaling) return { scaling: { condition: undefined } };
    try {
      return { scaling: await reconcileScaling(this.scaling, this.ctx.events, obj) };
    } catch (err) {
      if (isConflict(err)) throw err;
      const message = `could not write the ${obj.spec.scaling?.mode} scaler ${renderedName(obj.metadata.name)}: ${(err as Error).message}`;
      return { scaling: { condition: { type: "Scaling", status: "False", reason: "RenderFailed", message } }, scalingError: err };
    }
  }

  /** Events when deliveries start failing and when they have stopped failing. */
  private noteFailing(obj: EventSubscription, next: Cond): void {
    const was = obj.status?.conditions?.find((c) => c.type === "DeliveryFailing")?.status === "True";
    const is = next.status === "True";
    if (is && !was) this.ctx.events.warning(obj, "DeliveryFailing", next.message);
    else if (was && !is) this.ctx.events.normal(obj, "DeliveryRecovered", "no subscriber process reports a failed delivery in the last minute");
  }

  /** Events when a subscriber's circuit opens and closes. */
  private noteCircuit(obj: EventSubscription, next: Cond | null): void {
    const was = obj.status?.conditions?.find((c) => c.type === "CircuitOpen")?.status === "True";
    const is = next?.status === "True";
    if (is && !was) this.ctx.events.warning(obj, "CircuitOpen", next.message);
    else if (was && !is) this.ctx.events.normal(obj, "CircuitClosed", "every subscriber process consumes again");
  }

  /** A Warning Event when scaling stops for a reason the loop does not report itself. */
  private noteScaling(obj: EventSubscription, next: ScalingStatus["condition"]): void {
    if (!next || next.status === "True") return;
    if (next.reason !== "InvalidSpec" && next.reason !== "KedaNotConfigured" && next.reason !== "RenderFailed") return;
    const prev = obj.status?.conditions?.find((c) => c.type === "Scaling");
    if (prev?.reason !== next.reason) this.ctx.events.warning(obj, next.reason, next.message);
  }

  private async finalize(obj: EventSubscription, stream: string, consumer: string): Promise<ReconcileResult> {
    const { ctx } = this;
    if (!hasFinalizer(obj)) return done;
    const admin = ctx.nats.admin();
    if (!admin) {
      // Removing the finalizer now would leave the consumer behind in JetStream.
      return this.failed(obj, stream, consumer, new NatsUnavailable(ctx.nats.lastError));
    }
    await admin.deleteConsumer(stream, consumer);
    const previous = obj.status?.streamName;
    if (previous && previous !== stream) await admin.deleteConsumer(previous, consumer);
    ctx.events.normal(obj, "ConsumerDeleted", `deleted consumer ${consumer}`);
    await removeFinalizer(ctx.writer, EVENTSUBSCRIPTIONS, obj);
    ctx.metrics.forgetSubscription(obj.metadata.namespace, obj.metadata.name);
    this.scaling?.loops.run(objectKey(obj.metadata.namespace, obj.metadata.name), undefined);
    return done;
  }

  private async writeStatus(obj: EventSubscription, next: EventSubscriptionStatus): Promise<void> {
    const patch = statusPatch(obj.status as Record<string, unknown> | undefined, next as Record<string, unknown>, OWNED);
    if (patch) await this.ctx.writer.patchStatus(EVENTSUBSCRIPTIONS, obj, patch);
  }
}

/** The Scaling condition as the scaling step says: set, removed (null), or left (undefined). */
function withScaling(conditions: Condition[], next: ScalingStatus["condition"], now: string, gen: number | undefined): Condition[] {
  if (next === undefined) return conditions;
  if (next === null) return conditions.filter((c) => c.type !== "Scaling");
  return setCondition(conditions, next, now, gen);
}

/** replicas / lastScaleTime / lastScaleReason: the scaling step's when it has them, else as they were. */
function scalingFields(current: EventSubscriptionStatus | undefined, s: ScalingStatus | undefined): EventSubscriptionStatus {
  if (s?.condition === null) return {};
  return {
    replicas: s?.replicas ?? current?.replicas,
    lastScaleTime: s?.lastScaleTime ?? current?.lastScaleTime,
    lastScaleReason: s?.lastScaleReason ?? current?.lastScaleReason,
  };
}

/**
 * CircuitOpen from what the subscriber processes report (KV bucket jetmesh-circuits): True as
 * long as one of them holds its circuit open or half-open.
 */
function circuitCondition(open: CircuitReport[]): Cond {
  const first = open[0];
  if (!first) return { type: "CircuitOpen", status: "False", reason: "Closed", message: "no subscriber process reports an open circuit" };
  const who = open.length === 1 ? `${first.service} reports` : `${open.length} ${first.service} processes report`;
  return {
    type: "CircuitOpen",
    status: "True",
    reason: first.state === "half_open" ? "Probing" : "DownstreamFailing",
    message: `${who} the circuit ${first.state === "half_open" ? "half-open (probing with one message)" : "open"} since ${first.since}: ${first.reason}; messages are held in the stream, not dead-lettered`,
  };
}

/**
 * What the subscriber processes report of their failed deliveries (KV bucket jetmesh-failures,
 * entries expire a minute after a process's last failure), summed; undefined when none does.
 */
export function deliveryFailures(reports: DeliveryFailureReport[]): DeliveryFailures | undefined {
  if (reports.length === 0) return undefined;
  let last = reports[0]!;
  for (const r of reports) if (r.last.time > last.last.time) last = r;
  return {
    retried: reports.reduce((n, r) => n + r.retried, 0),
    deadLettered: reports.reduce((n, r) => n + r.deadLettered, 0),
    since: reports.reduce((t, r) => (r.since < t ? r.since : t), last.since),
    processes: reports.length,
    last: { ...last.last, service: last.service },
  };
}

/** DeliveryFailing: True while a subscriber process reports failed deliveries (the last minute). */
function failingCondition(f: DeliveryFailures | undefined): Cond {
  if (!f)
    return {
      type: "DeliveryFailing",
      status: "False",
      reason: "NoRecentFailures",
      message: "no subscriber process reports a failed delivery in the last minute",
    };
  const counts = [f.retried ? `${f.retried} retried` : "", f.deadLettered ? `${f.deadLettered} dead-lettered` : ""].filter(Boolean).join(", ");
  const what = f.last.outcome === "dead_lettered" ? `dead-lettered (${f.last.reason ?? "unknown"})` : "retried";
  return {
    type: "DeliveryFailing",
    status: "True",
    reason: f.deadLettered > 0 ? "DeadLettering" : "Retrying",
    message: `${counts} since ${f.since}; last at ${f.last.time} by ${f.last.service}, ${what}: ${f.last.error}`,
  };
}
