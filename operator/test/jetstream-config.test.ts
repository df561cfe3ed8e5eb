import { describe, expect, it } from "vitest";
import { desiredConsumerConfig, diffConsumerConfig } from "../src/jetstream/consumer-config.ts";
import { desiredStreamConfig, diffStreamConfig } from "../src/jetstream/stream-config.ts";
import { featuresOf, atLeast } from "../src/jetstream/version.ts";
import type { ResolvedStream, ResolvedSubscription } from "../src/api/spec.ts";

const v29 = featuresOf("2.9.10");
const v210 = featuresOf("2.10.22");

const stream: ResolvedStream = {
  subjects: ["shop.>"],
  retention: "limits",
  storage: "file",
  replicas: 1,
  maxAgeNs: 3600e9,
  maxBytes: 1024,
  maxMsgs: -1,
  maxMsgSize: -1,
  discard: "old",
  duplicateWindowNs: 120e9,
  deletionPolicy: "Retain",
};

const sub: ResolvedSubscription = {
  stream: "events",
  types: ["shop.order.placed.v1"],
  startFrom: { kind: "all" },
  ackWaitNs: 30e9,
  maxDeliver: 5,
  backoffNs: [],
  maxAckPending: 1000,
};

describe("server versions", () => {
  it.each([
    ["2.9.10", false],
    ["2.10.0", true],
    ["v2.11.3", true],
    ["3.0.0", true],
    ["garbage", false],
  ])("%s multi-filter: %s", (v, want) => expect(featuresOf(v).multiFilter).toBe(want));
  it("compares minor versions numerically", () => expect(atLeast("2.9.10", 2, 10)).toBe(false));
});

describe("stream config", () => {
  it("maps the spec to JetStream fields", () => {
    expect(desiredStreamConfig("shop_events", stream)).toEqual({
      name: "shop_events",
      subjects: ["shop.>"],
      retention: "limits",
      storage: "file",
      num_replicas: 1,
      max_age: 3600e9,
      max_bytes: 1024,
      max_msgs: -1,
      max_msg_size: -1,
      discard: "old",
      duplicate_window: 120e9,
    });
  });

  const actual = { ...desiredStreamConfig("shop_events", stream), max_msgs_per_subject: -1, sealed: false };
  it.each([
    ["nothing changed (server extras ignored)", {}, [], []],
    ["unlimited written as 0 by the server", { max_msg_size: 0 }, [], []],
    ["subjects reordered", { subjects: ["shop.>"] }, [], []],
    ["maxAge edited behind our back", { max_age: 1 }, ["maxAge"], []],
    ["subjects added", { subjects: ["shop.>", "x"] }, ["subjects"], []],
    ["retention", { retention: "workqueue" }, [], ["retention"]],
    ["storage and maxBytes", { storage: "memory", max_bytes: 5 }, ["maxBytes"], ["storage"]],
  ])("%s", (_name, change, updatable, immutable) => {
    expect(diffStreamConfig(desiredStreamConfig("shop_events", stream), { ...actual, ...change })).toEqual({ updatable, immutable });
  });
});

describe("consumer config", () => {
  it.each([
    ["one type → filter_subject", { types: ["a.b"] }, v29, { filter_subject: "a.b" }],
    ["several types on 2.10 → filter_subjects", { types: ["a.b", "c.d"] }, v210, { filter_subjects: ["a.b", "c.d"] }],
    ["several types on 2.9 → no server filter", { types: ["a.b", "c.d"] }, v29, {}],
    ["no types → everything", { types: [] }, v210, {}],
  ])("%s", (_name, change, f, filter) => {
    const cfg = desiredConsumerConfig("shop_x", { ...sub, ...change }, f);
    expect(cfg.filter_subject).toEqual((filter as { filter_subject?: string }).filter_subject);
    expect(cfg.filter_subjects).toEqual((filter as { filter_subjects?: string[] }).filter_subjects);
  });

  it("maps delivery settings", () => {
    const cfg = desiredConsumerConfig("shop_x", { ...sub, startFrom: { kind: "time", time: "2026-01-01T00:00:00.000Z" }, backoffNs: [1e9, 5e9] }, v29, "shop/x");
    expect(cfg).toEqual({
      durable_name: "shop_x",
      ack_policy: "explicit",
      deliver_policy: "by_start_time",
      opt_start_time: "2026-01-01T00:00:00.000Z",
      ack_wait: 30e9,
      max_deliver: 5,
      max_ack_pending: 1000,
      description: "JetMesh shop/x; backoff=1s,5s",
      filter_subject: "shop.order.placed.v1",
    });
  });

  // JetStream's own backoff would replace ack_wait with backoff[0]: never set; the retry
  // schedule goes to the runtime in the description (all versions) and metadata (≥ 2.10).
  it.each([
    ["2.9, examples' values", [1e9, 5e9, 30e9], v29, "JetMesh shop/x; backoff=1s,5s,30s", undefined],
    ["2.10, examples' values", [1e9, 5e9, 30e9], v210, "JetMesh shop/x; backoff=1s,5s,30s", { "jetmesh.io/backoff": "1s,5s,30s" }],
    ["sub-second and odd values", [100e6, 1.5e9, 90e9, 7200e9, 1500], v210, "JetMesh shop/x; backoff=100ms,1500ms,90s,2h,1500ns", { "jetmesh.io/backoff": "100ms,1500ms,90s,2h,1500ns" }],
    ["no backoff on 2.9: the runtime default", [], v29, "JetMesh shop/x", undefined],
    ["no backoff on 2.10: empty metadata clears an old schedule", [], v210, "JetMesh shop/x", {}],
  ])("%s", (_name, backoffNs, f, description, metadata) => {
    const cfg = desiredConsumerConfig("shop_x", { ...sub, backoffNs, ackWaitNs: 30e9 }, f, "shop/x");
    expect(cfg.ack_wait).toBe(30e9);
    expect(cfg).not.toHaveProperty("backoff");
    expect(cfg.description).toBe(description);
    expect(cfg.metadata).toEqual(metadata);
  });

  const desired = desiredConsumerConfig("shop_x", sub, v29);
  const server = { ...desired, replay_policy: "instant", max_waiting: 512, num_replicas: 0 };
  it.each([
    ["unchanged", v29, {}, [], []],
    ["deliver policy", v29, { deliver_policy: "new" }, [], ["delivery.startFrom"]],
    ["filter on 2.9 is immutable", v29, { filter_subject: "other" }, [], ["types"]],
    ["filter on 2.10 is updatable", v210, { filter_subject: "other" }, ["types"], []],
    ["filter moved to filter_subjects is the same filter", v210, { filter_subject: undefined, filter_subjects: ["shop.order.placed.v1"] }, [], []],
    ["max deliver and ack pending edited", v29, { max_deliver: 9, max_ack_pending: 1 }, ["delivery.maxDeliver", "delivery.maxAckPending"], []],
    ["ack wait", v29, { ack_wait: 1e9 }, ["delivery.ackWait"], []],
    ["push consumer in its place", v29, { deliver_subject: "x" }, [], ["pull (was push)"]],
  ])("%s", (_name, f, change, updatable, immutable) => {
    expect(diffConsumerConfig(desired, { ...server, ...change }, f)).toEqual({ updatable, immutable });
  });

  const withBackoff = (f: typeof v29) => desiredConsumerConfig("shop_x", { ...sub, backoffNs: [1e9, 5e9] }, f, "shop/x");
  it.each([
    ["as created", v29, {}, []],
    // What operators before this change created: JetStream backoff, server-reported ack_wait 1 s.
    ["old operator's JetStream backoff", v29, { backoff: [1e9, 5e9], ack_wait: 1e9, description: undefined }, ["delivery.backoff", "delivery.ackWait"]],
    ["backoff changed in the spec", v29, { description: "JetMesh shop/x; backoff=2s" }, ["delivery.backoff"]],
    ["description edited, same schedule", v29, { description: "mine; backoff=1s,5s" }, ["description"]],
    ["description removed", v29, { description: undefined }, ["delivery.backoff"]],
    ["2.10 as created, server metadata ignored", v210, { metadata: { "jetmesh.io/backoff": "1s,5s", "_nats.req.level": "0" } }, []],
    ["2.10 metadata edited", v210, { metadata: { "jetmesh.io/backoff": "9s" } }, ["delivery.backoff"]],
    ["2.10 metadata missing", v210, { metadata: undefined }, ["delivery.backoff"]],
  ])("backoff drift: %s", (_name, f, change, updatable) => {
    const d = withBackoff(f);
    expect(diffConsumerConfig(d, { ...d, replay_policy: "instant", ...change }, f)).toEqual({ updatable, immutable: [] });
  });
});
