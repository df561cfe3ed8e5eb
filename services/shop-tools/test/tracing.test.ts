// One order followed through the mesh: the four services in-process with tracing on, sending
// spans to a real Jaeger (all-in-one, memory storage, loopback ports); the trace is read back
// from Jaeger's query API as a user's UI would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { traceIdOf } from "@jetmesh/mesh";
import { startJaeger, startNats, toolPath, waitFor, type Jaeger, type JaegerSpan, type JaegerTrace, type NatsCluster } from "@jetmesh/testing";
import { INVENTORY_RESERVED, ORDER_CONFIRMED, ORDER_PLACED, PAYMENT_AUTHORIZED, SHIPMENT_DISPATCHED, SHOP_STREAM } from "@jetmesh/shop";
import { provision, startShop, type Shop } from "./fixtures.ts";
import { orderBody, postOrder, waitOrder } from "./helpers.ts";

const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value;
const service = (t: JaegerTrace, s: JaegerSpan): string => t.processes[s.processID]!.serviceName;
// The span Jaeger draws a span under: a child's parent, or the span it follows from.
const parentOf = (s: JaegerSpan): string | undefined => s.references[0]?.spanID;

// Jaeger from the tools cache (`make tools` builds it with the others; JAEGER_BIN names another).
const jaegerBin = toolPath("jaeger");

describe("an order's trace end to end (real Jaeger)", () => {
  let nats: NatsCluster;
  let jaeger: Jaeger;
  let shop: Shop;

  beforeAll(async () => {
    [nats, jaeger] = await Promise.all([startNats(), startJaeger({ binary: jaegerBin })]);
    await provision(nats.url);
    shop = await startShop(nats.url, { env: { INVENTORY_SEED: "traced=5", OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint } });
  });
  afterAll(async () => {
    await shop?.stop();
    await Promise.all([nats?.destroy(), jaeger?.stop()]);
  });

  it("continues the client's traceparent through all four services, each publish → consume link in order", async () => {
    const traceId = randomBytes(16).toString("hex");
    const clientSpan = randomBytes(8).toString("hex");
    const r = await postOrder(shop.orderUrl, orderBody([{ sku: "traced", quantity: 1 }]), { traceparent: `00-${traceId}-${clientSpan}-01` });
    expect(r.status).toBe(202);
    expect((await waitOrder(shop.orderUrl, r.body.id, ["shipped", "cancelled"])).status).toBe("shipped");

    const steps = [
      { type: ORDER_PLACED, from: "order", to: "inventory" },
      { type: INVENTORY_RESERVED, from: "inventory", to: "payment" },
      { type: PAYMENT_AUTHORIZED, from: "payment", to: "order" },
      { type: ORDER_CONFIRMED, from: "order", to: "shipping" },
      { type: SHIPMENT_DISPATCHED, from: "shipping", to: "order" },
    ];
    // Complete once every service has exported its spans of this order (each batches them).
    const expected = ["order:POST /orders", ...steps.flatMap((x) => [`${x.from}:publish ${x.type}`, `${x.to}:process ${x.type}`])];
    const trace = await waitFor(
      "the order's whole trace in Jaeger",
      async () => {
        const t = await jaeger.trace(traceId);
        const have = new Set(t?.spans.map((s) => `${service(t, s)}:${s.operationName}`));
        return t && expected.every((e) => have.has(e)) ? t : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const spans = trace.spans;
    expect(new Set(spans.map((s) => service(trace, s)))).toEqual(new Set(["order", "inventory", "payment", "shipping"]));

    // The HTTP server span is the client's span's child.
    const post = spans.find((s) => s.operationName === "POST /orders")!;
    expect(post).toBeDefined();
    expect(service(trace, post)).toBe("order");
    expect(parentOf(post)).toBe(clientSpan);
    expect(tag(post, "http.response.status_code")).toBe(202);

    // Each step: the producer's publish, then the consumer's process as its child and link,
    // and the next publish inside that process span.
    let parent = post;
    for (const step of steps) {
      const publish = spans.find((s) => s.operationName === `publish ${step.type}`)!;
      expect(publish, `publish ${step.type}`).toBeDefined();
      expect(service(trace, publish)).toBe(step.from);
      expect(tag(publish, "span.kind")).toBe("producer");
      expect(tag(publish, "messaging.system")).toBe("nats");
      expect(tag(publish, "messaging.destination.name")).toBe(step.type);
      expect(tag(publish, "messaging.message.id")).toEqual(expect.any(String));
      expect(parentOf(publish), `publish ${step.type} inside the span that caused it`).toBe(parent.spanID);
      expect(publish.startTime).toBeGreaterThanOrEqual(parent.startTime);

      const process = spans.find((s) => s.operationName === `process ${step.type}` && service(trace, s) === step.to)!;
      expect(process, `process ${step.type} in ${step.to}`).toBeDefined();
      expect(tag(process, "span.kind")).toBe("consumer");
      // Child of the publish and linked to it: Jaeger folds both into one FOLLOWS_FROM.
      expect(process.references).toEqual([expect.objectContaining({ refType: "FOLLOWS_FROM", spanID: publish.spanID })]);
      expect(process.startTime).toBeGreaterThanOrEqual(publish.startTime);
      expect(tag(process, "messaging.message.id")).toBe(tag(publish, "messaging.message.id"));
      expect(tag(process, "messaging.nats.message.delivery_count")).toBe(1);
      expect(tag(process, "messaging.nats.disposition")).toBe("ack");
      expect(tag(process, "messaging.consumer.group.name")).toBe(`shop_${step.to}`);
      parent = process;
    }

    // State changes are KV client spans under the handler that made them.
    const reservation = spans.find((s) => s.operationName === `process ${ORDER_PLACED}`)!;
    const kv = spans.filter((s) => parentOf(s) === reservation.spanID && tag(s, "db.system.name") === "nats");
    expect(kv.map((s) => s.operationName)).toEqual(expect.arrayContaining([expect.stringMatching(/^(get|create|update) shop_stock$/)]));
    expect(spans.filter((s) => parentOf(s) === post.spanID && s.operationName.endsWith(" shop_orders")).length).toBeGreaterThan(0);
  });

  it("with tracing off, the placed event still continues the client's traceparent", async () => {
    const untraced = await startShop(nats.url, { only: ["order"] });
    const nc = await connect({ servers: nats.url });
    try {
      const traceId = randomBytes(16).toString("hex");
      const r = await postOrder(untraced.orderUrl, orderBody([{ sku: "traced", quantity: 1 }]), {
        traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
      });
      expect(r.status).toBe(202);
      const placed = await (await jetstreamManager(nc)).streams.getMessage(SHOP_STREAM, { last_by_subj: ORDER_PLACED });
      expect(placed?.json<{ orderId: string }>().orderId).toBe(r.body.id);
      expect(traceIdOf(placed?.header.get("ce-traceparent"))).toBe(traceId);
    } finally {
      await nc.close();
      await untraced.stop();
    }
  });
});
