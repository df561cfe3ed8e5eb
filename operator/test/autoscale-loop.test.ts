// The autoscaler loop against in-memory edges (the e2e test uses real NATS and the API test
// server): manual override, missing Deployment/consumer, delegated modes, status, events, metrics.
import { describe, expect, it } from "vitest";
import { waitFor } from "@jetmesh/testing";
import { Registry } from "prom-client";
import {
  AutoscalerManager,
  combineReporters,
  createAutoscaleMetrics,
  metricsReporter,
  parseScalingPolicy,
  SubscriptionAutoscaler,
  type AutoscaleStatus,
  type ConsumerLag,
  type ScaleEvent,
  type ScalingTarget,
} from "../src/autoscale/index.ts";

class FakeWorld {
  lag: ConsumerLag | null = { pending: 0, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0 };
  replicas: number | null = 2;
  writes: number[] = [];
  statuses: AutoscaleStatus[] = [];
  events: ScaleEvent[] = [];
  now = 1_000_000;
  registry = new Registry();

  deps() {
    const metrics = createAutoscaleMetrics(this.registry);
    return {
      now: () => this.now,
      lagSource: { read: async () => (this.lag ? { ...this.lag } : null) },
      scaleTarget: {
        get: async () => (this.replicas === null ? null : { replicas: this.replicas }),
        set: async (_ns: string, _d: string, r: number) => {
          this.writes.push(r);
          this.replicas = r;
        },
      },
      reporter: combineReporters(
        {
          status: (_t: ScalingTarget, s: AutoscaleStatus) => void this.statuses.push(s),
          event: (_t: ScalingTarget, e: ScaleEvent) => void this.events.push(e),
        },
        metricsReporter(metrics),
      ),
    };
  }

  get condition() {
    return this.statuses.at(-1)?.condition;
  }

  async metric(name: string): Promise<number | undefined> {
    const m = await this.registry.getSingleMetric(name)?.get();
    return m?.values.find((v) => v.labels.subscription === "inventory")?.value;
  }
}

function target(scaling: Record<string, unknown> = {}): ScalingTarget {
  return {
    namespace: "shop",
    subscription: "inventory",
    stream: "shop_events",
    consumer: "shop_inventory",
    deployment: "inventory",
    policy: parseScalingPolicy({ minReplicas: 1, maxReplicas: 10, targetLagPerReplica: 100, scaleDownStabilization: "10s", ...scaling }),
  };
}

describe("SubscriptionAutoscaler", () => {
  it("does not scale out while a subscriber's circuit is open, says why once, and resumes when it closes", async () => {
    const w = new FakeWorld();
    const a = new SubscriptionAutoscaler(target(), { ...w.deps(), statusRefreshMs: 0 });
    const circuitOpen = "payment reports its circuit open since 2026-01-01T00:00:00Z: processor down";
    w.lag = { pending: 800, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0, circuitOpen };
    await a.tick();
    await a.tick();
    expect(w.writes).toEqual([]);
    expect(w.condition).toMatchObject({ status: "False", reason: "CircuitOpen" });
    expect(w.condition?.message).toMatch(
      /not scaling out Deployment inventory beyond 2 replicas \(it would run 6: .*processor down.*scaling resumes when the circuit closes/,
    );
    expect(w.statuses.at(-1)?.replicas).toEqual({ current: 2, desired: 2 });
    expect(w.events.filter((e) => e.reason === "CircuitOpen")).toEqual([
      { type: "Warning", reason: "CircuitOpen", message: expect.stringMatching(/not scaling out/) },
    ]);
    // Closed again: the same lag scales out at the next poll.
    w.lag = { ...w.lag, circuitOpen: undefined };
    await a.tick();
    expect(w.writes).toEqual([6]);
    expect(w.events.at(-1)).toMatchObject({ reason: "ScaledUp" });
    expect(w.condition).toMatchObject({ status: "True", reason: "Scaling" });
  });

  it("scales up on a burst, reports status, an Event and metrics, and scales down after stabilization", async () => {
    const w = new FakeWorld();
    // statusRefreshMs 0: every poll re-sends status (default: on change or every 10 s).
    const a = new SubscriptionAutoscaler(target(), { ...w.deps(), statusRefreshMs: 0 });
    await a.tick();
    expect(w.condition).toMatchObject({ status: "True", reason: "Scaling" });
    // A fresh autoscaler (e.g. after an operator restart) counts the running replicas as its
    // first recommendation: idle at 2 is held for the 10 s window, then goes to min 1.
    expect(w.writes).toEqual([]);
    w.now += 11_000;
    await a.tick();
    expect(w.writes).toEqual([1]);

    w.now += 2000;
    w.lag = { pending: 700, ackPending: 10, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 10 };
    await a.tick();
    expect(w.writes.at(-1)).toBe(5); // lag floor 8, one step may reach max(2×1, 1+4) = 5
    expect(w.events.at(-1)).toMatchObject({ type: "Normal", reason: "ScaledUp" });
    expect(w.events.at(-1)!.message).toMatch(/from 1 to 5: lag 710 at 100 per replica: 8, limited to 5/);
    expect(w.statuses.at(-1)).toMatchObject({
      replicas: { current: 5, desired: 5 },
      lag: { pending: 700, ackPending: 10 },
      lastScaleReason: expect.stringMatching(/lag 710/),
    });
    expect(await w.metric("jetmesh_subscription_pending_messages")).toBe(700);
    expect(await w.metric("jetmesh_subscription_lag_messages")).toBe(710);
    expect(await w.metric("jetmesh_subscription_replicas_max")).toBe(10);
    expect(await w.metric("jetmesh_subscription_drain_objective_seconds")).toBe(30);

    w.now += 2000;
    await a.tick();
    expect(w.replicas).toBe(8);
    const up = (await w.registry.getSingleMetric("jetmesh_autoscaler_scale_total")!.get()).values.find((v) => v.labels.direction === "up");
    expect(up?.value).toBe(2);

    // Drained: held by the 10 s window (the 8 recommended 2 and 4 s ago still hold
    // 1 + 7 × 0.8 → 7), released step by step over it, then down to 1.
    w.lag = { pending: 0, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 710, deliveredConsumerSeq: 710 };
    w.now += 2000;
    await a.tick();
    expect(w.replicas).toBe(7);
    expect(w.condition?.message).toMatch(/held at 7 by 10s scale-down stabilization/);
    for (let i = 0; i < 8; i++) {
      w.now += 2000;
      await a.tick();
    }
    expect(w.replicas).toBe(1);
    expect(w.events.filter((e) => e.reason === "ScaledDown").length).toBeGreaterThanOrEqual(2);
  });

  it("never fights a person who set replicas outside the bounds, and resumes when they are back within", async () => {
    const w = new FakeWorld();
    const a = new SubscriptionAutoscaler(target(), w.deps());
    w.replicas = 25; // kubectl scale --replicas=25
    w.lag = { pending: 5000, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0 };
    await a.tick();
    w.now += 2000;
    await a.tick();
    expect(w.writes).toEqual([]);
    expect(w.condition).toMatchObject({ status: "False", reason: "ManualOverride" });
    expect(w.condition!.message).toMatch(/has 25 replicas, outside \[1, 10\]/);
    expect(w.events.filter((e) => e.reason === "ManualOverride")).toHaveLength(1); // once, not every poll

    w.replicas = 0; // paused by a person: also left alone
    w.now += 2000;
    await a.tick();
    expect(w.writes).toEqual([]);

    w.replicas = 3; // back within bounds: JetMesh acts again
    w.now += 2000;
    await a.tick();
    expect(w.writes).toEqual([7]);
    expect(w.condition).toMatchObject({ status: "True", reason: "Scaling" });
  });

  it("holds the replicas of a paused subscription whatever its lag, and scales again once resumed", async () => {
    const w = new FakeWorld();
    const a = new SubscriptionAutoscaler(target(), w.deps());
    w.lag = { pending: 5000, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0, paused: true };
    for (let i = 0; i < 3; i++) {
      await a.tick();
      w.now += 2000;
    }
    expect(w.writes).toEqual([]);
    expect(w.condition).toMatchObject({ status: "False", reason: "Paused" });
    expect(w.condition!.message).toMatch(/is paused.*stays at 2 replicas/);
    expect(w.statuses.at(-1)).toMatchObject({ replicas: { current: 2, desired: 2 }, lag: { pending: 5000 } });
    // The reconciler's ConsumerPaused Event already says it; no Warning on top.
    expect(w.events).toEqual([]);

    w.lag = { ...w.lag, paused: false };
    await a.tick();
    expect(w.writes).toEqual([6]); // one step from 2: max(2×2, 2+4)
    expect(w.condition).toMatchObject({ status: "True", reason: "Scaling" });
  });

  it("after a restart, recognises its own count from status and still not a person's", async () => {
    // Before the restart JetMesh ran 8 with maxReplicas 10; now maxReplicas is 5.
    const w = new FakeWorld();
    w.replicas = 8;
    w.lag = { pending: 800, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0 };
    await new SubscriptionAutoscaler({ ...target({ maxReplicas: 5 }), lastDesiredReplicas: 8 }, w.deps()).tick();
    expect(w.writes).toEqual([5]);

    // A person had set 25; status showed what JetMesh would run (10), not 25.
    const p = new FakeWorld();
    p.replicas = 25;
    p.lag = w.lag;
    const before = new SubscriptionAutoscaler(target(), p.deps());
    await before.tick();
    const desired = p.statuses.at(-1)!.replicas!.desired;
    expect(desired).toBe(10);
    await new SubscriptionAutoscaler({ ...target(), lastDesiredReplicas: desired }, p.deps()).tick();
    expect(p.writes).toEqual([]);
    expect(p.condition).toMatchObject({ reason: "ManualOverride", message: expect.stringMatching(/it would run 10/) });
  });

  it("follows its own replicas into new bounds (maxReplicas lowered)", async () => {
    const w = new FakeWorld();
    w.replicas = 8;
    w.lag = { pending: 800, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0 };
    const a = new SubscriptionAutoscaler(target(), w.deps());
    await a.tick();
    expect(w.writes).toEqual([]); // 8 is right
    a.update(target({ maxReplicas: 5 }));
    w.now += 2000;
    await a.tick();
    expect(w.writes).toEqual([5]);
  });

  it("pauses on a missing Deployment or consumer, and never scales on them", async () => {
    const w = new FakeWorld();
    const a = new SubscriptionAutoscaler(target(), w.deps());
    w.replicas = null;
    await a.tick();
    expect(w.condition).toMatchObject({ status: "False", reason: "DeploymentNotFound" });
    expect(w.events.at(-1)).toMatchObject({ type: "Warning", reason: "DeploymentNotFound" });
    w.replicas = 2;
    w.lag = null;
    w.now += 2000;
    await a.tick();
    expect(w.condition).toMatchObject({ status: "False", reason: "ConsumerNotFound" });
    expect(w.writes).toEqual([]);
    expect(await w.metric("jetmesh_subscription_pending_messages")).toBeUndefined();
  });

  it("in keda and hpa mode only reports", async () => {
    for (const mode of ["keda", "hpa"] as const) {
      const w = new FakeWorld();
      w.lag = { pending: 5000, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0 };
      const a = new SubscriptionAutoscaler(target({ mode }), w.deps());
      await a.tick();
      expect(w.writes).toEqual([]);
      expect(w.condition).toMatchObject({ status: "True", reason: mode === "keda" ? "DelegatedToKeda" : "DelegatedToHpa" });
      expect(await w.metric("jetmesh_subscription_lag_messages")).toBe(5000);
    }
  });

  it("reports a failing lag read or scale write without throwing, and keeps going", async () => {
    const w = new FakeWorld();
    const deps = w.deps();
    let fail = true;
    const a = new SubscriptionAutoscaler(target(), {
      ...deps,
      lagSource: { read: async () => (fail ? Promise.reject(new Error("nats: timeout")) : deps.lagSource.read()) },
    });
    await a.tick();
    expect(w.condition).toMatchObject({ status: "False", reason: "LagUnavailable", message: expect.stringMatching(/nats: timeout/) });
    fail = false;
    w.now += 2000;
    await a.tick();
    expect(w.condition).toMatchObject({ status: "True" });
  });
});

describe("AutoscalerManager", () => {
  it("polls on its own, updates in place, and forgets metric series on remove", async () => {
    const w = new FakeWorld();
    const base = w.deps();
    // A second subscription ("payment", always idle) polls on the same cadence: its reads are
    // the clock that shows the removed autoscaler had time to poll and did not.
    const reads: string[] = [];
    const deps = {
      ...base,
      now: Date.now,
      lagSource: {
        read: async (_stream: string, consumer: string) => {
          reads.push(consumer);
          return consumer === "shop_inventory"
            ? base.lagSource.read()
            : { pending: 0, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0 };
        },
      },
      scaleTarget: {
        get: async (_ns: string, d: string) => (d === "inventory" ? base.scaleTarget.get() : { replicas: 1 }),
        set: async (ns: string, d: string, r: number) => (d === "inventory" ? base.scaleTarget.set(ns, d, r) : undefined),
      },
    };
    const m = new AutoscalerManager(deps);
    w.lag = { pending: 300, ackPending: 0, redelivered: 0, ackFloorConsumerSeq: 0, deliveredConsumerSeq: 0 };
    await m.upsert("shop/inventory", target({ pollInterval: "100ms" }));
    await waitFor("scaled to 3 by its own polling", () => w.replicas === 3);
    await m.upsert("shop/inventory", target({ pollInterval: "100ms", maxReplicas: 2 }));
    await waitFor("capped at the updated maxReplicas 2", () => w.replicas === 2);
    expect(m.size).toBe(1);
    await m.upsert("shop/payment", { ...target({ pollInterval: "100ms" }), subscription: "payment", consumer: "shop_payment", deployment: "payment" });
    await m.remove("shop/inventory");
    expect(m.size).toBe(1);
    expect(await w.metric("jetmesh_subscription_lag_messages")).toBeUndefined();
    const writes = w.writes.length;
    const inventoryReads = reads.filter((c) => c === "shop_inventory").length;
    const paymentReads = reads.filter((c) => c === "shop_payment").length;
    await waitFor("3 more polls of the remaining autoscaler", () => reads.filter((c) => c === "shop_payment").length >= paymentReads + 3);
    // stopped for good
    expect(reads.filter((c) => c === "shop_inventory").length).toBe(inventoryReads);
    expect(w.writes.length).toBe(writes);
    await m.stopAll();
  });
});
