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
    name: "keeping up with arrivals beats the lag floor",
    current: 4,
    // max(50, 300 / 15) / 10 = 5 replicas: a new message waits 300 / 50 = 6 s ≤ 15 s; the lag floor would say 3.
    obs: { lag: 300, arrivalRate: 50, perReplicaRate: 10 },
    want: 5,
    reason: /keep up with 50 msg\/s arriving at 10 msg\/s per replica \(lag 300\): 5/,
  },
  {
    name: "the wait behind the backlog beats the lag floor when replicas are slow",
    current: 6,
    // max(5, 300 / 15) / 2 = 10 replicas: a new message then waits 300 / 20 = 15 s, half the objective.
    obs: { lag: 300, arrivalRate: 5, perReplicaRate: 2 },
    want: 10,
    reason: /wait behind lag 300 within 15s at 2 msg\/s per replica \(5 msg\/s arriving\): 10$/,
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
  {
    name: "bounded by maxReplicas",
    current: 16,
    obs: { lag: 100_000, arrivalRate: 10, perReplicaRate: 10 },
    want: 20,
    reason: /lag 100000 at 100 per replica: 1000, capped at maxReplicas: 20$/,
  },
  {
    name: "bounded by minReplicas",
    current: 3,
    obs: { lag: 0, arrivalRate: 0 },
    state: { recommendations: [] },
    want: 1,
    reason: /no lag and no arrivals: 0, raised to minReplicas: 1/,
  },
  {
    name: "a one-replica wobble is held for the whole window",
    current: 7,
    // 6 + (7 − 6) × (1 − 50/60) = 6.2, rounded up.
    obs: { lag: 0, arrivalRate: 60, perReplicaRate: 10 },
    state: { recommendations: [{ at: T0 - 50_000, replicas: 7 }] },
    want: 7,
    reason: /: 6, held at 7 by 60s scale-down stabilization/,
  },
  {
    name: "a large drop is released step by step over the window",
    current: 8,
    // 8 half a window ago holds 2 + 6 × 0.5 = 5; 5 ten seconds ago holds 2 + 3 × 5/6 = 4.5 → 5.
    obs: { lag: 0, arrivalRate: 20, perReplicaRate: 10 },
    state: {
      recommendations: [
        { at: T0 - 30_000, replicas: 8 },
        { at: T0 - 10_000, replicas: 5 },
      ],
    },
    want: 5,
    reason: /: 2, held at 5 by 60s scale-down stabilization/,
  },
  {
    name: "recommendations older than the window no longer hold",
    current: 8,
    obs: { lag: 0, arrivalRate: 20, perReplicaRate: 10 },
    state: {
      recommendations: [
        { at: T0 - 61_000, replicas: 8 },
        { at: T0 - 10_000, replicas: 5 },
      ],
    },
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
  {
    name: "scale to zero with no lag and no arrivals",
    policy: toZero,
    current: 1,
    obs: { lag: 0, arrivalRate: 0, perReplicaRate: 10 },
    want: 0,
    reason: /no lag and no arrivals: 0/,
  },
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
    // max(20, 300 / 15) / 2 = 10; the lag floor would say 3.
    obs: { lag: 300, arrivalRate: 20, perReplicaRate: 2 },
    want: 10,
    reason: /^activation: keep up with 20 msg\/s/,
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

  it("a burst scales up at once and comes back down over the window", () => {
    let state = INITIAL_DECISION_STATE;
    let replicas = 2;
    const step = (now: number, obs: Observation) => {
      const d = decide({ now, policy, currentReplicas: replicas, observation: obs, state });
      state = d.state;
      replicas = d.desiredReplicas;
      return replicas;
    };
    expect(step(0, { lag: 0, arrivalRate: 20, perReplicaRate: 10 })).toBe(2);
    // Burst: 1,500 pending, 150 msgs/s arriving → 15 replicas (16 once the lag floor says so),
    // reached in rate-limited steps.
    expect(step(2_000, { lag: 1500, arrivalRate: 150, perReplicaRate: 10 })).toBe(6);
    expect(step(4_000, { lag: 1600, arrivalRate: 150, perReplicaRate: 10 })).toBe(12);
    expect(step(6_000, { lag: 1500, arrivalRate: 150, perReplicaRate: 10 })).toBe(15);
    // Burst over (2 replicas would do): held at first, then released step by step, never
    // going back up, and back to 2 once the window has passed.
    const quiet = { lag: 0, arrivalRate: 20, perReplicaRate: 10 };
    expect(step(8_000, quiet)).toBe(15);
    let prev = 15;
    for (let t = 10_000; t < 34_000; t += 2_000) {
      const r = step(t, quiet);
      expect(r).toBeLessThanOrEqual(prev);
      prev = r;
    }
    // Half a window after the peak of 16 at 4 s: 2 + 14 × 0.5 = 9.
    expect(step(34_000, quiet)).toBe(9);
    for (let t = 36_000; t < 64_000; t += 2_000) step(t, quiet);
    // 15 recommended at 6 s still holds 2 + 13 × 2/60 → 3 at 64 s; nothing at 66 s.
    expect(step(64_000, quiet)).toBe(3);
    expect(step(66_000, quiet)).toBe(2);
    expect(step(68_000, quiet)).toBe(2);
    expect(state.recommendations.every((r) => r.at > 68_000 - 60_000)).toBe(true);
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
