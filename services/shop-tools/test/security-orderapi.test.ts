// The order API's security edges: an optional bearer token (401 without it), a request size
// limit, and no internal details in error answers — forced here by taking NATS away.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { provision, startShop, type Shop } from "./fixtures.ts";

const TOKEN = "s3cret-token-0123456789";
const ORDER = JSON.stringify({ items: [{ sku: "k1", quantity: 1 }], customer: { id: "c1" }, payment: { card: "4242424242424242" } });

describe("security: order API", () => {
  let nats: NatsCluster;
  let shop: Shop;
  beforeAll(async () => {
    nats = await startNats();
    // File storage: the stream and the orders bucket survive the NATS restart below.
    await provision(nats.url, { storage: "file" });
    shop = await startShop(nats.url, { only: ["order"], env: { ORDER_API_TOKEN: TOKEN, ORDER_MAX_BODY_BYTES: "4096" } });
  });
  afterAll(async () => {
    await shop?.stop();
    await nats?.destroy();
  });

  const post = (headers: Record<string, string>, body = ORDER) =>
    fetch(`${shop.orderUrl}/orders`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("requires the bearer token on every order route, and counts refusals", async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "Bearer wrong" },
      { authorization: `Basic ${TOKEN}` },
      { authorization: `Bearer ${TOKEN}x` },
    ]) {
      const res = await post(headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(await res.text()).not.toContain(TOKEN);
    }
    expect((await fetch(`${shop.orderUrl}/orders?limit=5`)).status).toBe(401);
    expect((await fetch(`${shop.orderUrl}/orders/abc`)).status).toBe(401);
    // The token is checked before the body is read: an unauthenticated huge body is a 401.
    expect((await post({}, "x".repeat(100_000))).status).toBe(401);
    const ok = await post({ authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(202);
    expect((await post({ authorization: `Bearer ${TOKEN}` }, JSON.stringify({ pad: "x".repeat(5000) }))).status).toBe(413);
    const metrics = await (await fetch(`${shop.orderUrl}/metrics`)).text();
    expect(metricValue(metrics, "jetmesh_http_rejected_total", { service: "order", reason: "unauthorized" })).toBe(7);
    // Health and metrics stay open for the kubelet and Prometheus (NetworkPolicy limits who reaches them).
    expect((await fetch(`${shop.orderUrl}/readyz`)).status).toBe(200);
  });

  it("answers an internal failure (NATS gone) with a 503 problem that reveals nothing internal", async () => {
    await nats.nodes[0]!.stop();
    try {
      // Answered after the KV/publish timeout (about 10 s), not hung.
      const res = await post({ authorization: `Bearer ${TOKEN}` });
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      const problem = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(problem).sort()).toEqual(["detail", "instance", "status", "title", "type"]);
      // No stack, no client error text, no addresses or subjects.
      expect(text).not.toMatch(/\bat \w|Error|nats|127\.0\.0\.1|\$JS|KV_|timeout|CONNECTION/i);
    } finally {
      await nats.nodes[0]!.start();
    }
    // And it recovers by itself once NATS is back.
    await waitFor("order accepted again", async () => (await post({ authorization: `Bearer ${TOKEN}` })).status === 202, {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
  });
});
