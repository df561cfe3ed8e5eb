// The order API's edges against a real nats-server: what a client sees for bad input, slow
// or broken connections, listing, and personal data.
import { connect as tcpConnect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { provision, startShop, type Shop } from "../../shop-tools/test/fixtures.ts";
import { orderBody, postOrder, request } from "../../shop-tools/test/helpers.ts";

const TOKEN = "api-test-token-0123456789";

/** Opens a raw connection and collects what the server sends until it closes. */
function rawConnection(url: string): { socket: Socket; received: () => string; closed: () => boolean } {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect(Number(port), hostname);
  let data = "";
  let closed = false;
  socket.on("data", (c) => (data += c.toString("latin1")));
  socket.on("close", () => (closed = true));
  socket.on("error", () => undefined);
  return { socket, received: () => data, closed: () => closed };
}

async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("order API (real nats-server)", () => {
  let nats: NatsCluster;
  let open: Shop;
  let guarded: Shop;

  beforeAll(async () => {
    nats = await startNats();
    await provision(nats.url);
    // Only the order service: orders stay placed, which is all these tests need.
    open = await startShop(nats.url, { only: ["order"], env: { ORDER_BODY_TIMEOUT_MS: "1000" } });
    guarded = await startShop(nats.url, { only: ["order"], env: { ORDER_API_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await open?.stop();
    await guarded?.stop();
    await nats?.destroy();
  });

  it("lists at most 20 errors of a body with thousands of invalid items, and says how many more", async () => {
    const items = Array.from({ length: 2400 }, () => ({ sku: ".", quantity: 0 }));
    const r = await postOrder(open.orderUrl, { ...orderBody([]), items });
    expect(r.status).toBe(422);
    expect(r.body.errors).toHaveLength(20);
    expect(r.body.moreErrors).toBeGreaterThan(2000);
    expect(r.body.detail).toMatch(/\d+ more errors not listed/);
    expect(JSON.stringify(r.body).length).toBeLessThan(4096);
  });

  it("refuses lines of one SKU that add up to more than 1,000 (the most one reservation can hold)", async () => {
    const r = await postOrder(
      open.orderUrl,
      orderBody([
        { sku: "twice", quantity: 600 },
        { sku: "other", quantity: 1 },
        { sku: "twice", quantity: 600 },
      ]),
    );
    expect(r.status).toBe(422);
    expect(r.body.errors).toEqual([{ field: "/items/0/quantity", message: expect.stringContaining("add up to 1200") }]);
    expect(
      (
        await postOrder(
          open.orderUrl,
          orderBody([
            { sku: "twice", quantity: 500 },
            { sku: "twice", quantity: 500 },
          ]),
        )
      ).status,
    ).toBe(202);
  });

  it("masks customer emails unless the caller presents the token", async () => {
    const placed = await postOrder(open.orderUrl, orderBody([{ sku: "mask", quantity: 1 }]));
    const anonymous = await request(`${open.orderUrl}/orders/${placed.body.id}`);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.customer).toEqual({ id: "cust-1", email: "c***@example.com" });
    expect(JSON.stringify(anonymous.body)).not.toContain("c@example.com");
    // The guarded replica reads the same bucket; with the token the email is there.
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await request(`${guarded.orderUrl}/orders/${placed.body.id}`)).status).toBe(401);
    const owner = await request(`${guarded.orderUrl}/orders/${placed.body.id}`, { headers: auth });
    expect(owner.body.customer.email).toBe("c@example.com");
  });

  it("pages GET /orders?status= from an index: a page reads its own orders, not the whole bucket", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push((await postOrder(open.orderUrl, orderBody([{ sku: "scan", quantity: 1 }]))).body.id);
    const outMsgs = async () => ((await (await fetch(`${nats.nodes[0]!.monitorUrl}/varz`)).json()) as { out_msgs: number }).out_msgs;
    // The first list request loads the index (one read of the bucket); the rest use it.
    expect((await request(`${open.orderUrl}/orders?limit=1`)).status).toBe(200);
    // Every order is placed (only the order service runs). Twenty requests for a status no
    // order has: reading the bucket would take 300 messages each from the server.
    const before = await outMsgs();
    for (let i = 0; i < 20; i++) {
      const r = await request(`${open.orderUrl}/orders?status=shipped&limit=5`);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ orders: [] });
    }
    expect((await outMsgs()) - before).toBeLessThan(500);
    // Paging through placed orders still returns each of them once, in creation order.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const r = await request(`${open.orderUrl}/orders?status=placed&limit=100${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...r.body.orders.map((o: { id: string }) => o.id));
      cursor = r.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
  });

  it("counts a client that aborts mid-body as a client abort (499), not as a 503", async () => {
    const before503 = await metric(open.orderUrl, "jetmesh_http_requests_total", { service: "order", route: "/orders", code: "503" });
    const c = rawConnection(open.orderUrl);
    // Expect: 100-continue makes the server say when it has handed the request to the order
    // API, so the abort surely lands while the body is being read.
    c.socket.write("POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\nexpect: 100-continue\r\n\r\n");
    await waitFor("the server to start reading the body (100 Continue)", () => c.received().startsWith("HTTP/1.1 100 Continue"), { timeoutMs: 10_000 });
    c.socket.write('{"items":');
    c.socket.destroy();
    await waitFor(
      "the abort to be counted",
      async () => (await metric(open.orderUrl, "jetmesh_http_requests_total", { service: "order", route: "/orders", code: "499" })) >= 1,
      { timeoutMs: 10_000 },
    );
    expect(await metric(open.orderUrl, "jetmesh_http_requests_total", { service: "order", route: "/orders", code: "503" })).toBe(before503);
  });

  it("answers a body that arrives too slowly with 408 and closes the connection", async () => {
    const c = rawConnection(open.orderUrl);
    c.socket.write("POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{");
    const drip = setInterval(() => c.socket.writable && c.socket.write(" "), 200);
    try {
      // ORDER_BODY_TIMEOUT_MS is 1 s here; the default server request timeout is 5 minutes.
      await waitFor("the server to close the connection", () => c.closed(), { timeoutMs: 30_000, intervalMs: 100 });
    } finally {
      clearInterval(drip);
    }
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(c.received()).toMatch(/connection: close/i);
  });

  it("closes the connection after a 413 instead of reading the rest of a slow body", async () => {
    const c = rawConnection(open.orderUrl);
    c.socket.write("POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10000000\r\n\r\n{");
    const drip = setInterval(() => c.socket.writable && c.socket.write("x".repeat(100)), 100);
    try {
      await waitFor("the server to close the connection", () => c.closed(), { timeoutMs: 30_000, intervalMs: 100 });
    } finally {
      clearInterval(drip);
    }
    expect(c.received()).toMatch(/^HTTP\/1\.1 413 /);
  });
});
