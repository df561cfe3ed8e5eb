// One autoscaler per EventSubscription: every poll interval, read the consumer, estimate
// rates, decide, and write the Deployment's scale — unless a person or another autoscaler
// owns the replica count. The decision itself lives in decide.ts; this file is the I/O loop.
import { decide, INITIAL_DECISION_STATE, type DecisionState } from "./decide.ts";
import { updateRates, INITIAL_RATE_STATE, type RateState } from "./rates.ts";
import type {
  AutoscaleReporter,
  AutoscaleStatus,
  ConsumerLag,
  LagSource,
  ScaleTarget,
  ScalingCondition,
  ScalingConditionReason,
  ScalingTarget,
} from "./types.ts";
import { ScaleForbiddenError } from "./types.ts";

export interface AutoscalerDeps {
  lagSource: LagSource;
  scaleTarget: ScaleTarget;
  reporter: AutoscaleReporter;
  /** ms clock (injectable for tests). */
  now?: () => number;
  /** Status is re-sent at least this often even when only the lag moved (ms). Default 10 s. */
  statusRefreshMs?: number;
  /** Called with errors the loop swallowed (logging). */
  onError?: (target: ScalingTarget, err: unknown) => void;
}

/** Sameness of two targets that can be updated in place (same consumer and Deployment). */
export function sameScaleSubject(a: ScalingTarget, b: ScalingTarget): boolean {
  return a.namespace === b.namespace && a.stream === b.stream && a.consumer === b.consumer && a.deployment === b.deployment;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function failureReason(err: unknown): "Forbidden" | "ScaleFailed" {
  return err instanceof ScaleForbiddenError ? "Forbidden" : "ScaleFailed";
}

export class SubscriptionAutoscaler {
  #target: ScalingTarget;
  readonly #deps: AutoscalerDeps;
  readonly #now: () => number;
  #rates: RateState = INITIAL_RATE_STATE;
  #decision: DecisionState = INITIAL_DECISION_STATE;
  /** The replica count this autoscaler last wrote (the manual-override rule needs it). */
  #lastWritten: number | undefined;
  #lastScaleTime: string | undefined;
  #lastScaleReason: string | undefined;
  #lastStatusKey = "";
  #lastStatusAt = 0;
  #lastConditionReason: ScalingConditionReason | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(target: ScalingTarget, deps: AutoscalerDeps) {
    this.#target = target;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#lastWritten = target.lastDesiredReplicas;
  }

  get target(): ScalingTarget {
    return this.#target;
  }

  /** New policy for the same consumer and Deployment: keeps the measured rates and history. */
  update(target: ScalingTarget): void {
    if (!sameScaleSubject(this.#target, target)) throw new Error("update() needs the same stream, consumer and deployment; create a new autoscaler");
    this.#target = target;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops polling and waits for a poll in progress to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.tick().finally(() => {
        this.#running = undefined;
        this.#schedule(this.#target.policy.pollIntervalSeconds * 1000);
      });
    }, delayMs);
    this.#timer.unref?.();
  }

  /** One poll: read, estimate, decide, maybe scale, report. Never throws. */
  async tick(): Promise<void> {
    try {
      await this.#tick();
    } catch (err) {
      // Only a reporter can get here (the I/O edges are caught below); keep polling.
      this.#deps.onError?.(this.#target, err);
    }
  }

  async #tick(): Promise<void> {
    const t = this.#target;
    const { policy } = t;
    const now = this.#now();

    let lag: ConsumerLag | null;
    try {
      lag = await this.#deps.lagSource.read(t.stream, t.consumer);
    } catch (err) {
      this.#deps.onError?.(t, err);
      await this.#setCondition(false, "LagUnavailable", `cannot read consumer ${t.consumer} on stream ${t.stream}: ${errorText(err)}`);
      return;
    }
    if (lag === null) {
      // A missing consumer must not look like "no lag" (scale in) or "infinite lag" (scale out).
      this.#rates = INITIAL_RATE_STATE;
      this.#deps.reporter.observe(t, { maxReplicas: policy.maxReplicas, drainObjectiveSeconds: policy.maxDrainSeconds });
      await this.#setCondition(false, "ConsumerNotFound", `consumer ${t.consumer} on stream ${t.stream} does not exist; scaling paused`);
      return;
    }

    let scale;
    try {
      scale = await this.#deps.scaleTarget.get(t.namespace, t.deployment);
    } catch (err) {
      this.#deps.onError?.(t, err);
      await this.#setCondition(false, failureReason(err), `cannot read Deployment ${t.namespace}/${t.deployment}: ${errorText(err)}`, lag);
      return;
    }
    const current = scale?.replicas;
    if (lag.paused) {
      // Lag grows while nothing is delivered: scaling out on it would start pods that get
      // nothing, scaling in would leave too few for the backlog on resume. Rates restart then.
      this.#rates = INITIAL_RATE_STATE;
      this.#deps.reporter.observe(t, {
        lag,
        maxReplicas: policy.maxReplicas,
        drainObjectiveSeconds: policy.maxDrainSeconds,
        ...(current !== undefined ? { currentReplicas: current, desiredReplicas: current } : {}),
      });
      const replicas = current === undefined ? "" : `; Deployment ${t.deployment} stays at ${current} replicas`;
      await this.#setCondition(
        false,
        "Paused",
        `consumer ${t.consumer} is paused (spec.paused): no scaling until it is resumed${replicas}`,
        lag,
        current,
        current,
      );
      return;
    }
    this.#rates = updateRates(this.#rates, {
      at: now,
      pending: lag.pending,
      ackPending: lag.ackPending,
      ackFloorConsumerSeq: lag.ackFloorConsumerSeq,
      deliveredConsumerSeq: lag.deliveredConsumerSeq,
      readyReplicas: scale ? (scale.readyReplicas ?? scale.replicas) : 0,
    });
    const observation = {
      lag: lag.pending + lag.ackPending,
      arrivalRate: this.#rates.arrivalRate,
      perReplicaRate: this.#rates.perReplicaRate,
    };

    if (scale === null || current === undefined) {
      this.#deps.reporter.observe(t, {
        lag,
        arrivalRate: observation.arrivalRate,
        perReplicaRate: observation.perReplicaRate,
        maxReplicas: policy.maxReplicas,
        drainObjectiveSeconds: policy.maxDrainSeconds,
      });
      await this.#setCondition(false, "DeploymentNotFound", `Deployment ${t.namespace}/${t.deployment} not found; scaling paused until it exists`, lag);
      return;
    }

    if (this.#decision.recommendations.length === 0 && this.#decision.lastScaleAt === undefined) {
      // A fresh autoscaler (new subscription or operator restart) knows nothing of the last
      // window: count the replicas running now as a recommendation, so a restart never scales
      // in before scaleDownStabilization has passed. Scaling out is not held back by this.
      this.#decision = { recommendations: [{ at: now, replicas: current }] };
    }
    const d = decide({ now, policy, currentReplicas: current, observation, state: this.#decision });
    this.#decision = d.state;
    const delegated = policy.mode !== "native";
    // The manual-override rule (docs/autoscaling.md): act only when the current count lies
    // within [min, max] or is the value we wrote ourselves (bounds changed under us).
    const outside = current < policy.minReplicas || current > policy.maxReplicas;
    const override = !delegated && outside && current !== this.#lastWritten;
    this.#deps.reporter.observe(t, {
      lag,
      arrivalRate: observation.arrivalRate,
      perReplicaRate: observation.perReplicaRate,
      currentReplicas: current,
      desiredReplicas: delegated ? current : d.desiredReplicas,
      maxReplicas: policy.maxReplicas,
      drainSeconds: d.drainSeconds,
      drainObjectiveSeconds: policy.maxDrainSeconds,
    });

    if (delegated) {
      const who = policy.mode === "keda" ? "a KEDA ScaledObject" : "a HorizontalPodAutoscaler";
      await this.#setCondition(
        true,
        policy.mode === "keda" ? "DelegatedToKeda" : "DelegatedToHpa",
        `mode ${policy.mode}: ${who} scales Deployment ${t.deployment}; JetMesh only reports lag`,
        lag,
        current,
        current,
      );
      return;
    }
    if (override) {
      await this.#setCondition(
        false,
        "ManualOverride",
        `Deployment ${t.deployment} has ${current} replicas, outside [${policy.minReplicas}, ${policy.maxReplicas}], set by someone else; JetMesh resumes when spec.replicas is back within bounds (it would run ${d.desiredReplicas})`,
        lag,
        current,
        // What JetMesh would run, never the person's value: after a restart, desired is
        // taken as "last written", and the person's value must not become JetMesh's.
        d.desiredReplicas,
      );
      return;
    }

    if (lag.circuitOpen && d.desiredReplicas > current) {
      // More replicas would only call the failing downstream more often.
      await this.#setCondition(
        false,
        "CircuitOpen",
        `not scaling out Deployment ${t.deployment} beyond ${current} replicas (it would run ${d.desiredReplicas}: ${d.reason}): ${lag.circuitOpen}; the lag is not a capacity problem, scaling resumes when the circuit closes`,
        lag,
        current,
        current,
      );
      return;
    }
    if (d.desiredReplicas !== current) {
      try {
        await this.#deps.scaleTarget.set(t.namespace, t.deployment, d.desiredReplicas);
      } catch (err) {
        this.#deps.onError?.(t, err);
        await this.#setCondition(
          false,
          failureReason(err),
          `cannot scale Deployment ${t.deployment} to ${d.desiredReplicas}: ${errorText(err)}`,
          lag,
          current,
          d.desiredReplicas,
        );
        return;
      }
      this.#lastWritten = d.desiredReplicas;
      this.#lastScaleTime = new Date(now).toISOString();
      this.#lastScaleReason = d.reason;
      const direction = d.desiredReplicas > current ? "up" : "down";
      this.#deps.reporter.scaled?.(t, direction, current, d.desiredReplicas);
      await this.#deps.reporter.event(t, {
        type: "Normal",
        reason: direction === "up" ? "ScaledUp" : "ScaledDown",
        message: `Scaled Deployment ${t.deployment} from ${current} to ${d.desiredReplicas}: ${d.reason}`,
      });
      await this.#setCondition(true, "Scaling", `scaled to ${d.desiredReplicas}: ${d.reason}`, lag, d.desiredReplicas, d.desiredReplicas);
      return;
    }
    // In bounds and steady: adopt the current count as ours so a later bounds change is followed.
    this.#lastWritten = current;
    await this.#setCondition(true, "Scaling", `${current} replicas: ${d.reason}`, lag, current, d.desiredReplicas);
  }

  async #setCondition(ok: boolean, reason: ScalingConditionReason, message: string, lag?: ConsumerLag, current?: number, desired?: number): Promise<void> {
    const t = this.#target;
    const condition: ScalingCondition = { type: "Scaling", status: ok ? "True" : "False", reason, message };
    // Paused is what a person asked for: the reconciler's ConsumerPaused Event says it already.
    if (!ok && reason !== this.#lastConditionReason && reason !== "Paused") {
      await this.#deps.reporter.event(t, { type: "Warning", reason, message });
    }
    this.#lastConditionReason = reason;
    const status: AutoscaleStatus = {
      condition,
      ...(current !== undefined && desired !== undefined ? { replicas: { current, desired } } : {}),
      ...(lag ? { lag: { pending: lag.pending, ackPending: lag.ackPending, redelivered: lag.redelivered } } : {}),
      ...(this.#lastScaleTime ? { lastScaleTime: this.#lastScaleTime, lastScaleReason: this.#lastScaleReason } : {}),
    };
    // The message carries moving numbers; compare what a reader cares about.
    const key = JSON.stringify([condition.status, reason, status.replicas, status.lastScaleTime]);
    const now = this.#now();
    if (key === this.#lastStatusKey && now - this.#lastStatusAt < (this.#deps.statusRefreshMs ?? 10_000)) return;
    this.#lastStatusKey = key;
    this.#lastStatusAt = now;
    await this.#deps.reporter.status(t, status);
  }
}
