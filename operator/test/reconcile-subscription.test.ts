// The EventSubscription reconciler with an in-memory JetStream and object writer: which
// JetStream calls a spec change turns into, and that an unchanged spec turns into none.
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { EventSubscriptionReconciler } from "../src/controller/eventsubscription.ts";
import { DEFAULT_SUBJECT_POLICY } from "../src/api/tenancy.ts";
import type { ReconcileContext } from "../src/controller/context.ts";
import type { EventStream, EventSubscription } from "../src/api/types.ts";
import type { ConsumerState, JetStreamAdmin } from "../src/jetstream/admin.ts";
import type { DesiredConsumerConfig } from "../src/jetstream/consumer-config.ts";
import { OperatorMetrics } from "../src/metrics.ts";
import type { DeliveryFailureReport } from "@jetmesh/mesh/consumer-contract";

function fakeJetStream() {
  const consumers = new Map<string, Record<string, unknown>>();
  const calls: string[] = [];
  const failures: DeliveryFailureReport[] = [];
  const state = (config: Record<string, unknown>): ConsumerState => ({
    config,
    pending: 0,
    ackPending: 0,
    redelivered: 0,
    deliveredStreamSeq: 0,
    deliveredConsumerSeq: 0,
    ackFloorConsumerSeq: 0,
    paused: config.pause_until !== undefined,
  });
  const admin: JetStreamAdmin = {
    streamInfo: async () => ({ config: {}, messages: 0, bytes: 0, lastSequence: 0, consumers: consumers.size }),
    addStream: async () => Promise.reject(new Error("unused")),
    updateStream: async () => Promise.reject(new Error("unused")),
    deleteStream: async () => undefined,
    circuitReports: async () => [],
    failureReports: async (consumer) => (consumer === "shop_order" ? [...failures] : []),
    consumerInfo: async (stream, name) => {
      const c = consumers.get(`${stream}/${name}`);
      return c ? state(c) : undefined;
    },
    addConsumer: async (stream, cfg: DesiredConsumerConfig) => {
      calls.push(`add ${stream}/${cfg.durable_name}`);
      consumers.set(`${stream}/${cfg.durable_name}`, { ...cfg });
      return state({ ...cfg });
    },
    updateConsumer: async (stream, cfg) => {
      calls.push(`update ${stream}/${cfg.durable_name}`);
      consumers.set(`${stream}/${cfg.durable_name}`, { ...cfg });
      return state({ ...cfg });
    },
    deleteConsumer: async (stream, name) => {
      calls.push(`delete ${stream}/${name}`);
      consumers.delete(`${stream}/${name}`);
    },
    setPaused: async (stream, name, paused) => {
      calls.push(`${paused ? "pause" : "resume"} ${stream}/${name}`);
      const { pause_until: _, ...rest } = consumers.get(`${stream}/${name}`) ?? {};
      const next = paused ? { ...rest, pause_until: "2200-01-01T00:00:00Z" } : rest;
      consumers.set(`${stream}/${name}`, next);
      return state(next);
    },
    getMessage: async () => Promise.reject(new Error("unused")),
    publish: async () => Promise.reject(new Error("unused")),
  };
  return { admin, consumers, calls, failures };
}

function setup() {
  const js = fakeJetStream();
  const events: string[] = [];
  const stream: EventStream = {
    apiVersion: "jetmesh.io/v1alpha1",
    kind: "EventStream",
    metadata: { name: "events", namespace: "shop", generation: 1 },
    spec: { subjects: ["shop.>"] },
  };
  let sub: EventSubscription = {
    apiVersion: "jetmesh.io/v1alpha1",
    kind: "EventSubscription",
    metadata: { name: "order", namespace: "shop", generation: 1, resourceVersion: "1" },
    spec: { stream: "events", types: ["shop.a.v1", "shop.b.v1"] },
  };
  let rv = 1;
  const ctx: ReconcileContext = {
    streams: { get: (k) => (k === "shop/events" ? stream : undefined), list: () => [stream] },
    subscriptions: { get: (k) => (k === "shop/order" ? sub : undefined), list: () => [sub] },
    writer: {
      async patchStatus(_ref, obj, status) {
        sub = { ...sub, metadata: { ...sub.metadata, resourceVersion: String(++rv) }, status: { ...sub.status, ...(status as object) } };
        return obj;
      },
      async setFinalizers(_ref, _obj, finalizers) {
        sub = { ...sub, metadata: { ...sub.metadata, finalizers, resourceVersion: String(++rv) } };
        return sub as never;
      },
    },
    events: { normal: (_o, r) => events.push(r), warning: (_o, r) => events.push(`!${r}`) },
    nats: { admin: () => js.admin, lastError: "" },
    metrics: new OperatorMetrics(),
    subjectPolicy: DEFAULT_SUBJECT_POLICY,
    log: pino({ level: "silent" }),
    now: () => new Date("2026-01-01T00:00:00Z"),
  };
  const r = new EventSubscriptionReconciler(ctx);
  return {
    js,
    events,
    reconcile: () => r.reconcile("shop/order"),
    edit(spec: Partial<EventSubscription["spec"]>) {
      sub = { ...sub, metadata: { ...sub.metadata, generation: (sub.metadata.generation ?? 1) + 1 }, spec: { ...sub.spec, ...spec } };
    },
    get sub() {
      return sub;
    },
  };
}

describe("EventSubscription reconcile", () => {
  it("filters several types on the server, and changes them in place", async () => {
    const t = setup();
    await t.reconcile();
    const created = t.js.consumers.get("shop_events/shop_order");
    expect(created?.filter_subjects).toEqual(["shop.a.v1", "shop.b.v1"]);
    expect(created?.filter_subject).toBeUndefined();
    expect(t.sub.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(t.sub.status?.observedGeneration).toBe(1);

    t.js.calls.length = 0;
    t.edit({ types: ["shop.a.v1"] });
    await t.reconcile();
    expect(t.js.calls).toEqual(["update shop_events/shop_order"]);
    expect(t.js.consumers.get("shop_events/shop_order")?.filter_subject).toBe("shop.a.v1");
    expect(t.events).toContain("ConsumerUpdated");
    expect(t.sub.status?.observedGeneration).toBe(2);
  });

  it("reconciling an unchanged subscription touches nothing", async () => {
    const t = setup();
    await t.reconcile();
    const rv = t.sub.metadata.resourceVersion;
    t.js.calls.length = 0;
    await t.reconcile();
    expect(t.js.calls).toEqual([]);
    expect(t.sub.metadata.resourceVersion).toBe(rv); // no status write either
  });

  it("shows the failed deliveries the subscriber processes report, summed, and clears them when the reports expire", async () => {
    const t = setup();
    await t.reconcile();
    expect(t.sub.status?.deliveryFailures).toBeUndefined();
    expect(t.sub.status?.conditions?.find((c) => c.type === "DeliveryFailing")).toMatchObject({ status: "False", reason: "NoRecentFailures" });

    t.js.failures.push(
      {
        service: "jetmesh-dispatcher",
        since: "2025-12-31T23:59:10.000Z",
        retried: 4,
        deadLettered: 0,
        last: { time: "2025-12-31T23:59:40.000Z", outcome: "retried", error: "HTTP 503 from notifications:8080: busy" },
      },
      {
        service: "jetmesh-dispatcher",
        since: "2025-12-31T23:59:20.000Z",
        retried: 2,
        deadLettered: 1,
        last: { time: "2025-12-31T23:59:50.000Z", outcome: "dead_lettered", reason: "terminal", error: "HTTP 422 from notifications:8080: no such order" },
      },
    );
    await t.reconcile();
    expect(t.sub.status?.deliveryFailures).toEqual({
      retried: 6,
      deadLettered: 1,
      since: "2025-12-31T23:59:10.000Z",
      processes: 2,
      last: {
        time: "2025-12-31T23:59:50.000Z",
        outcome: "dead_lettered",
        reason: "terminal",
        error: "HTTP 422 from notifications:8080: no such order",
        service: "jetmesh-dispatcher",
      },
    });
    const failing = t.sub.status?.conditions?.find((c) => c.type === "DeliveryFailing");
    expect(failing).toMatchObject({ status: "True", reason: "DeadLettering" });
    expect(failing?.message).toBe(
      "6 retried, 1 dead-lettered since 2025-12-31T23:59:10.000Z; last at 2025-12-31T23:59:50.000Z by jetmesh-dispatcher, dead-lettered (terminal): HTTP 422 from notifications:8080: no such order",
    );
    // Failing deliveries do not make the consumer unready: it is the subscriber that fails.
    expect(t.sub.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(t.events.filter((e) => e.includes("Delivery"))).toEqual(["!DeliveryFailing"]);

    // The entries expired (a minute without failures).
    t.js.failures.length = 0;
    await t.reconcile();
    expect(t.sub.status?.deliveryFailures ?? undefined).toBeUndefined();
    expect(t.sub.status?.conditions?.find((c) => c.type === "DeliveryFailing")).toMatchObject({ status: "False", reason: "NoRecentFailures" });
    expect(t.events.filter((e) => e.includes("Delivery"))).toEqual(["!DeliveryFailing", "DeliveryRecovered"]);
  });
});
