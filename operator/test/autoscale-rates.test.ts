import { describe, expect, it } from "vitest";
import { updateRates, INITIAL_RATE_STATE, type ConsumerSample, type RateState } from "../src/autoscale/rates.ts";

/** Builds samples from a simple model: per 2 s interval, how many arrive and how many are acked. */
function run(steps: Array<{ arrive: number; ack: number; replicas: number; inFlight?: number }>): RateState[] {
  let state: RateState = INITIAL_RATE_STATE;
  let backlog = 0;
  let acked = 0;
  const out: RateState[] = [];
  const first: ConsumerSample = { at: 0, pending: 0, ackPending: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0, readyReplicas: steps[0]?.replicas ?? 1 };
  state = updateRates(state, first);
  steps.forEach((s, i) => {
    backlog += s.arrive - s.ack;
    acked += s.ack;
    const inFlight = Math.min(backlog, s.inFlight ?? 0);
    state = updateRates(state, {
      at: (i + 1) * 2000,
      pending: backlog - inFlight,
      ackPending: inFlight,
      ackFloorConsumerSeq: acked,
      deliveredConsumerSeq: acked + inFlight,
      readyReplicas: s.replicas,
    });
    out.push(state);
  });
  return out;
}

describe("rate estimation", () => {
  it("arrival rate converges to the rate of matching messages", () => {
    const states = run(Array.from({ length: 20 }, () => ({ arrive: 100, ack: 100, replicas: 2 })));
    expect(states.at(-1)!.arrivalRate).toBeCloseTo(50, 1);
    // Replicas keep up (no backlog): throughput says nothing about capacity.
    expect(states.at(-1)!.perReplicaRate).toBeUndefined();
    expect(states.at(-1)!.processedRate).toBe(50);
  });

  it("does not chase noise on a steady load, but follows a burst within one interval", () => {
    // 50 msgs/s with ±15 % jitter per 2 s interval, then a step to 200 msgs/s.
    const jitter = [1.15, 0.85, 1.1, 0.9, 1.12, 0.88, 1.05, 0.95, 1.15, 0.85, 1.1, 0.9, 1.08, 0.92, 1.15, 0.85, 1.0, 1.0, 1.15, 0.85];
    const steady = run(jitter.map((j) => ({ arrive: Math.round(100 * j), ack: Math.round(100 * j), replicas: 5 })));
    const rates = steady.slice(10).map((s) => s.arrivalRate!);
    const fast = steady.slice(10).map((s) => s.arrivalRateFast!);
    expect(Math.max(...rates) - Math.min(...rates)).toBeLessThan(4);
    expect(Math.max(...fast) - Math.min(...fast)).toBeGreaterThan(2 * (Math.max(...rates) - Math.min(...rates)));
    expect(Math.min(...rates)).toBeGreaterThan(47);
    expect(Math.max(...rates)).toBeLessThan(55);
    const burst = run([...jitter.map((j) => ({ arrive: Math.round(100 * j), ack: Math.round(100 * j), replicas: 5 })), { arrive: 400, ack: 100, replicas: 5 }]);
    // The slow EWMA alone would show ~64 msgs/s here; the shift detector jumps to the fast estimate.
    expect(burst.at(-1)!.arrivalRate!).toBeGreaterThan(120);
  });

  it("counts arrivals that are still pending, not only acked ones", () => {
    const states = run([{ arrive: 400, ack: 0, replicas: 0 }]);
    // First interval seeds the EWMA: 400 msgs in 2 s.
    expect(states[0]!.arrivalRate).toBe(200);
  });

  it("learns per-replica capacity only while the consumer is saturated", () => {
    const states = run([
      { arrive: 1000, ack: 40, replicas: 2 }, // backlog builds
      ...Array.from({ length: 15 }, () => ({ arrive: 40, ack: 40, replicas: 2, inFlight: 20 })), // saturated at 10/s per replica
    ]);
    expect(states.at(-1)!.perReplicaRate).toBeCloseTo(10, 5);
  });

  it("ignores intervals where the number of ready replicas changed", () => {
    const states = run([
      { arrive: 1000, ack: 40, replicas: 2 },
      { arrive: 0, ack: 40, replicas: 2 },
      { arrive: 0, ack: 120, replicas: 8 }, // 6 pods became ready mid-interval: 120 acks by "2" replicas is not a capacity
    ]);
    expect(states[1]!.perReplicaRate).toBeCloseTo(10, 5);
    expect(states[2]!.perReplicaRate).toBeCloseTo(10, 5);
  });

  it("unsaturated throughput can raise a known capacity but not lower it", () => {
    const states = run([
      { arrive: 100, ack: 40, replicas: 2 }, // backlog 60
      { arrive: 40, ack: 40, replicas: 2 }, // saturated: 10/s per replica
      { arrive: 0, ack: 40, replicas: 2 }, // saturated: 10/s per replica
      { arrive: 0, ack: 20, replicas: 2 }, // drained, idle for half the interval: 5/s, ignored
      { arrive: 10, ack: 10, replicas: 2 }, // idle: 2.5/s per replica, ignored
      { arrive: 100, ack: 100, replicas: 2 }, // idle but faster than we thought: 25/s raises it
    ]);
    expect(states[2]!.perReplicaRate).toBeCloseTo(10, 5);
    expect(states[4]!.perReplicaRate).toBe(states[2]!.perReplicaRate);
    expect(states[5]!.perReplicaRate!).toBeGreaterThan(12);
  });

  it("snaps a decayed arrival rate to zero so idle can scale to zero", () => {
    const states = run([{ arrive: 20, ack: 20, replicas: 1 }, ...Array.from({ length: 30 }, () => ({ arrive: 0, ack: 0, replicas: 1 }))]);
    expect(states.at(-1)!.arrivalRate).toBe(0);
    expect(states[2]!.arrivalRate!).toBeGreaterThan(0);
  });

  it("starts over when the consumer was recreated (sequences went back)", () => {
    let state = updateRates(INITIAL_RATE_STATE, { at: 0, pending: 0, ackPending: 0, ackFloorConsumerSeq: 5000, deliveredConsumerSeq: 5000, readyReplicas: 1 });
    state = updateRates(state, { at: 2000, pending: 0, ackPending: 0, ackFloorConsumerSeq: 5100, deliveredConsumerSeq: 5100, readyReplicas: 1 });
    expect(state.arrivalRate).toBe(50);
    state = updateRates(state, { at: 4000, pending: 3, ackPending: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0, readyReplicas: 1 });
    expect(state.arrivalRate).toBeUndefined();
    expect(state.last?.ackFloorConsumerSeq).toBe(0);
  });
});
