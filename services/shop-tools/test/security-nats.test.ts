// NATS TLS + authentication + per-service permissions, end to end: a nats-server that
// requires client certificates from a test CA and a user per service (permissions from
// services/shop-tools/src/nats-permissions.ts), the four shop services connecting with
// NATS_TLS_* and NATS_USER/NATS_PASSWORD, orders going through, and a service that tries
// to step outside its permissions being refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { makeTestPki, natsTlsConfig, startNats, waitFor, type NatsCluster, type TestPki } from "@jetmesh/testing";
import { runService, type ServiceDefinition, type ServiceHandle } from "@jetmesh/mesh";
import {
  ORDERS_BUCKET,
  ORDER_CONFIRMED,
  PAYMENTS_BUCKET,
  PRODUCERS,
  SHIPMENTS_BUCKET,
  SHOP_SERVICES,
  SHOP_STREAM,
  STOCK_BUCKET,
  serviceEnv,
  subscriptionOf,
  type ShopService,
} from "@jetmesh/shop";
import { provisionShop, verifyShop } from "../src/index.ts";
import { DEFINITIONS } from "./fixtures.ts";
import { natsAuthorizationConfig, servicePermissions, type ServiceNatsIdentity } from "../src/nats-permissions.ts";

const BUCKET_OF: Record<ShopService, string> = { order: ORDERS_BUCKET, inventory: STOCK_BUCKET, payment: PAYMENTS_BUCKET, shipping: SHIPMENTS_BUCKET };

function shopIdentity(service: ShopService): ServiceNatsIdentity {
  const sub = subscriptionOf(service);
  return {
    service,
    produces: Object.entries(PRODUCERS)
      .filter(([, s]) => s === service)
      .map(([t]) => t),
    stream: SHOP_STREAM,
    consumer: sub.consumer,
    deadLetterSubject: sub.deadLetterSubject,
    buckets: [BUCKET_OF[service]],
  };
}

describe("security: NATS TLS, authentication and per-service permissions", () => {
  let pki: TestPki;
  let nats: NatsCluster;
  let admin: NatsConnection;
  const passwords = Object.fromEntries([...SHOP_SERVICES, "admin"].map((u) => [u, randomBytes(18).toString("base64url")]));
  const handles: ServiceHandle[] = [];
  let tlsOpts: (name: string) => NonNullable<ConnectionOptions["tls"]>;

  beforeAll(async () => {
    pki = makeTestPki();
    const certs = Object.fromEntries([...SHOP_SERVICES, "admin"].map((n) => [n, pki.client(n)]));
    tlsOpts = (n) => ({ caFile: pki.caFile, certFile: certs[n]!.certFile, keyFile: certs[n]!.keyFile });
    const users = [
      { user: "admin", password: passwords.admin! },
      ...SHOP_SERVICES.map((s) => ({ user: s, password: passwords[s]!, permissions: servicePermissions(shopIdentity(s)) })),
    ];
    nats = await startNats({ extraConfig: `${natsTlsConfig(pki)}\n${natsAuthorizationConfig(users)}` });
    admin = await connect({ servers: nats.url, user: "admin", pass: passwords.admin, tls: tlsOpts("admin") });
    await provisionShop(await jetstreamManager(admin), { backoffMs: [2000, 2000, 4000], maxDeliver: 4 });
    for (const s of ["inventory", "payment", "shipping", "order"] as ShopService[]) {
      const c = tlsOpts(s);
      const env = {
        ...serviceEnv(s, nats.url, 0),
        HTTP_HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        NATS_USER: s,
        NATS_PASSWORD: passwords[s]!,
        NATS_TLS_CA_FILE: c.caFile!,
        NATS_TLS_CERT_FILE: c.certFile!,
        NATS_TLS_KEY_FILE: c.keyFile!,
        ...(s === "inventory" ? { INVENTORY_SEED: "k1=100,k2=100" } : {}),
      };
      const h = await runService(DEFINITIONS[s] as ServiceDefinition<unknown>, env);
      handles.push(h);
      await waitFor(`${s} ready`, () => h.ready, { timeoutMs: 15_000 });
    }
  });
  afterAll(async () => {
    for (const h of handles.reverse()) await h.stop();
    await admin?.close();
    await nats?.destroy();
  });

  it("runs the saga over TLS with per-service users and no permission violation", async () => {
    const order = handles[3]!;
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${order.url}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          items: [{ sku: i % 2 ? "k1" : "k2", quantity: 1 }],
          customer: { id: `c${i}` },
          payment: { card: i === 3 ? "4000000000000002" : "4242424242424242" },
        }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    const statuses = new Map<string, string>();
    await waitFor(
      "all orders finished",
      async () => {
        for (const id of ids) statuses.set(id, ((await (await fetch(`${order.url}/orders/${id}`)).json()) as { status: string }).status);
        return [...statuses.values()].every((s) => s === "shipped" || s === "cancelled");
      },
      { timeoutMs: 30_000 },
    );
    expect([...statuses.values()].filter((s) => s === "shipped").length).toBe(9);
    const report = await verifyShop(admin, { settleMs: 10_000 });
    expect(report.violations).toEqual([]);
    expect(report.orders).toBe(10);
    // The server saw no service step outside its permissions during the whole saga.
    expect(nats.nodes[0]!.log).not.toMatch(/Violation/i);
  });

  it("refuses a service publishing outside its permissions (payment confirming an order)", async () => {
    const nc = await connect({ servers: nats.url, user: "payment", pass: passwords.payment, tls: tlsOpts("payment") });
    try {
      const errors: string[] = [];
      void (async () => {
        for await (const s of nc.status()) if (s.type === "error") errors.push(String(s.error));
      })();
      const js = jetstream(nc);
      await expect(js.publish(ORDER_CONFIRMED, new TextEncoder().encode("{}"), { timeout: 3000 })).rejects.toThrow(/permission/i);
      // Nor may it read another service's bucket or subscribe to the event stream directly.
      nc.subscribe("shop.>");
      await waitFor("subscription violation reported", () => errors.some((e) => /permission/i.test(e) && /shop\.>/.test(e)), { timeoutMs: 5000 });
      const jsm = await jetstreamManager(admin);
      const confirmed = (await jsm.streams.info(SHOP_STREAM, { subjects_filter: ORDER_CONFIRMED })).state.subjects?.[ORDER_CONFIRMED] ?? 0;
      expect(confirmed).toBe(9);
    } finally {
      await nc.close();
    }
    expect(nats.nodes[0]!.log).toMatch(/Publish Violation.*payment.*shop\.order\.confirmed\.v1|payment.*Publish Violation/i);
  });

  it("refuses a wrong password, a missing client certificate, and a server with an unknown CA", async () => {
    await expect(connect({ servers: nats.url, user: "order", pass: "wrong", tls: tlsOpts("order"), reconnect: false, timeout: 3000 })).rejects.toThrow(
      /authorization/i,
    );
    await expect(
      connect({ servers: nats.url, user: "order", pass: passwords.order, tls: { caFile: pki.caFile }, reconnect: false, timeout: 3000 }),
    ).rejects.toThrow();
    await expect(
      connect({
        servers: nats.url,
        user: "order",
        pass: passwords.order,
        tls: { ...tlsOpts("order"), caFile: pki.otherCaFile() },
        reconnect: false,
        timeout: 3000,
      }),
    ).rejects.toThrow();
  });
});
