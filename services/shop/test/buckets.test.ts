import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNats, type NatsCluster } from "@jetmesh/testing";
import { bucketSettings, openBucket } from "../src/buckets.ts";

describe("bucketSettings", () => {
  it.each([
    [{}, { storage: "file", replicas: 1 }, []],
    [{ SHOP_KV_STORAGE: "memory", SHOP_KV_REPLICAS: "3" }, { storage: "memory", replicas: 3 }, []],
    [{ SHOP_KV_STORAGE: "disk" }, { storage: "file", replicas: 1 }, ['SHOP_KV_STORAGE must be file or memory, not "disk"']],
    [{ SHOP_KV_REPLICAS: "2" }, { storage: "file", replicas: 1 }, ['SHOP_KV_REPLICAS must be 1, 3 or 5, not "2"']],
  ])("%j", (env, expected, expectedProblems) => {
    const problems: string[] = [];
    expect(bucketSettings(env, problems)).toEqual(expected);
    expect(problems).toEqual(expectedProblems);
  });
});

describe("openBucket", () => {
  let nats: NatsCluster | undefined;
  afterAll(async () => nats?.destroy());

  it("creates the bucket with the configured storage once and reopens it with its data", async () => {
    nats = await startNats();
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const kv = await openBucket(js, "shop-test", { storage: "memory", replicas: 1 });
    await kv.put("k", "v1");
    const again = await openBucket(js, "shop-test", { storage: "memory", replicas: 1 });
    expect((await again.get("k"))?.string()).toBe("v1");
    const info = await (await jetstreamManager(nc)).streams.info("KV_shop-test");
    expect(info.config.storage).toBe("memory");
    expect(info.config.max_msgs_per_subject).toBe(1);
    await nc.close();
  });
});
