import { describe, expect, it } from "vitest";
import { decide, INITIAL_DECISION_STATE, estimateDrainSeconds, type DecisionState, type Observation } from "../src/autoscale/decide.ts";
import { parseScalingPolicy, type ScalingPolicy } from "../src/autoscale/policy.ts";

const policy: ScalingPolicy = parseScalingPolicy({
  minReplicas: 1,
  maxReplicas: 20,
  targetLagPerReplica: 100,
  maxDrainSeconds: 30,
  scaleDownStabilization: "60s",
});
const toZero: ScalingPolicy = { ...policy, minReplicas: 0 };

interface Row {
  name: string;
  policy?: ScalingPolicy;
  current: number;
  obs: Observation;
  state?: DecisionState;
  now?: number;
  want: number;
  reason: RegExp;
}

const T0 = 1_000_000;

const rows: Row[] = [
  { name: "unknown capacity falls back to the lag floor", current: 1, obs: { lag: 450 }, want: 5, reason: /lag 450 at 100 per replica: 5/ },
  {
    name: "drain objective beats the lag floor when replicas are slow",
    current: 4,
    // (50 + 300/30) / 10 = 6 replicas; the lag floor would say 3.
    obs: { lag: 300, arrivalRate: 50, perReplicaRate: 10 },
    want: 6,
    reason: /drain 300 within 30s with 50 msg\/s arriving at 10 msg\/s per replica: 6/,
  },
  {
    name: "lag floor beats the drain objective when replicas are fast",
    current: 2,
    obs: { lag: 900, arrivalRate: 10, perReplicaRate: 500 },
    want: 6, // floor 9, but one decision may only reach max(2×2, 2+4) = 6
    reason: /lag 900 .*: 9, limited to 6 by the scale-up rate/,
  },
  { name: "within 10% tolerance keeps the current count", current: 10, obs: { lag: 0, arrivalRate: 104, perReplicaRate: 10 }, want: 10, reason: /tolerance/ },
  { name: "just outside tolerance scales up", current: 10, obs: { lag: 0, arrivalRate: 112, perReplicaRate: 10 }, want: 12, reason: /: 12$/ },
  { name: "bounded by maxReplicas", current: 16, obs: { lag: 100_000, arrivalRate: 10, perReplicaRate: 10 }, want: 20, reason: /lag 100000 at 100 per replica: 1000, capped at maxReplicas: 20$/ },
  { name: "bounded by minReplicas", current: 3, obs: { lag: 0, arrivalRate: 0 }, state: { recommendations: [] }, want: 1, reason: /no lag and no arrivals: 0, raised to minReplicas: 1/ },
  {
    name: "scale-down held by the highest recommendation in the window",
    current: 8,
    obs: { lag: 0, arrivalRate: 20, perReplicaRate: 10 },
    state: { recommendations: [{ at: T0 - 30_000, replicas: 8 }, { at: T0 - 10_000, replicas: 5 }] },
    want: 8,
    reason: /: 2, held at 8 by 60s scale-down stabilization/,
  },
  {
    name: "recommendations older than the window no longer hold",
    current: 8,
    obs: { lag: 0, arrivalRate: 20, perReplicaRate: 10 },
    state: { recommendations: [{ at: T0 - 61_000, replicas: 8 }, { at: T0 - 10_000, replicas: 5 }] },
    want: 5,
    reason: /held at 5/,
  },
  {
    name: "scale-down rate: at most halve per decision",
    current: 10,
    obs: { lag: 0, arrivalRate: 10, perReplicaRate: 10 },
    want: 5,
    reason: /: 1, limited to 5 by the scale-down rate/,
  },
  {
    name: "bounds win over the rate limits (minReplicas raised)",
    policy: { ...policy, minReplicas: 10 },
    current: 1,
    obs: { lag: 0, arrivalRate: 5, perReplicaRate: 10 },
    want: 10,
    reason: /raised to minReplicas: 10, limited to 5 by the scale-up rate, raised to minReplicas 10$/,
  },
  { name: "scale to zero with no lag and no arrivals", policy: toZero, current: 1, obs: { lag: 0, arrivalRate: 0, perReplicaRate: 10 }, want: 0, reason: /no lag and no arrivals: 0/ },
  {
    name: "zero waits for the stabilization window",
    policy: toZero,
    current: 1,
    obs: { lag: 0, arrivalRate: 0, perReplicaRate: 10 },
    state: { recommendations: [{ at: T0 - 20_000, replicas: 1 }] },
    want: 1,
    reason: /held at 1/,
  },
  { name: "arrivals without lag keep one replica", policy: toZero, current: 1, obs: { lag: 0, arrivalRate: 0.5, perReplicaRate: 10 }, want: 1, reason: /: 1$/ },
  { name: "activation on the first pending message", policy: toZero, current: 0, obs: { lag: 1 }, want: 1, reason: /^activation: lag 1/ },
  {
    name: "activation uses known capacity to start with enough replicas",
    policy: toZero,
    current: 0,
    obs: { lag: 600, arrivalRate: 40, perReplicaRate: 10 },
    want: 6,
    reason: /^activation: drain 600/,
  },
  { name: "stays at zero while idle", policy: toZero, current: 0, obs: { lag: 0, arrivalRate: 0 }, want: 0, reason: /no lag and no arrivals: 0/ },
];

describe("decide", () => {
  for (const row of rows) {
    it(row.name, () => {
      const d = decide({
        now: row.now ?? T0,
        policy: row.policy ?? policy,
        currentReplicas: row.current,
        observation: row.obs,
        state: row.state ?? INITIAL_DECISION_STATE,
      });
      expect(d.desiredReplicas).toBe(row.want);
      expect(d.reason).toMatch(row.reason);
    });
  }

  it("a burst scales up at once and comes back down only after the window", () => {
    let state = INITIAL_DECISION_STATE;
    let replicas = 2;
    const step = (now: number, obs: Observation) => {
      const d = decide({ now, policy, currentReplicas: replicas, observation: obs, state });
      state = d.state;
      replicas = d.desiredReplicas;
      return replicas;
    };
    expect(step(0, { lag: 0, arrivalRate: 20, perReplicaRate: 10 })).toBe(2);
    // Burst: 1,500 pending, 150 msgs/s arriving → (150 + 50) / 10 = 20, in two rate-limited steps.
    expect(step(2_000, { lag: 1500, arrivalRate: 150, perReplicaRate: 10 })).toBe(6);
    expect(step(4_000, { lag: 1600, arrivalRate: 150, perReplicaRate: 10 })).toBe(12);
    expect(step(6_000, { lag: 1500, arrivalRate: 150, perReplicaRate: 10 })).toBe(20);
    // Burst over: the window holds 20 for 60 s, then it steps down.
    for (let t = 8_000; t <= 64_000; t += 2_000) expect(step(t, { lag: 0, arrivalRate: 20, perReplicaRate: 10 })).toBe(20);
    expect(step(68_000, { lag: 0, arrivalRate: 20, perReplicaRate: 10 })).toBe(10);
    expect(step(70_000, { lag: 0, arrivalRate: 20, perReplicaRate: 10 })).toBe(5);
    expect(step(72_000, { lag: 0, arrivalRate: 20, perReplicaRate: 10 })).toBe(2);
    expect(step(74_000, { lag: 0, arrivalRate: 20, perReplicaRate: 10 })).toBe(2);
    expect(state.recommendations.every((r) => r.at > 74_000 - 60_000)).toBe(true);
  });

  it("estimates the drain time from capacity and arrivals", () => {
    expect(estimateDrainSeconds(0, 10, 1, undefined)).toBe(0);
    expect(estimateDrainSeconds(100, 10, 2, undefined)).toBeUndefined();
    expect(estimateDrainSeconds(300, 10, 4, 10)).toBe(10);
    expect(estimateDrainSeconds(300, 50, 4, 10)).toBe(Infinity);
  });
});

describe("parseScalingPolicy", () => {
  it("fills defaults", () => {
    expect(parseScalingPolicy(undefined)).toEqual({
      minReplicas: 1,
      maxReplicas: 10,
      targetLagPerReplica: 100,
      maxDrainSeconds: 30,
      scaleDownStabilizationSeconds: 60,
      mode: "native",
      pollIntervalSeconds: 2,
    });
    expect(parseScalingPolicy({ minReplicas: 0, scaleDownStabilization: "1m30s", pollInterval: "500ms", mode: "keda" })).toMatchObject({
      minReplicas: 0,
      scaleDownStabilizationSeconds: 90,
      pollIntervalSeconds: 0.5,
      mode: "keda",
    });
  });
  const bad: Array<[string, unknown, RegExp]> = [
    ["max below min", { minReplicas: 5, maxReplicas: 2 }, /maxReplicas: must be ≥ minReplicas \(5\), got 2/],
    ["negative min", { minReplicas: -1 }, /minReplicas: must be an integer ≥ 0/],
    ["zero lag target", { targetLagPerReplica: 0 }, /targetLagPerReplica: must be an integer ≥ 1/],
    ["bad duration", { scaleDownStabilization: "soon" }, /scaleDownStabilization: must be a duration/],
    ["unknown mode", { mode: "magic" }, /mode: must be one of native, keda, hpa/],
    ["not an object", [1], /spec.scaling.: must be an object/],
  ];
  for (const [name, raw, msg] of bad) {
    it(`refuses ${name}`, () => expect(() => parseScalingPolicy(raw)).toThrow(msg));
  }
});
