// The scaling decision: a pure function from (policy, current replicas, observation, state)
// to (desired replicas, reason, next state). No clocks, no I/O: the autoscaler and the
// benchmark feed it, tests table-drive it. The formula is explained in docs/autoscaling.md.
import type { ScalingPolicy } from "./policy.ts";

export interface Observation {
  /** num_pending + num_ack_pending. */
  lag: number;
  /** Smoothed arrival rate of matching messages, msgs/s (undefined: not known yet). */
  arrivalRate?: number;
  /** Smoothed capacity of one replica, msgs/s (undefined: no replica has been seen busy). */
  perReplicaRate?: number;
}

export interface DecisionTuning {
  /** Changes smaller than this fraction of the current replicas are ignored (HPA: 0.1). */
  tolerance: number;
  /** One decision may grow to max(current × upFactor, current + upPods). */
  scaleUpFactor: number;
  scaleUpPods: number;
  /** One decision may shrink to no less than floor(current × scaleDownFactor). */
  scaleDownFactor: number;
  /**
   * Fraction of maxDrainSeconds a message arriving now may wait behind the backlog. The rest
   * is the margin for the poll interval, pod start-up and a wrong arrival estimate.
   */
  waitFraction: number;
}

export const DECISION_DEFAULTS: DecisionTuning = {
  tolerance: 0.1,
  scaleUpFactor: 2,
  scaleUpPods: 4,
  scaleDownFactor: 0.5,
  waitFraction: 0.5,
};

export interface Recommendation {
  /** ms */
  at: number;
  replicas: number;
}

export interface DecisionState {
  /** Recommendations of the last scaleDownStabilization seconds, oldest first. */
  recommendations: Recommendation[];
  /** When the decision last changed the replica count, ms. */
  lastScaleAt?: number;
}

export const INITIAL_DECISION_STATE: DecisionState = { recommendations: [] };

export interface DecisionInput {
  /** ms; only used to age the stabilization window. */
  now: number;
  policy: ScalingPolicy;
  currentReplicas: number;
  observation: Observation;
  state: DecisionState;
  tuning?: DecisionTuning;
}

export interface Decision {
  desiredReplicas: number;
  /** One line a person can read in status and Events. */
  reason: string;
  /** What the formula asked for before stabilization and rate limits. */
  recommendedReplicas: number;
  /** Estimated seconds to drain the lag with the current replicas (Infinity: never). */
  drainSeconds: number | undefined;
  state: DecisionState;
}

const EPS = 1e-9;

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** Seconds to drain `lag` with `replicas` replicas working at `perReplicaRate` while `arrival` keeps coming. */
export function estimateDrainSeconds(lag: number, arrival: number, replicas: number, perReplicaRate: number | undefined): number | undefined {
  if (lag <= 0) return 0;
  if (perReplicaRate === undefined) return undefined;
  const surplus = replicas * perReplicaRate - arrival;
  return surplus > 0 ? lag / surplus : Infinity;
}

export function decide(input: DecisionInput): Decision {
  const { now, policy, observation } = input;
  const tuning = input.tuning ?? DECISION_DEFAULTS;
  const current = Math.max(0, input.currentReplicas);
  const lag = Math.max(0, observation.lag);
  const arrival = Math.max(0, observation.arrivalRate ?? 0);
  const mu = observation.perReplicaRate !== undefined && observation.perReplicaRate > 0 ? observation.perReplicaRate : undefined;

  // 1. What the load asks for, as a fraction of replicas.
  const floorNeed = lag / policy.targetLagPerReplica;
  // The backlog is FIFO: a message arriving now waits about lag / (replicas × mu). Enough
  // replicas keep that wait within waitFraction × maxDrainSeconds and keep up with arrivals
  // (so the backlog, and the wait, stop growing). Emptying the whole backlog on top of
  // serving arrivals, as an earlier formula did, held the oldest message far below the
  // objective and cost replicas for nothing.
  const waitSeconds = tuning.waitFraction * policy.maxDrainSeconds;
  const drainNeed = mu === undefined ? undefined : Math.max(arrival, lag / waitSeconds) / mu;
  const idle = lag === 0 && arrival === 0;
  let need = Math.max(floorNeed, drainNeed ?? 0);
  let why: string;
  if (idle) {
    need = 0;
    why = "no lag and no arrivals";
  } else if (drainNeed !== undefined && drainNeed >= floorNeed) {
    why =
      arrival * waitSeconds >= lag
        ? `keep up with ${fmt(arrival)} msg/s arriving at ${fmt(mu!)} msg/s per replica (lag ${fmt(lag)})`
        : `wait behind lag ${fmt(lag)} within ${fmt(waitSeconds)}s at ${fmt(mu!)} msg/s per replica (${fmt(arrival)} msg/s arriving)`;
  } else {
    why = `lag ${fmt(lag)} at ${policy.targetLagPerReplica} per replica`;
  }

  // 2. Whole replicas, ignoring changes within the tolerance band.
  let recommended = Math.max(0, Math.ceil(need - EPS)); // max(0, …) also turns -0 into 0
  if (!idle && current > 0 && recommended !== current && Math.abs(need / current - 1) <= tuning.tolerance) {
    recommended = current;
    why += ` (within ${Math.round(tuning.tolerance * 100)}% tolerance)`;
  }
  // Activation: a pending message or an arrival always gets at least one replica.
  if (!idle && recommended < 1) recommended = 1;
  if (recommended > policy.maxReplicas) {
    why += `: ${recommended}, capped at maxReplicas`;
    recommended = policy.maxReplicas;
  } else if (recommended < policy.minReplicas) {
    why += `: ${recommended}, raised to minReplicas`;
    recommended = policy.minReplicas;
  }

  // 3. Scale-down stabilization. A recommendation made `age` seconds ago holds the replicas
  // above today's recommendation by its excess × (1 − age / window), rounded up: a one-replica
  // wobble (noise) is held for the whole window as with the HPA, while a large drop (the end
  // of a burst) is released step by step over the window instead of all at its end.
  const windowMs = policy.scaleDownStabilizationSeconds * 1000;
  const windowStart = now - windowMs;
  const recommendations = [...input.state.recommendations.filter((r) => r.at > windowStart && r.at <= now), { at: now, replicas: recommended }];
  let desired = recommended;
  let reason = `${why}: ${recommended}`;
  if (recommended < current) {
    const windowMax = Math.max(
      ...recommendations.map((r) => (windowMs > 0 ? Math.ceil(recommended + (r.replicas - recommended) * (1 - (now - r.at) / windowMs) - EPS) : recommended)),
    );
    if (windowMax > recommended) {
      desired = Math.min(current, windowMax);
      reason = `${why}: ${recommended}, held at ${desired} by ${policy.scaleDownStabilizationSeconds}s scale-down stabilization`;
    }
  }

  // 4. Rate limits per decision.
  if (desired > current && current > 0) {
    const upLimit = Math.max(Math.ceil(current * tuning.scaleUpFactor), current + tuning.scaleUpPods);
    if (desired > upLimit) {
      desired = upLimit;
      reason += `, limited to ${upLimit} by the scale-up rate`;
    }
  } else if (desired < current) {
    const downLimit = Math.floor(current * tuning.scaleDownFactor);
    if (desired < downLimit) {
      desired = downLimit;
      reason += `, limited to ${downLimit} by the scale-down rate`;
    }
  }
  // The bounds win over the rate limits (e.g. minReplicas raised from 1 to 10).
  const bounded = Math.min(policy.maxReplicas, Math.max(policy.minReplicas, desired));
  if (bounded !== desired) {
    reason += `, ${bounded > desired ? "raised to minReplicas" : "capped at maxReplicas"} ${bounded}`;
    desired = bounded;
  }
  if (current === 0 && desired > 0) reason = `activation: ${reason}`;

  return {
    desiredReplicas: desired,
    reason,
    recommendedReplicas: recommended,
    drainSeconds: estimateDrainSeconds(lag, arrival, current, mu),
    state: { recommendations, lastScaleAt: desired !== current ? now : input.state.lastScaleAt },
  };
}
