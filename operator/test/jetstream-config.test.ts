import { describe, expect, it } from "vitest";
import { desiredConsumerConfig, diffConsumerConfig, PAUSED_UNTIL } from "../src/jetstream/consumer-config.ts";
import { desiredStreamConfig, diffStreamConfig } from "../src/jetstream/stream-config.ts";
import { atLeast, unsupportedServer } from "../src/jetstream/version.ts";
import type { ResolvedStream, ResolvedSubscription } from "../src/api/spec.ts";

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
  maxConsumers: -1,
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
  paused: false,
};

describe("server versions", () => {
  it.each([
    ["2.9.10", false],
    ["2.10.27", false],
    ["2.11.0", true],
    ["v2.15.2", true],
    ["3.0.0", true],
    ["garbage", false],
  ])("%s supported: %s", (v, want) => expect(unsupportedServer(v) === undefined).toBe(want));
  it("compares minor versions numerically", () => expect(atLeast("2.9.10", 2, 10)).toBe(false));
  it("says what an old server breaks", () => expect(unsupportedServer("2.9.10")).toMatch(/older than the oldest supported 2\.11\.0.*filter_subjects.*paused/));
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
    // maxConsumers unset: the server's own default (1,000 since 2.15) is not drift.
    ["the server's default max_consumers", { max_consumers: 1000 }, [], []],
  ])("%s", (_name, change, updatable, immutable) => {
    expect(diffStreamConfig(desiredStreamConfig("shop_events", stream), { ...actual, ...change })).toEqual({ updatable, immutable });
  });

  it("sets max_consumers only when the spec does, and repairs it then", () => {
    const limited = desiredStreamConfig("shop_events", { ...stream, maxConsumers: 5000 });
    expect(limited.max_consumers).toBe(5000);
    expect("max_consumers" in desiredStreamConfig("shop_events", stream)).toBe(false);
    expect(diffStreamConfig(limited, { ...actual, max_consumers: 5000 })).toEqual({ updatable: [], immutable: [] });
    expect(diffStreamConfig(limited, { ...actual, max_consumers: 1000 })).toEqual({ updatable: ["maxConsumers"], immutable: [] });
  });
});

describe("consumer config", () => {
  it.each([
    ["one type → filter_subject", { types: ["a.b"] }, { filter_subject: "a.b" }],
    ["several types → filter_subjects", { types: ["a.b", "c.d"] }, { filter_subjects: ["a.b", "c.d"] }],
    ["no types → everything", { types: [] }, {}],
  ])("%s", (_name, change, filter) => {
    const cfg = desiredConsumerConfig("shop_x", { ...sub, ...change });
    expect(cfg.filter_subject).toEqual((filter as { filter_subject?: string }).filter_subject);
    expect(cfg.filter_subjects).toEqual((filter as { filter_subjects?: string[] }).filter_subjects);
  });

  it("maps delivery settings", () => {
    const cfg = desiredConsumerConfig("shop_x", { ...sub, startFrom: { kind: "time", time: "2026-01-01T00:00:00.000Z" }, backoffNs: [1e9, 5e9] }, "shop/x");
    expect(cfg).toEqual({
      durable_name: "shop_x",
      ack_policy: "explicit",
      deliver_policy: "by_start_time",
      opt_start_time: "2026-01-01T00:00:00.000Z",
      ack_wait: 30e9,
      max_deliver: 5,
      max_ack_pending: 1000,
      description: "JetMesh shop/x",
      metadata: { "jetmesh.io/backoff": "1s,5s" },
      filter_subject: "shop.order.placed.v1",
    });
  });

  it("creates a paused subscription's consumer paused", () => {
    expect(desiredConsumerConfig("shop_x", { ...sub, paused: true }).pause_until).toBe(PAUSED_UNTIL);
    expect(desiredConsumerConfig("shop_x", sub)).not.toHaveProperty("pause_until");
  });

  // JetStream's own backoff would replace ack_wait with backoff[0]: never set; the retry
  // schedule goes to the runtime in the consumer's metadata.
  it.each([
    ["examples' values", [1e9, 5e9, 30e9], { "jetmesh.io/backoff": "1s,5s,30s" }],
    ["sub-second and odd values", [100e6, 1.5e9, 90e9, 7200e9, 1500], { "jetmesh.io/backoff": "100ms,1500ms,90s,2h,1500ns" }],
    ["no backoff: empty metadata clears an old schedule", [], {}],
  ])("%s", (_name, backoffNs, metadata) => {
    const cfg = desiredConsumerConfig("shop_x", { ...sub, backoffNs, ackWaitNs: 30e9 }, "shop/x");
    expect(cfg.ack_wait).toBe(30e9);
    expect(cfg).not.toHaveProperty("backoff");
    expect(cfg.description).toBe("JetMesh shop/x");
    expect(cfg.metadata).toEqual(metadata);
  });

  const desired = desiredConsumerConfig("shop_x", sub);
  const server = { ...desired, replay_policy: "instant", max_waiting: 512, num_replicas: 0 };
  it.each([
    ["unchanged", {}, [], []],
    ["deliver policy", { deliver_policy: "new" }, [], ["delivery.startFrom"]],
    ["filter is updatable", { filter_subject: "other" }, ["types"], []],
    ["filter moved to filter_subjects is the same filter", { filter_subject: undefined, filter_subjects: ["shop.order.placed.v1"] }, [], []],
    ["max deliver and ack pending edited", { max_deliver: 9, max_ack_pending: 1 }, ["delivery.maxDeliver", "delivery.maxAckPending"], []],
    ["ack wait", { ack_wait: 1e9 }, ["delivery.ackWait"], []],
    ["push consumer in its place", { deliver_subject: "x" }, [], ["pull (was push)"]],
    ["paused by hand is not a config difference (the pause API repairs it)", { pause_until: PAUSED_UNTIL }, [], []],
  ])("%s", (_name, change, updatable, immutable) => {
    expect(diffConsumerConfig(desired, { ...server, ...change })).toEqual({ updatable, immutable });
  });

  const withBackoff = desiredConsumerConfig("shop_x", { ...sub, backoffNs: [1e9, 5e9] }, "shop/x");
  it.each([
    ["as created, server metadata ignored", { metadata: { "jetmesh.io/backoff": "1s,5s", "_nats.req.level": "0" } }, []],
    // What older operators created: JetStream backoff, server-reported ack_wait 1 s.
    ["old operator's JetStream backoff", { backoff: [1e9, 5e9], ack_wait: 1e9 }, ["delivery.backoff", "delivery.ackWait"]],
    // What operators that also wrote the schedule into the description left: cleared.
    ["old operator's description schedule", { description: "JetMesh shop/x; backoff=1s,5s" }, ["description"]],
    ["description edited", { description: "mine" }, ["description"]],
    ["metadata edited", { metadata: { "jetmesh.io/backoff": "9s" } }, ["delivery.backoff"]],
    ["metadata missing", { metadata: undefined }, ["delivery.backoff"]],
  ])("backoff drift: %s", (_name, change, updatable) => {
    expect(diffConsumerConfig(withBackoff, { ...withBackoff, replay_policy: "instant", ...change })).toEqual({ updatable, immutable: [] });
  });
});
