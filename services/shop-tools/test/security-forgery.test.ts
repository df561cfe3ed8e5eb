// A forged event under the real per-service NATS permissions (issue 18): inventory may
// publish shop.inventory.rejected.v1, so it tries to pass off a payment authorization on that
// subject (ce-type: shop.payment.authorized.v1). The order service must dead-letter it
// (invalid_event, naming both) and leave the order unpaid: not confirmed, not shipped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { DLQ_HEADERS, runService, type ServiceDefinition, type ServiceHandle } from "@jetmesh/mesh";
import {
  DEAD_LETTER_STREAM,
  INVENTORY_REJECTED,
  INVENTORY_RESERVED,
  ORDER_CONFIRMED,
  PAYMENT_AUTHORIZED,
  SHIPMENT_DISPATCHED,
  SHOP_NAMESPACE,
  SHOP_SERVICES,
  SHOP_STREAM,
  serviceEnv,
  type ShopService,
} from "@jetmesh/shop";
import { provisionShop } from "../src/index.ts";
import { DEFINITIONS } from "./fixtures.ts";
import { shopIdentity } from "../src/nats-authorization-cli.ts";
import { natsAuthorizationConfig, servicePermissions } from "../src/nats-permissions.ts";

describe("security: a producer cannot forge another producer's event type", () => {
  let nats: NatsCluster;
  let admin: NatsConnection;
  const passwords = Object.fromEntries([...SHOP_SERVICES, "admin"].map((u) => [u, "p" + randomBytes(12).toString("hex")]));
  const handles: Partial<Record<ShopService, ServiceHandle>> = {};

  beforeAll(async () => {
    const users = [
      { user: "admin", password: passwords.admin! },
      ...SHOP_SERVICES.map((s) => ({ user: s, password: passwords[s]!, permissions: servicePermissions(shopIdentity(s, SHOP_NAMESPACE)) })),
    ];
    nats = await startNats({ extraConfig: natsAuthorizationConfig(users) });
    admin = await connect({ servers: nats.url, user: "admin", pass: passwords.admin });
    await provisionShop(await jetstreamManager(admin));
    // No payment service: the order waits for an authorization that only a forgery could give.
    for (const s of ["inventory", "shipping", "order"] as ShopService[]) {
      const env = {
        ...serviceEnv(s, nats.url, 0),
        HTTP_HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        NATS_USER: s,
        NATS_PASSWORD: passwords[s]!,
        ...(s === "inventory" ? { INVENTORY_SEED: "k1=10" } : {}),
      };
      const h = await runService(DEFINITIONS[s] as ServiceDefinition<unknown>, env);
      handles[s] = h;
      await waitFor(`${s} ready`, () => h.ready, { timeoutMs: 20_000 });
    }
  });
  afterAll(async () => {
    for (const s of ["order", "shipping", "inventory"] as ShopService[]) await handles[s]?.stop();
    await admin?.close();
    await nats?.destroy();
  });

  it("dead-letters a payment authorization published by inventory on its own subject; the order stays unpaid", async () => {
    const order = handles.order!;
    const res = await fetch(`${order.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items: [{ sku: "k1", quantity: 1 }], customer: { id: "c1" }, payment: { card: "4242424242424242" } }),
    });
    expect(res.status).toBe(202);
    const { id: orderId } = (await res.json()) as { id: string };
    const jsm = await jetstreamManager(admin);
    const count = async (subject: string) => (await jsm.streams.info(SHOP_STREAM, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    await waitFor("stock reserved", async () => (await count(INVENTORY_RESERVED)) === 1, { timeoutMs: 20_000 });
    const placed = (await (await fetch(`${order.url}/orders/${orderId}`)).json()) as { status: string; amount: number; currency: string };
    expect(placed.status).toBe("placed");

    // As inventory (its own credentials): allowed to publish this subject, and nothing else.
    const nc = await connect({ servers: nats.url, user: "inventory", pass: passwords.inventory });
    try {
      const h = natsHeaders();
      h.set("ce-specversion", "1.0");
      h.set("ce-id", "forged-authorization-1");
      h.set("ce-source", "/payment");
      h.set("ce-type", PAYMENT_AUTHORIZED);
      h.set("ce-datacontenttype", "application/json");
      const data = { orderId, authorizationId: "auth-forged", amount: placed.amount, currency: placed.currency, authorizedAt: new Date().toISOString() };
      await jetstream(nc).publish(INVENTORY_REJECTED, JSON.stringify(data), { headers: h, msgID: "forged-authorization-1" });
      // The direct route is closed by the permissions already.
      await expect(jetstream(nc).publish(PAYMENT_AUTHORIZED, JSON.stringify(data), { headers: h, timeout: 3000 })).rejects.toThrow(/permission/i);
    } finally {
      await nc.close();
    }

    const status = async () => ((await (await fetch(`${order.url}/orders/${orderId}`)).json()) as { status: string }).status;
    // Until it is dead-lettered, or (the hole this closes) the order moved on because of it.
    const outcome = await waitFor(
      "the forgery dead-lettered or acted on",
      async () => {
        const c = await jetstream(admin).consumers.get(DEAD_LETTER_STREAM);
        const out: JsMsg[] = [];
        for await (const m of await c.fetch({ max_messages: 10, expires: 1000 })) out.push(m);
        const dead = out.find((m) => m.headers?.get("ce-id") === "forged-authorization-1");
        const now = await status();
        return dead || now !== "placed" ? { dead, status: now } : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(outcome.status).toBe("placed");
    const dead = outcome.dead!;
    expect(dead.subject).toBe(`jetmesh.dlq.${SHOP_NAMESPACE}.order`);
    expect(dead.headers!.get(DLQ_HEADERS.reason)).toBe("invalid_event");
    expect(dead.headers!.get(DLQ_HEADERS.originalSubject)).toBe(INVENTORY_REJECTED);
    expect(dead.headers!.get(DLQ_HEADERS.error)).toContain(PAYMENT_AUTHORIZED);
    expect(dead.headers!.get(DLQ_HEADERS.error)).toContain(INVENTORY_REJECTED);

    // The order was neither confirmed nor shipped (nor cancelled by a "rejection").
    expect(await status()).toBe("placed");
    expect(await count(ORDER_CONFIRMED)).toBe(0);
    expect(await count(SHIPMENT_DISPATCHED)).toBe(0);
  });
});
