// Small HTTP and NATS helpers for the shop's scenario tests.
import type { JetStreamManager } from "@nats-io/jetstream";
import { waitFor } from "@jetmesh/testing";
import { SHOP_STREAM, SUBSCRIPTIONS, type OrderRecord, type OrderStatus } from "@jetmesh/shop";

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export async function request(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

export function orderBody(items: { sku: string; quantity: number }[], card = "4242424242424242", extra: Record<string, unknown> = {}) {
  return { items, customer: { id: "cust-1", email: "c@example.com" }, payment: { card }, ...extra };
}

export async function postOrder(orderUrl: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${orderUrl}/orders`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

export async function getOrder(orderUrl: string, id: string): Promise<OrderRecord> {
  const r = await request(`${orderUrl}/orders/${id}`);
  if (r.status !== 200) throw new Error(`GET /orders/${id}: ${r.status}`);
  return r.body as OrderRecord;
}

export async function waitOrder(orderUrl: string, id: string, statuses: OrderStatus[], timeoutMs = 15_000): Promise<OrderRecord> {
  return waitFor(
    `order ${id} to be ${statuses.join("/")}`,
    async () => {
      const o = await getOrder(orderUrl, id);
      return statuses.includes(o.status) ? o : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** Waits until every shop consumer has delivered and settled everything in the stream. */
export async function waitConsumersIdle(jsm: JetStreamManager, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    "shop consumers to be idle",
    async () => {
      for (const s of SUBSCRIPTIONS) {
        const ci = await jsm.consumers.info(SHOP_STREAM, s.consumer);
        if (ci.num_pending > 0 || ci.num_ack_pending > 0) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

export async function stockOf(inventoryUrl: string, sku: string): Promise<{ available: number; reserved: number; shipped: number; initial: number }> {
  const r = await request(`${inventoryUrl}/stock/${sku}`);
  if (r.status !== 200) throw new Error(`GET /stock/${sku}: ${r.status}`);
  return r.body;
}
