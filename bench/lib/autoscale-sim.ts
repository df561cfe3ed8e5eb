// Discrete-time (1 s ticks) simulation of one subscription: a FIFO backlog fed by an
// arrival trace, pods that serve a fixed number of messages per second once started, and
// a scaling policy that reads simulated consumer info and sets the replica count.
// Both policies (JetMesh's real decide()/updateRates(), and the KEDA+HPA model) see the
// same arrivals (same seeded noise), the same service rate and the same start-up delay.
import {
  decide,
  INITIAL_DECISION_STATE,
  updateRates,
  INITIAL_RATE_STATE,
  type ConsumerSample,
  type DecisionState,
  type RateState,
  type ScalingPolicy,
} from "@jetmesh/operator/autoscale";
import { prng } from "@jetmesh/testing";

export interface Trace {
  name: string;
  durationSeconds: number;
  /** Mean arrival rate (msgs/s) during second t. */
  rate: (t: number) => number;
  /** Start of the burst whose reaction time is reported (seconds), if the trace has one. */
  burstAt?: number;
  minReplicas: number;
}

export interface World {
  /** Messages one ready pod finishes per second. */
  serviceRate: number;
  /** Seconds from "replica added" to "pod consuming". */
  startupSeconds: number;
  /** Messages a ready pod holds un-acked (pull batch), for num_ack_pending. */
  prefetchPerPod: number;
  seed: number;
}

/** What a policy sees at a decision point and what it returns. */
export interface PolicyView {
  now: number;
  sample: ConsumerSample;
  /** spec.replicas of the Deployment (pods running or starting). */
  replicas: number;
}

export interface ScalingModel {
  name: string;
  /** Seconds between decisions. */
  intervalSeconds: number;
  /** Offset of the first decision (seconds), so policies are not phase-aligned with bursts by luck. */
  phaseSeconds: number;
  step(view: PolicyView): number;
}

export interface SimResult {
  replicaSeconds: number;
  sloViolationSeconds: number;
  reactionSeconds: number | null;
  reversals: number;
  scaleActions: number;
  maxReplicas: number;
  maxBacklog: number;
  maxAgeSeconds: number;
  processed: number;
  arrived: number;
}

/** Poisson-distributed arrivals with the given mean (normal approximation above 30). */
export function arrivalsFor(trace: Trace, seed: number): number[] {
  const rand = prng(seed); // identical arrivals for both policies
  const out: number[] = [];
  for (let t = 0; t < trace.durationSeconds; t++) {
    const mean = Math.max(0, trace.rate(t));
    let n: number;
    if (mean === 0) n = 0;
    else if (mean > 30) {
      const u = Math.max(rand(), 1e-12);
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
      n = Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
    } else {
      const l = Math.exp(-mean);
      let p = 1;
      n = -1;
      do {
        n++;
        p *= rand();
      } while (p > l);
    }
    out.push(n);
  }
  return out;
}

export function simulate(trace: Trace, arrivals: number[], world: World, model: ScalingModel, sloSeconds: number): SimResult {
  // Backlog as FIFO chunks [arrivalTime, count].
  const backlog: Array<[number, number]> = [];
  let backlogSize = 0;
  let processed = 0;
  let arrived = 0;
  const podsReadyAt: number[] = [];
  for (let i = 0; i < trace.minReplicas; i++) podsReadyAt.push(-Infinity);
  let replicaSeconds = 0;
  let slo = 0;
  let reaction: number | null = null;
  let lastDirection = 0;
  let reversals = 0;
  let actions = 0;
  let maxReplicas = podsReadyAt.length;
  let maxBacklog = 0;
  let maxAge = 0;
  let nextDecision = model.phaseSeconds;

  for (let t = 0; t < trace.durationSeconds; t++) {
    const now = t + 1;
    const n = arrivals[t] ?? 0;
    if (n > 0) {
      backlog.push([t + 0.5, n]);
      backlogSize += n;
      arrived += n;
    }
    const ready = podsReadyAt.filter((r) => r <= t).length;
    let capacity = ready * world.serviceRate;
    while (capacity > 0 && backlog.length > 0) {
      const head = backlog[0]!;
      const take = Math.min(capacity, head[1]);
      head[1] -= take;
      capacity -= take;
      backlogSize -= take;
      processed += take;
      if (head[1] === 0) backlog.shift();
    }
    replicaSeconds += podsReadyAt.length;
    const oldestAge = backlog.length > 0 ? now - backlog[0]![0] : 0;
    if (oldestAge > sloSeconds) slo++;
    maxAge = Math.max(maxAge, oldestAge);
    maxBacklog = Math.max(maxBacklog, backlogSize);

    if (now >= nextDecision) {
      nextDecision += model.intervalSeconds;
      const readyNow = podsReadyAt.filter((r) => r <= now).length;
      const inFlight = Math.min(backlogSize, readyNow * world.prefetchPerPod);
      const sample: ConsumerSample = {
        at: now * 1000,
        pending: backlogSize - inFlight,
        ackPending: inFlight,
        ackFloorConsumerSeq: processed,
        deliveredConsumerSeq: processed + inFlight,
        readyReplicas: readyNow,
      };
      const current = podsReadyAt.length;
      const target = model.step({ now, sample, replicas: current });
      if (target !== current) {
        actions++;
        const dir = Math.sign(target - current);
        if (lastDirection !== 0 && dir !== lastDirection) reversals++;
        lastDirection = dir;
        if (dir > 0 && reaction === null && trace.burstAt !== undefined && now >= trace.burstAt) reaction = now - trace.burstAt;
        if (target > current) for (let i = current; i < target; i++) podsReadyAt.push(now + world.startupSeconds);
        else {
          // Kubernetes removes not-yet-ready pods first; newest pods are last in the list.
          podsReadyAt.sort((a, b) => a - b);
          podsReadyAt.length = target;
        }
        maxReplicas = Math.max(maxReplicas, target);
      }
    }
  }
  return {
    replicaSeconds,
    sloViolationSeconds: slo,
    reactionSeconds: reaction,
    reversals,
    scaleActions: actions,
    maxReplicas,
    maxBacklog,
    maxAgeSeconds: Math.round(maxAge * 10) / 10,
    processed,
    arrived,
  };
}

/** JetMesh: the operator's own estimator and decision, polled every pollInterval. */
export function jetmeshModel(policy: ScalingPolicy): ScalingModel {
  let rates: RateState = INITIAL_RATE_STATE;
  let state: DecisionState = INITIAL_DECISION_STATE;
  return {
    name: "jetmesh",
    intervalSeconds: policy.pollIntervalSeconds,
    phaseSeconds: policy.pollIntervalSeconds,
    step({ now, sample, replicas }) {
      rates = updateRates(rates, sample);
      const d = decide({
        now: now * 1000,
        policy,
        currentReplicas: replicas,
        observation: {
          lag: sample.pending + sample.ackPending,
          arrivalRate: rates.arrivalRate,
          perReplicaRate: rates.perReplicaRate,
        },
        state,
      });
      state = d.state;
      return d.desiredReplicas;
    },
  };
}

export interface KedaHpaDefaults {
  /** KEDA ScaledObject pollingInterval: activation checks (0 ↔ 1). */
  kedaPollingSeconds: number;
  /** KEDA cooldownPeriod: time without activity before scaling to zero. */
  kedaCooldownSeconds: number;
  /** kube-controller-manager --horizontal-pod-autoscaler-sync-period. */
  hpaSyncSeconds: number;
  hpaTolerance: number;
  hpaScaleDownStabilizationSeconds: number;
}

export const KEDA_HPA_DEFAULTS: KedaHpaDefaults = {
  kedaPollingSeconds: 30,
  kedaCooldownSeconds: 300,
  hpaSyncSeconds: 15,
  hpaTolerance: 0.1,
  hpaScaleDownStabilizationSeconds: 300,
};

/**
 * KEDA's nats-jetstream scaler behind an HPA, with default settings:
 * - metric = num_pending + num_ack_pending, external metric target AverageValue = lagThreshold;
 *   the KEDA metrics server queries the scaler on each HPA request (useCachedMetrics: false),
 *   so the HPA sees fresh lag at every sync;
 * - HPA: desired = ceil(current × (lag/current)/target), skipped within ±tolerance;
 *   scale-up limited to max(+100 %, +4 pods) per sync period (15 s); scale-down takes the
 *   highest recommendation of the last 300 s;
 * - KEDA: activation 0 → 1 when lag > 0 at its polling interval; back to 0 after
 *   cooldownPeriod without lag (only when minReplicas is 0).
 */
export function kedaHpaModel(policy: ScalingPolicy, d: KedaHpaDefaults = KEDA_HPA_DEFAULTS): ScalingModel {
  const recs: Array<[number, number]> = [];
  let lastActive = -Infinity;
  // Tick every second; the HPA and KEDA loops fire on their own periods.
  return {
    name: "keda+hpa",
    intervalSeconds: 1,
    phaseSeconds: 1,
    step({ now, sample, replicas }) {
      const lag = sample.pending + sample.ackPending;
      const kedaTick = now % d.kedaPollingSeconds === 0;
      const hpaTick = now % d.hpaSyncSeconds === 0;
      if (kedaTick && lag > 0) lastActive = now;
      if (replicas === 0) {
        return kedaTick && lag > 0 ? 1 : 0;
      }
      if (policy.minReplicas === 0 && kedaTick && lag === 0 && now - lastActive >= d.kedaCooldownSeconds) return 0;
      if (!hpaTick) return replicas;
      const ratio = lag / (policy.targetLagPerReplica * replicas);
      let rec = Math.abs(ratio - 1) <= d.hpaTolerance ? replicas : Math.ceil(ratio * replicas);
      // The HPA itself never goes below 1; KEDA owns 0.
      rec = Math.min(policy.maxReplicas, Math.max(Math.max(1, policy.minReplicas), rec));
      recs.push([now, rec]);
      while (recs.length > 0 && recs[0]![0] <= now - d.hpaScaleDownStabilizationSeconds) recs.shift();
      let desired = rec;
      if (rec < replicas) desired = Math.min(replicas, Math.max(...recs.map((r) => r[1])));
      if (desired > replicas) desired = Math.min(desired, Math.max(2 * replicas, replicas + 4));
      return Math.min(policy.maxReplicas, desired);
    },
  };
}

/** Several seeded runs of one trace as one result: means of totals, worst case of maxima and reaction. */
export function combineRuns(runs: SimResult[]): SimResult {
  const mean = (f: (r: SimResult) => number) => Math.round((runs.reduce((s, r) => s + f(r), 0) / runs.length) * 10) / 10;
  const worst = (f: (r: SimResult) => number) => Math.max(...runs.map(f));
  const reactions = runs.map((r) => r.reactionSeconds).filter((x): x is number => x !== null);
  return {
    replicaSeconds: mean((r) => r.replicaSeconds),
    sloViolationSeconds: mean((r) => r.sloViolationSeconds),
    reactionSeconds: reactions.length > 0 ? Math.max(...reactions) : null,
    reversals: mean((r) => r.reversals),
    scaleActions: mean((r) => r.scaleActions),
    maxReplicas: worst((r) => r.maxReplicas),
    maxBacklog: worst((r) => r.maxBacklog),
    maxAgeSeconds: worst((r) => r.maxAgeSeconds),
    processed: mean((r) => r.processed),
    arrived: mean((r) => r.arrived),
  };
}
