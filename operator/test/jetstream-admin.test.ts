// The JetStream layer against a real nats-server: what the operator creates reads back as "no
// difference" (so a resync does not rewrite everything), edits are seen as drift, and the
// connection survives NATS being down at start and coming back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { pino } from "pino";
import { NatsConnector } from "../src/jetstream/connection.ts";
import { desiredStreamConfig, diffStreamConfig } from "../src/jetstream/stream-config.ts";
import { desiredConsumerConfig, diffConsumerConfig } from "../src/jetstream/consumer-config.ts";
import { resolveStreamSpec, resolveSubscriptionSpec } from "../src/api/spec.ts";
import { JetStreamRefused, type JetStreamAdmin } from "../src/jetstream/admin.ts";

const log = pino({ level: "silent" });
let nats: NatsCluster;
let conn: NatsConnector;
let admin: JetStreamAdmin;

beforeAll(async () => {
  nats = await startNats();
  conn = new NatsConnector({ servers: [nats.url], requestTimeoutMs: 2000 }, log, () => undefined);
  conn.start();
  admin = await waitFor("connected", () => conn.admin());
});

afterAll(async () => {
  await conn?.stop();
  await nats?.destroy();
});

function ok<T>(r: { ok: true; value: T } | { ok: false; problems: string[] }): T {
  if (!r.ok) throw new Error(r.problems.join("; "));
  return r.value;
}

describe("JetStream admin on a real server", () => {
  it("creates a stream that reads back without difference, then sees edits as drift", async () => {
    const spec = ok(resolveStreamSpec({ subjects: ["t1.>"], maxAge: "1h", maxBytes: "10Mi", duplicateWindow: "1m", storage: "memory" }));
    const desired = desiredStreamConfig("ns_t1", spec);
    expect(await admin.streamInfo("ns_t1")).toBeUndefined();
    const created = await admin.addStream(desired);
    expect(diffStreamConfig(desired, created.config)).toEqual({ updatable: [], immutable: [] });
    const read = await admin.streamInfo("ns_t1");
    expect(diffStreamConfig(desired, read!.config)).toEqual({ updatable: [], immutable: [] });

    await admin.updateStream({ ...desired, max_age: 7200e9 });
    const drifted = await admin.streamInfo("ns_t1");
    expect(diffStreamConfig(desired, drifted!.config).updatable).toEqual(["maxAge"]);
    await admin.updateStream(desired);
    expect(diffStreamConfig(desired, (await admin.streamInfo("ns_t1"))!.config).updatable).toEqual([]);

    // Retention cannot change: the server says no, and the diff calls it immutable.
    await expect(admin.updateStream({ ...desired, retention: "workqueue" })).rejects.toBeInstanceOf(JetStreamRefused);
    expect(diffStreamConfig({ ...desired, retention: "workqueue" }, read!.config).immutable).toEqual(["retention"]);
  });

  it("refuses a stream whose subjects overlap another's", async () => {
    await admin.addStream(desiredStreamConfig("ns_a", ok(resolveStreamSpec({ subjects: ["ov.>"] }))));
    const err = await admin.addStream(desiredStreamConfig("ns_b", ok(resolveStreamSpec({ subjects: ["ov.x"] })))).catch((e) => e);
    expect(err).toBeInstanceOf(JetStreamRefused);
    expect((err as Error).message).toMatch(/overlap/i);
  });

  it("creates consumers that read back without difference, updates and deletes them", async () => {
    await admin.addStream(desiredStreamConfig("ns_c", ok(resolveStreamSpec({ subjects: ["c.>"] }))));
    for (const [name, types, backoff] of [
      ["one", ["c.a"], []],
      ["many", ["c.a", "c.b"], ["1s", "5s"]],
    ] as const) {
      const sub = ok(resolveSubscriptionSpec({ stream: "c", types: [...types], delivery: { backoff: [...backoff], startFrom: "all" } }));
      const desired = desiredConsumerConfig(`ns_${name}`, sub);
      const created = await admin.addConsumer("ns_c", desired);
      expect(diffConsumerConfig(desired, created.config)).toEqual({ updatable: [], immutable: [] });
      const updated = await admin.updateConsumer("ns_c", { ...desired, max_deliver: 9, max_ack_pending: 10 });
      expect(diffConsumerConfig(desired, updated.config).updatable).toEqual(["delivery.maxDeliver", "delivery.maxAckPending"]);
      await admin.deleteConsumer("ns_c", `ns_${name}`);
      expect(await admin.consumerInfo("ns_c", `ns_${name}`)).toBeUndefined();
    }
    // Deleting what is already gone is not an error (finalizers may run twice).
    await admin.deleteConsumer("ns_c", "ns_one");
    await admin.deleteStream("ns_nope");
  });
});

describe("NATS connection", () => {
  it("keeps trying while NATS is down at start and attaches when it comes up", async () => {
    const late = await startNats();
    const url = late.url;
    await late.node(0).stop();
    const changes: boolean[] = [];
    const c = new NatsConnector({ servers: [url], requestTimeoutMs: 1000 }, log, (up) => changes.push(up));
    c.start();
    try {
      await waitFor("a failed connection attempt", () => c.lastError !== "not connected yet", { timeoutMs: 10_000 });
      expect(c.admin()).toBeUndefined();
      expect(changes).toEqual([]);
      await late.node(0).start();
      await waitFor("attached", () => c.admin(), { timeoutMs: 10_000 });
      await late.node(0).stop();
      await waitFor("detached", () => !c.connected, { timeoutMs: 5_000 });
      await late.node(0).start();
      await waitFor("re-attached", () => c.connected, { timeoutMs: 10_000 });
      expect(changes).toEqual([true, false, true]);
    } finally {
      await c.stop();
      await late.destroy();
    }
  });
});
