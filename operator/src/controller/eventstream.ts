// Reconciles an EventStream into the JetStream stream <namespace>_<name>: creates it, updates
// what JetStream can update, reports what it cannot (Ready=False naming the field and what to
// do; never a crash loop), refuses subjects another EventStream already captures, recreates a
// stream that disappeared behind its back, and on deletion keeps or deletes the stream as
// deletionPolicy says.
import { setCondition } from "../api/conditions.ts";
import { jetStreamName, splitKey, validateName } from "../api/names.ts";
import { resolveStreamSpec } from "../api/spec.ts";
import { firstOverlap } from "../api/subjects.ts";
import { confinementProblem } from "../api/tenancy.ts";
import type { EventStream, EventStreamStatus } from "../api/types.ts";
import { JetStreamRefused, NatsUnavailable, type StreamState } from "../jetstream/admin.ts";
import { desiredStreamConfig, diffStreamConfig } from "../jetstream/stream-config.ts";
import { EVENTSTREAMS, type ReconcileContext } from "./context.ts";
import { ensureFinalizer, hasFinalizer, removeFinalizer } from "./finalizer.ts";
import { asReconcileProblem, done, ReconcileProblem, TerminalError, type ReconcileResult } from "./result.ts";
import { statusPatch } from "./status.ts";
import { isConflict } from "../kube/rest.ts";

const OWNED = ["observedGeneration", "conditions", "streamName", "messages", "bytes", "lastSequence", "consumers", "lastError"] as const;

/** Does `a` win a subject conflict with `b`? The older object keeps its subjects. */
function olderThan(a: EventStream, b: EventStream): boolean {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb;
  return `${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}`;
}

/** Ready=False reasons of a spec that was refused before any JetStream stream was made for it. */
const REFUSED_REASONS = new Set(["InvalidName", "InvalidSpec", "SubjectNotAllowed", "SubjectsOverlap", "JetStreamRefused"]);

/** True for an EventStream that was refused and never became a JetStream stream: it holds no subjects. */
export function isRefusedStream(s: EventStream): boolean {
  if (s.status?.streamName) return false;
  const ready = s.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.status === "False" && REFUSED_REASONS.has(ready.reason ?? "");
}

/**
 * May `other` keep subjects that `obj` also wants? A stream that exists in JetStream does; so
 * does an older one not refused yet (it may be about to be created). A refused one never does:
 * one EventStream on ">" that JetStream refused used to block every newer one in every namespace.
 */
function holdsSubjectsAgainst(other: EventStream, obj: EventStream): boolean {
  if (other === obj || other.metadata.deletionTimestamp) return false;
  if (other.status?.streamName) return true;
  return olderThan(other, obj) && !isRefusedStream(other);
}

export class EventStreamReconciler {
  private readonly ctx: ReconcileContext;

  constructor(ctx: ReconcileContext) {
    this.ctx = ctx;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { ctx } = this;
    const cached = ctx.streams.get(key);
    if (!cached) {
      const { namespace, name } = splitKey(key);
      ctx.metrics.forgetStream(namespace, name);
      return done;
    }
    let obj = cached;
    const ns = obj.metadata.namespace;
    const jsName = jetStreamName(ns, obj.metadata.name);

    if (obj.metadata.deletionTimestamp) return this.finalize(obj, jsName);

    let observed: EventStreamStatus | undefined;
    try {
      const badName = validateName(obj.metadata.name);
      if (badName) throw new TerminalError("InvalidName", badName);
      const resolved = resolveStreamSpec(obj.spec);
      if (!resolved.ok) throw new TerminalError("InvalidSpec", resolved.problems.join("; "));
      const spec = resolved.value;
      const notAllowed = confinementProblem(ctx.subjectPolicy, ns, "spec.subjects", spec.subjects);
      if (notAllowed) throw new TerminalError("SubjectNotAllowed", notAllowed);

      // JetStream lets a subject belong to one stream only; say which resource holds it.
      for (const other of ctx.streams.list()) {
        if (!holdsSubjectsAgainst(other, obj)) continue;
        const clash = firstOverlap(spec.subjects, other.spec?.subjects ?? []);
        if (clash) {
          throw new TerminalError(
            "SubjectsOverlap",
            `subject "${clash[0]}" overlaps "${clash[1]}" of EventStream ${other.metadata.namespace}/${other.metadata.name} ` +
              `(stream ${jetStreamName(other.metadata.namespace, other.metadata.name)}); a subject can belong to one stream only: narrow or remove one of them`,
          );
        }
      }

      obj = await ensureFinalizer(ctx.writer, EVENTSTREAMS, obj);
      const admin = ctx.nats.admin();
      if (!admin) throw new NatsUnavailable(ctx.nats.lastError);

      const desired = desiredStreamConfig(jsName, spec);
      let state: StreamState | undefined = await admin.streamInfo(jsName);
      let immutable: string[] = [];
      if (!state) {
        state = await admin.addStream(desired);
        if (obj.status?.streamName) {
          ctx.events.warning(
            obj,
            "StreamRecreated",
            `stream ${jsName} was missing in JetStream (deleted outside the operator, or a memory stream lost in a NATS restart); recreated it empty`,
          );
        } else ctx.events.normal(obj, "StreamCreated", `created JetStream stream ${jsName}`);
      } else {
        const diff = diffStreamConfig(desired, state.config);
        immutable = diff.immutable;
        if (diff.updatable.length > 0) {
          // Keep the server's values for what cannot change, update the rest.
          const cfg = { ...desired, retention: String(state.config.retention), storage: String(state.config.storage) };
          const fields = diff.updatable.map((f) => `spec.${f}`).join(", ");
          state = await admin.updateStream(cfg).catch((err: unknown) => {
            // Some servers refuse more than retention/storage (older 2.9 releases): name the fields.
            if (err instanceof JetStreamRefused)
              throw new JetStreamRefused(`could not update ${fields} in place: ${err.message}; revert ${fields} or recreate the EventStream`, err.code);
            throw err;
          });
          const drift = obj.status?.observedGeneration === obj.metadata.generation;
          ctx.events.normal(
            obj,
            drift ? "DriftRepaired" : "StreamUpdated",
            drift
              ? `stream ${jsName} was changed outside the operator (${diff.updatable.join(", ")}); restored the spec's values`
              : `updated ${diff.updatable.join(", ")} of stream ${jsName}`,
          );
        }
      }
      ctx.metrics.setStream(ns, obj.metadata.name, state.messages, state.bytes);

      const status: EventStreamStatus = {
        streamName: jsName,
        messages: state.messages,
        bytes: state.bytes,
        lastSequence: state.lastSequence,
        consumers: state.consumers,
      };
      if (immutable.length > 0) {
        const fields = immutable.map((f) => `spec.${f}`).join(", ");
        const message =
          `${fields} cannot be changed on an existing JetStream stream (${immutable.map((f) => `${f} is ${String(state.config[f])}`).join(", ")}). ` +
          `Revert ${fields}, or move the data: create a new EventStream with the new settings, or delete this one with deletionPolicy: Delete (its messages are lost) and apply it again`;
        // The stream's numbers are still true; the refusal is recorded with them.
        observed = status;
        throw new TerminalError("ImmutableFieldChanged", message);
      }
      status.observedGeneration = obj.metadata.generation;
      status.conditions = setCondition(
        obj.status?.conditions,
        { type: "Ready", status: "True", reason: "StreamReady", message: `stream ${jsName} matches the spec` },
        ctx.now().toISOString(),
        obj.metadata.generation,
      );
      await this.writeStatus(obj, status);
      return done;
    } catch (err) {
      return this.failed(obj, jsName, err, observed);
    }
  }

  /**
   * Records a failure in status (with what was `observed` of the stream before it) and hands
   * it to the queue in the one vocabulary (result.ts): terminal, retry-after, or backoff.
   */
  private async failed(obj: EventStream, jsName: string, err: unknown, observed: EventStreamStatus = {}): Promise<ReconcileResult> {
    const { ctx } = this;
    // A stale copy of the object is not a problem to report: retry with fresh data.
    if (isConflict(err)) throw err;
    const problem = asReconcileProblem(err, `stream ${jsName}`);
    const reason = problem instanceof ReconcileProblem ? problem.reason : "ReconcileError";
    const message = (problem as Error).message;
    const prevReason = obj.status?.conditions?.find((c) => c.type === "Ready")?.reason;
    if (prevReason !== reason) ctx.events.warning(obj, reason, message);
    const status: EventStreamStatus = {
      ...pick(obj.status),
      ...observed,
      observedGeneration: obj.status?.observedGeneration,
      lastError: message,
      conditions: setCondition(obj.status?.conditions, { type: "Ready", status: "False", reason, message }, ctx.now().toISOString(), obj.metadata.generation),
    };
    // If even the status cannot be written (conflict, API server away), retry the whole
    // reconcile with backoff rather than leave a refusal invisible until the next resync.
    await this.writeStatus(obj, status);
    throw problem;
  }

  private async finalize(obj: EventStream, jsName: string): Promise<ReconcileResult> {
    const { ctx } = this;
    if (!hasFinalizer(obj)) return done;
    if ((obj.spec?.deletionPolicy ?? "Retain") === "Delete") {
      const admin = ctx.nats.admin();
      if (!admin) {
        // Deleting without NATS would leave an orphan stream: wait (and say so).
        return this.failed(obj, jsName, new NatsUnavailable(ctx.nats.lastError));
      }
      await admin.deleteStream(jsName);
      ctx.events.normal(obj, "StreamDeleted", `deleted JetStream stream ${jsName} (deletionPolicy: Delete)`);
    } else {
      ctx.events.normal(obj, "StreamRetained", `kept JetStream stream ${jsName} and its messages (deletionPolicy: Retain)`);
    }
    await removeFinalizer(ctx.writer, EVENTSTREAMS, obj);
    ctx.metrics.forgetStream(obj.metadata.namespace, obj.metadata.name);
    return done;
  }

  private async writeStatus(obj: EventStream, next: EventStreamStatus): Promise<void> {
    const patch = statusPatch(obj.status as Record<string, unknown> | undefined, next as Record<string, unknown>, OWNED);
    if (patch) await this.ctx.writer.patchStatus(EVENTSTREAMS, obj, patch);
  }
}

function pick(s: EventStreamStatus | undefined): EventStreamStatus {
  const out: EventStreamStatus = {};
  if (!s) return out;
  for (const k of OWNED) if (s[k] !== undefined) (out as Record<string, unknown>)[k] = s[k];
  return out;
}
