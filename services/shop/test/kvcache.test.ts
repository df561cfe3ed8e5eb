import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { startNats, type NatsCluster } from "@jetmesh/testing";
import { KvCache } from "../src/index.ts";

describe("KvCache (compare-and-set with a revision cache) on a real bucket", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let kv: KV;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    kv = await new Kvm(nc).create("kvcache_test", { history: 1 });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.destroy();
  });

  it("two writers with their own caches (two replicas) lose no update", async () => {
    const a = new KvCache<{ n: number }>(kv);
    const b = new KvCache<{ n: number }>(kv);
    const inc = (cur: { n: number } | undefined) => ({ n: (cur?.n ?? 0) + 1 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).update("counter", inc)));
    expect((await kv.get("counter"))?.json()).toEqual({ n: 40 });
  });

  it("a decision to change nothing made on a stale cache is re-checked on the server", async () => {
    const a = new KvCache<{ held: boolean }>(kv);
    await a.update("hold", () => ({ held: true }));
    // Another replica releases the hold behind a's back; a's cache still says held.
    await kv.put("hold", JSON.stringify({ held: false }));
    const r = await a.update("hold", (cur) => (cur?.held ? undefined : { held: true }));
    expect(r.changed).toBe(true);
    expect((await kv.get("hold"))?.json()).toEqual({ held: true });
  });

  it("insert creates once and returns the first value to later inserts", async () => {
    const a = new KvCache<{ v: number }>(kv);
    const b = new KvCache<{ v: number }>(kv);
    const [x, y] = await Promise.all([a.insert("once", { v: 1 }), b.insert("once", { v: 2 })]);
    expect([x.changed, y.changed].filter(Boolean)).toHaveLength(1);
    expect(x.value).toEqual(y.value);
    expect((await b.insert("once", { v: 3 })).value).toEqual(x.value);
  });
});
