// The saga end to end: the four services in-process against a real nats-server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startNats, type NatsCluster } from "@jetmesh/testing";
import { SHOP_STREAM, SUBSCRIPTIONS } from "@jetmesh/shop";
import { verifyShop } from "../src/index.ts";
import { provision, startShop, type Shop } from "./fixtures.ts";
import { getOrder, orderBody, postOrder, request, stockOf, waitConsumersIdle, waitOrder } from "./helpers.ts";

const CONSUMERS = SUBSCRIPTIONS.map((s) => s.consumer);
const SEED = "happy=10,scarce=1,decl=5,last=1,dup=3,idem=5,page=20";

describe("shop saga (four services, real nats-server)", () => {
  let nats: NatsCluster;
  let shop: Shop;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startNats();
    await provision(nats.url);
    shop = await startShop(nats.url, { env: { INVENTORY_SEED: SEED, ORDER_PRICES: "happy=250" } });
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await shop?.stop();
    await nats?.destroy();
  });

  it("happy path: placed → confirmed → shipped, stock moves from available to shipped", async () => {
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "happy", quantity: 2 }]));
    expect(r.status).toBe(202);
    expect(r.headers.get("location")).toBe(`/orders/${r.body.id}`);
    const o = await waitOrder(shop.orderUrl, r.body.id, ["shipped", "cancelled"]);
    expect(o.status).toBe("shipped");
    expect(o.amount).toBe(500);
    expect(o.history.map((h) => h.status)).toEqual(["placed", "confirmed", "shipped"]);
    expect(o.shipmentId).toMatch(/^shp-/);
    await waitConsumersIdle(jsm);
    expect(await stockOf(shop.inventoryUrl, "happy")).toMatchObject({ initial: 10, available: 8, reserved: 0, shipped: 2 });
  });

  it("out of stock: the order is cancelled and nothing is held", async () => {
    const r = await postOrder(
      shop.orderUrl,
      orderBody([
        { sku: "happy", quantity: 1 },
        { sku: "scarce", quantity: 2 },
      ]),
    );
    const o = await waitOrder(shop.orderUrl, r.body.id, ["shipped", "cancelled"]);
    expect(o.status).toBe("cancelled");
    expect(o.cancelReason).toBe("out_of_stock");
    await waitConsumersIdle(jsm);
    expect(await stockOf(shop.inventoryUrl, "scarce")).toMatchObject({ available: 1, reserved: 0, shipped: 0 });
    // The line that could be reserved was given back too (all or nothing).
    expect(await stockOf(shop.inventoryUrl, "happy")).toMatchObject({ available: 8, reserved: 0 });
  });

  it("unknown SKU: cancelled with reason unknown_sku", async () => {
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "no-such-sku", quantity: 1 }]));
    const o = await waitOrder(shop.orderUrl, r.body.id, ["shipped", "cancelled"]);
    expect(o.cancelReason).toBe("unknown_sku");
  });

  it("payment declined: cancelled and the reserved stock released", async () => {
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "decl", quantity: 3 }], "4000000000000002"));
    const o = await waitOrder(shop.orderUrl, r.body.id, ["shipped", "cancelled"]);
    expect(o.status).toBe("cancelled");
    expect(o.cancelReason).toBe("payment_declined");
    await waitConsumersIdle(jsm);
    expect(await stockOf(shop.inventoryUrl, "decl")).toMatchObject({ available: 5, reserved: 0, shipped: 0 });
  });

  it("concurrent orders for the last unit: exactly one wins", async () => {
    const replies = await Promise.all(Array.from({ length: 12 }, () => postOrder(shop.orderUrl, orderBody([{ sku: "last", quantity: 1 }]))));
    expect(replies.every((r) => r.status === 202)).toBe(true);
    const final = await Promise.all(replies.map((r) => waitOrder(shop.orderUrl, r.body.id, ["shipped", "cancelled"])));
    expect(final.filter((o) => o.status === "shipped")).toHaveLength(1);
    expect(final.filter((o) => o.cancelReason === "out_of_stock")).toHaveLength(11);
    await waitConsumersIdle(jsm);
    expect(await stockOf(shop.inventoryUrl, "last")).toMatchObject({ available: 0, reserved: 0, shipped: 1 });
  });

  it("every event of a finished saga delivered again (new Nats-Msg-Id) changes nothing", async () => {
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "dup", quantity: 2 }]));
    const before = await waitOrder(shop.orderUrl, r.body.id, ["shipped", "cancelled"]);
    expect(before.status).toBe("shipped");
    await waitConsumersIdle(jsm);
    const stockBefore = await stockOf(shop.inventoryUrl, "dup");

    // Re-publish every event of this order with a fresh Nats-Msg-Id: JetStream stores and
    // delivers each one again, so only the handlers' own idempotency can stop a double apply.
    const js = jetstream(nc);
    const deliveredBefore = new Map<string, number>();
    for (const c of CONSUMERS) deliveredBefore.set(c, (await jsm.consumers.info(SHOP_STREAM, c)).delivered.consumer_seq);
    const info = await jsm.streams.info(SHOP_STREAM);
    let republished = 0;
    for (let seq = 1; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(SHOP_STREAM, { seq }).catch(() => undefined);
      if (!m || !m.string().includes(r.body.id)) continue;
      const h = natsHeaders();
      for (const [k, vs] of m.header ?? []) if (k !== "Nats-Msg-Id") for (const v of vs) h.append(k, v);
      h.set("Nats-Msg-Id", `replay-${seq}`);
      await js.publish(m.subject, m.data, { headers: h });
      republished++;
    }
    expect(republished).toBe(5); // placed, reserved, authorized, confirmed, dispatched
    await waitConsumersIdle(jsm);

    const after = await getOrder(shop.orderUrl, r.body.id);
    expect(after.history).toEqual(before.history);
    expect(await stockOf(shop.inventoryUrl, "dup")).toEqual(stockBefore);
    // The copies were really delivered to every service (not deduplicated by the stream)...
    for (const c of CONSUMERS) {
      expect((await jsm.consumers.info(SHOP_STREAM, c)).delivered.consumer_seq).toBeGreaterThan(deliveredBefore.get(c)!);
    }
    // ...and the follow-ups they republished kept their ids, so no second charge exists.
    const report = await verifyShop(nc);
    expect(report.violations).toEqual([]);
  });

  it("Idempotency-Key: a retried POST returns the same order; another body with the key is refused", async () => {
    const body = orderBody([{ sku: "idem", quantity: 1 }]);
    const first = await postOrder(shop.orderUrl, body, { "idempotency-key": "retry-me-1" });
    const again = await postOrder(shop.orderUrl, body, { "idempotency-key": "retry-me-1" });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const other = await postOrder(shop.orderUrl, orderBody([{ sku: "idem", quantity: 2 }]), { "idempotency-key": "retry-me-1" });
    expect(other.status).toBe(422);
    expect(other.headers.get("content-type")).toBe("application/problem+json");
    await waitOrder(shop.orderUrl, first.body.id, ["shipped"]);
    await waitConsumersIdle(jsm);
    // One order, one unit: the retry did not place a second order.
    expect(await stockOf(shop.inventoryUrl, "idem")).toMatchObject({ available: 4, shipped: 1 });
  });

  it.each([
    { name: "malformed JSON", status: 400, init: { headers: { "content-type": "application/json" }, body: "{nope" } },
    { name: "not JSON", status: 415, init: { headers: { "content-type": "text/plain" }, body: "hello" } },
    { name: "body over 64 KiB", status: 413, init: { headers: { "content-type": "application/json" }, body: JSON.stringify({ pad: "x".repeat(70_000) }) } },
    {
      name: "schema violation",
      status: 422,
      init: { headers: { "content-type": "application/json" }, body: JSON.stringify({ items: [], customer: { id: "c" }, payment: { card: "1" } }) },
    },
    { name: "bad Idempotency-Key", status: 400, init: { headers: { "content-type": "application/json", "idempotency-key": "" }, body: "{}" } },
  ])("POST /orders refuses $name with $status problem+json", async ({ status, init }) => {
    const r = await request(`${shop.orderUrl}/orders`, { method: "POST", ...init });
    expect(r.status).toBe(status);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    expect(r.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
    expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts|Error:/);
    if (status === 422) expect(r.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(["/items", "/payment/card"]));
  });

  it("GET /orders pages through orders by status; unknown ids are 404", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await postOrder(shop.orderUrl, orderBody([{ sku: "page", quantity: 1 }]))).body.id);
    for (const id of ids) await waitOrder(shop.orderUrl, id, ["shipped"]);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await request(`${shop.orderUrl}/orders?status=shipped&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      expect(r.body.orders.length).toBeLessThanOrEqual(2);
      for (const o of r.body.orders) {
        expect(o.status).toBe("shipped");
        seen.push(o.id);
      }
      cursor = r.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(expect.arrayContaining(ids));
    expect(new Set(seen).size).toBe(seen.length);
    expect((await request(`${shop.orderUrl}/orders?status=lost`)).status).toBe(400);
    expect((await request(`${shop.orderUrl}/orders/o-missing`)).status).toBe(404);
  });

  it("ORDER_API_TOKEN: /orders needs the bearer token (401 problem+json without it)", async () => {
    const token = "s3cret-token-0123456789";
    const guarded = await startShop(nats.url, { only: ["order"], env: { ORDER_API_TOKEN: token } });
    try {
      const denied = await postOrder(guarded.orderUrl, orderBody([{ sku: "happy", quantity: 1 }]));
      expect(denied.status).toBe(401);
      expect(denied.headers.get("content-type")).toBe("application/problem+json");
      expect(denied.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await request(`${guarded.orderUrl}/orders/x`, { headers: { authorization: "Bearer wrong-token-0123456789" } })).status).toBe(401);
      const ok = await postOrder(guarded.orderUrl, orderBody([{ sku: "happy", quantity: 1 }]), { authorization: `Bearer ${token}` });
      expect(ok.status).toBe(202);
      await waitOrder(shop.orderUrl, ok.body.id, ["shipped"]);
    } finally {
      await guarded.stop();
    }
  });

  it("the checker finds every order finished and no invariant violated", async () => {
    await waitConsumersIdle(jsm);
    const report = await verifyShop(nc, { settleMs: 10_000 });
    expect(report.violations).toEqual([]);
    expect(report.inFlight).toEqual([]);
    expect(report.byStatus.shipped).toBeGreaterThanOrEqual(7);
    expect(report.byStatus.cancelled).toBeGreaterThanOrEqual(13);
  });
});
