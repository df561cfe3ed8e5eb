// The invariant checker and the saga's compensation on a real nats-server: events an
// attacker or a bug can inject, an order that can never finish, and what a checker run
// leaves behind on the server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { encodeBinary, newEvent } from "@jetmesh/mesh";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { ORDER_PLACED, PAYMENTS_BUCKET, PAYMENT_AUTHORIZED, SHOP_STREAM, paymentKey, type OrderPlaced, type PaymentRecord } from "@jetmesh/shop";
import { verifyShop } from "../src/index.ts";
import { provision, startShop, type Shop } from "./fixtures.ts";
import { orderBody, postOrder, stockOf, waitConsumersIdle, waitOrder } from "./helpers.ts";

async function consumerCounts(jsm: JetStreamManager): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for await (const si of jsm.streams.list()) {
    let n = 0;
    for await (const _ of jsm.consumers.list(si.config.name)) n++;
    out[si.config.name] = n;
  }
  return out;
}

async function publishEvent(nc: NatsConnection, type: string, data: unknown, msgId?: string): Promise<void> {
  const e = encodeBinary(newEvent({ type, source: "/test/forger", data }));
  const h = natsHeaders();
  for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
  await jetstream(nc).publish(e.subject, e.payload, { headers: h, ...(msgId ? { msgID: msgId } : {}) });
}

describe("checker and compensation (four services, real nats-server)", () => {
  let nats: NatsCluster;
  let shop: Shop;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nats = await startNats();
    await provision(nats.url);
    shop = await startShop(nats.url, { env: { INVENTORY_SEED: "ghost=10,twice=10,clean=10,big=5000" } });
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await shop?.stop();
    await nats?.destroy();
  });

  it("a placed event for an order the order service never took: stock released, authorization voided, checker clean", async () => {
    const placed: OrderPlaced = {
      orderId: "oGhost0001",
      items: [{ sku: "ghost", quantity: 3 }],
      customer: { id: "nobody" },
      payment: { card: "4242424242424242", amount: 300, currency: "EUR" },
      placedAt: new Date().toISOString(),
    };
    await publishEvent(nc, ORDER_PLACED, placed);
    const payments = await new Kvm(nc).open(PAYMENTS_BUCKET);
    // Inventory reserved it and payment authorized it before the order service answered.
    const record = await waitFor(
      "the authorization to be voided",
      async () => {
        const e = await payments.get(paymentKey(placed.orderId));
        const r = e?.operation === "PUT" ? (e.json() as PaymentRecord) : undefined;
        return r?.outcome === "voided" ? r : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(record.authorizationId).toMatch(/^auth-/);
    await waitConsumersIdle(jsm);
    expect(await stockOf(shop.inventoryUrl, "ghost")).toMatchObject({ initial: 10, available: 10, reserved: 0 });
    const report = await verifyShop(nc);
    expect(report.violations).toEqual([]);
  });

  it("a placed event with lines of one SKU adding up to over 1,000 still gets an answer (no order stuck with stock held)", async () => {
    // The API refuses such an order; a placed event from elsewhere must not wedge the saga.
    const placed: OrderPlaced = {
      orderId: "oGhostBig01",
      items: [
        { sku: "big", quantity: 600 },
        { sku: "big", quantity: 600 },
      ],
      customer: { id: "nobody" },
      payment: { card: "4242424242424242", amount: 300, currency: "EUR" },
      placedAt: new Date().toISOString(),
    };
    await publishEvent(nc, ORDER_PLACED, placed);
    const payments = await new Kvm(nc).open(PAYMENTS_BUCKET);
    await waitFor(
      "the authorization to be voided",
      async () => {
        const e = await payments.get(paymentKey(placed.orderId));
        return e?.operation === "PUT" && (e.json() as PaymentRecord).outcome === "voided";
      },
      { timeoutMs: 20_000 },
    );
    await waitConsumersIdle(jsm);
    expect(await stockOf(shop.inventoryUrl, "big")).toMatchObject({ initial: 5000, available: 5000, reserved: 0 });
  });

  it("a second inventory.reserved (new event id) for a shipped order is one charge, not a double charge", async () => {
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "twice", quantity: 2 }]));
    await waitOrder(shop.orderUrl, r.body.id, ["shipped"]);
    await waitConsumersIdle(jsm);
    // Copy the order's reserved event under a fresh CloudEvent id: payment finds its record
    // and republishes the same authorization as a new event.
    const info = await jsm.streams.info(SHOP_STREAM);
    let copied = 0;
    for (let seq = 1; seq <= info.state.last_seq && copied === 0; seq++) {
      const m = await jsm.streams.getMessage(SHOP_STREAM, { seq }).catch(() => undefined);
      if (!m || m.subject !== "shop.inventory.reserved.v1" || !m.string().includes(r.body.id)) continue;
      await publishEvent(nc, m.subject, m.json(), `copy-${seq}`);
      copied++;
    }
    expect(copied).toBe(1);
    await waitFor(
      "a second authorization event for the order",
      async () => {
        const si = await jsm.streams.info(SHOP_STREAM, { subjects_filter: PAYMENT_AUTHORIZED });
        let n = 0;
        for (let seq = 1; seq <= si.state.last_seq; seq++) {
          const m = await jsm.streams.getMessage(SHOP_STREAM, { seq }).catch(() => undefined);
          if (m?.subject === PAYMENT_AUTHORIZED && m.string().includes(r.body.id)) n++;
        }
        return n === 2;
      },
      { timeoutMs: 15_000 },
    );
    await waitConsumersIdle(jsm);
    const report = await verifyShop(nc);
    expect(report.violations).toEqual([]);
  });

  it("a checker run leaves no consumer behind", async () => {
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "clean", quantity: 1 }]));
    await waitOrder(shop.orderUrl, r.body.id, ["shipped"]);
    await waitConsumersIdle(jsm);
    const before = await consumerCounts(jsm);
    await verifyShop(nc);
    await verifyShop(nc, { settleMs: 500, pollMs: 100 });
    expect(await consumerCounts(jsm)).toEqual(before);
  });
});

describe("checker: an order that cannot finish", () => {
  let nats: NatsCluster;
  let shop: Shop;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    await provision(nats.url);
    // No payment service: the order stays placed with its stock reserved.
    shop = await startShop(nats.url, { only: ["inventory", "order"], env: { INVENTORY_SEED: "held=10" } });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await shop?.stop();
    await nats?.destroy();
  });

  it("is a violation once the settle time has passed, listed with the stock it holds", async () => {
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "held", quantity: 2 }]));
    await waitFor("the stock to be reserved", async () => (await stockOf(shop.inventoryUrl, "held")).reserved === 2, { timeoutMs: 15_000 });
    // Without settling it is merely in flight: verify may run while orders are on their way.
    const quick = await verifyShop(nc);
    expect(quick.inFlight).toEqual([r.body.id]);
    expect(quick.violations).toEqual([]);
    const settled = await verifyShop(nc, { settleMs: 1000, pollMs: 200 });
    expect(settled.settled).toBe(false);
    expect(settled.violations).toEqual([
      { kind: "stuck", subject: r.body.id, message: expect.stringMatching(/^still placed after \d+ s without a change; holds 2 of held$/) },
    ]);
  });
});
