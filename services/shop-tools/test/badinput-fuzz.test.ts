// Seeded fuzzing for a bounded time: mutated CloudEvents into decodeMessage, mutated order
// requests into the real order API. Only clean refusals are allowed (InvalidEventError,
// 4xx problem+json), never another exception, a 5xx or a dead service.
// Reproduce a failure with FUZZ_SEED=<seed printed in the message>.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mutateBytes, mutateHeaders, mutateJson, pick, prng, startNats, type NatsCluster } from "@jetmesh/testing";
import { decodeMessage, encodeBinary, encodeStructured, InvalidEventError, newEvent } from "@jetmesh/mesh";
import { ORDER_PLACED } from "@jetmesh/shop";
import { provision, startShop, type Shop } from "./fixtures.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 3000);

const ORDER = {
  items: [
    { sku: "k1", quantity: 2 },
    { sku: "k2", quantity: 1 },
  ],
  customer: { id: "c1", email: "a@b.co" },
  payment: { card: "4242424242424242", amount: 100, currency: "EUR" },
};
const PLACED = { orderId: "o1", ...ORDER, placedAt: "2026-01-01T00:00:00Z" };

describe("fuzz: decodeMessage", () => {
  it(`throws nothing but InvalidEventError on mutated binary and structured events (seed ${SEED})`, () => {
    const rnd = prng(SEED);
    const ev = newEvent({ type: ORDER_PLACED, source: "/shop/order", subject: "o1", data: PLACED });
    const binary = encodeBinary({ ...ev, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
    const structured = encodeStructured(ev);
    const deadline = Date.now() + FUZZ_MS;
    let runs = 0;
    const outcomes = { ok: 0, refused: 0 };
    while (Date.now() < deadline) {
      const base = rnd() < 0.5 ? binary : { ...structured, subject: ORDER_PLACED };
      const headers = rnd() < 0.7 ? mutateHeaders(rnd, base.headers) : base.headers;
      const data = rnd() < 0.5 ? mutateBytes(rnd, base.payload) : base.payload;
      try {
        decodeMessage({ subject: ORDER_PLACED, headers, data }, { maxBytes: 1 << 20 });
        outcomes.ok++;
      } catch (err) {
        if (!(err instanceof InvalidEventError)) {
          throw new Error(`seed ${SEED} run ${runs}: ${String(err)} for ${JSON.stringify({ headers, data: Buffer.from(data).toString("base64") })}`);
        }
        outcomes.refused++;
      }
      runs++;
    }
    // The mutators must produce both kinds, or the fuzzing tests nothing.
    expect(outcomes.ok).toBeGreaterThan(10);
    expect(outcomes.refused).toBeGreaterThan(10);
  });
});

describe("fuzz: POST /orders", () => {
  let nats: NatsCluster;
  let shop: Shop;
  beforeAll(async () => {
    nats = await startNats();
    await provision(nats.url, { storage: "memory" });
    shop = await startShop(nats.url, { only: ["order"] });
  });
  afterAll(async () => {
    await shop?.stop();
    await nats?.destroy();
  });

  it(`answers mutated requests with 202 or a 4xx problem, never a 5xx (seed ${SEED})`, async () => {
    const rnd = prng(SEED + 1);
    const deadline = Date.now() + FUZZ_MS;
    const codes = new Map<number, number>();
    let runs = 0;
    while (Date.now() < deadline) {
      const json = JSON.stringify(rnd() < 0.8 ? mutateJson(rnd, ORDER) : ORDER);
      const body = rnd() < 0.3 ? Buffer.from(mutateBytes(rnd, new TextEncoder().encode(json))) : json;
      const contentType = rnd() < 0.9 ? "application/json" : pick(rnd, ["text/plain", "application/problem+json", "", "application/json; charset=latin1"]);
      const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
      if (rnd() < 0.1) headers["idempotency-key"] = pick(rnd, ["k1", "k2", "x".repeat(300), "\u00e9"]).replace(/[^\x20-\x7e]/g, "?");
      const res = await fetch(`${shop.orderUrl}/orders`, { method: "POST", headers, body });
      const text = await res.text();
      if (res.status >= 500 || (res.status >= 400 && res.headers.get("content-type") !== "application/problem+json")) {
        throw new Error(`seed ${SEED} run ${runs}: ${res.status} ${text} for ${contentType} ${String(body).slice(0, 500)}`);
      }
      codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
      runs++;
    }
    expect(codes.get(202) ?? 0).toBeGreaterThan(0);
    expect(codes.get(422) ?? 0).toBeGreaterThan(0);
    expect((await fetch(`${shop.orderUrl}/readyz`)).status).toBe(200);
  });
});
