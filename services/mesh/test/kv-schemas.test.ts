import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { startNats, type NatsCluster } from "@jetmesh/testing";
import { InvalidEventError, SchemaRegistry, updateKv } from "@jetmesh/mesh";

describe("updateKv", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let kv: KV;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    kv = await new Kvm(nc).create("state", { history: 5 });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.destroy();
  });

  it("applies every one of many concurrent read-modify-writes exactly once", async () => {
    const writers = 25;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        updateKv<{ n: number; by: number[] }>(kv, "counter", (cur) => ({ n: (cur?.n ?? 0) + 1, by: [...(cur?.by ?? []), i] }), { maxAttempts: 100 }),
      ),
    );
    expect(results.every((r) => r.changed)).toBe(true);
    const final = (await kv.get("counter"))!.json<{ n: number; by: number[] }>();
    expect(final.n).toBe(writers);
    expect([...final.by].sort((a, b) => a - b)).toEqual(Array.from({ length: writers }, (_, i) => i));
  });

  it("changes nothing when the function says so (idempotent redelivery), and recreates deleted keys", async () => {
    const apply = (cur: { done: boolean } | undefined) => (cur?.done ? undefined : { done: true });
    const first = await updateKv(kv, "order.1", apply);
    const again = await updateKv(kv, "order.1", apply);
    expect(first).toMatchObject({ changed: true, value: { done: true } });
    expect(again).toMatchObject({ changed: false, value: { done: true }, revision: first.revision });
    await kv.delete("order.1");
    const recreated = await updateKv(kv, "order.1", apply);
    expect(recreated.changed).toBe(true);
    expect(recreated.revision).toBeGreaterThan(first.revision);
  });

  it("gives up with a clear error when conflicts never stop", async () => {
    let n = 0;
    const interfering = {
      get: kv.get.bind(kv),
      create: kv.create.bind(kv),
      // Someone else always writes between our read and our write.
      update: async (k: string, d: string | Uint8Array, v: number) => {
        await kv.put(k, JSON.stringify({ other: ++n }));
        return kv.update(k, d, v);
      },
    };
    await kv.put("hot", "{}");
    await expect(updateKv(interfering, "hot", () => ({ mine: true }), { maxAttempts: 3 })).rejects.toThrow(/gave up after 3 compare-and-set attempts/);
  });
});

describe("SchemaRegistry", () => {
  it("loads draft-07 and 2020-12 schemas from <type>.json files and names the failing path", () => {
    const dir = mkdtempSync(join(tmpdir(), "schemas-"));
    writeFileSync(
      join(dir, "shop.order.placed.v1.json"),
      JSON.stringify({
        $schema: "http://json-schema.org/draft-07/schema#",
        $id: "https://jetmesh.io/schemas/shop.order.placed.v1.json",
        type: "object",
        required: ["orderId", "items"],
        additionalProperties: false,
        properties: {
          orderId: { type: "string" },
          items: { type: "array", items: { type: "object", properties: { qty: { type: "integer", minimum: 1 } } } },
          at: { type: "string", format: "date-time" },
        },
      }),
    );
    writeFileSync(
      join(dir, "shop.x.v1.json"),
      JSON.stringify({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", prefixItems: [{ type: "string" }], required: ["a"] }),
    );
    writeFileSync(join(dir, "README.md"), "not a schema");
    const reg = SchemaRegistry.fromDir(dir);
    expect(reg.types.sort()).toEqual(["shop.order.placed.v1", "shop.x.v1"]);
    expect(() => reg.validate("shop.order.placed.v1", { orderId: "o", items: [{ qty: 1 }], at: "2026-11-23T10:00:00Z" })).not.toThrow();
    const fail = (data: unknown) => {
      try {
        reg.validate("shop.order.placed.v1", data);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidEventError);
        expect((err as InvalidEventError).reason).toBe("schema");
        return (err as Error).message;
      }
      return "passed";
    };
    expect(fail({ orderId: "o", items: [{ qty: 0 }] })).toMatch(/\/items\/0\/qty must be >= 1/);
    expect(fail({ orderId: "o" })).toMatch(/must have property "items"/);
    expect(fail({ orderId: "o", items: [], extra: 1 })).toMatch(/unexpected property "extra"/);
    expect(fail({ orderId: "o", items: [], at: "yesterday" })).toMatch(/\/at must match format "date-time"/);
    expect(() => reg.validate("shop.x.v1", {})).toThrow(/must have property "a"/);
    // A type without schema passes; a second registry with the same $id does not clash.
    expect(() => reg.validate("shop.unknown.v1", 42)).not.toThrow();
    expect(() => SchemaRegistry.fromDir(dir)).not.toThrow();
  });
});
