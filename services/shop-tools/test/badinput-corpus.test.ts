// The bad input corpus (testing/corpus/) against the real services: every malformed event
// is dead-lettered with its reason and counted, every bad POST /orders gets a 4xx
// problem+json and is counted, every invalid custom resource gets a 422 naming the field,
// and the services are still ready afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { parseAllDocuments } from "yaml";
import {
  eventCases,
  metricValue,
  orderCases,
  payloadOf,
  resourceCases,
  startControlPlane,
  startKubeApiServer,
  startNats,
  waitFor,
  type NatsCluster,
} from "@jetmesh/testing";
import { readFileSync } from "node:fs";
import { decodeMessage, InvalidEventError } from "@jetmesh/mesh";
import { DEAD_LETTER_STREAM, ORDER_PLACED } from "@jetmesh/shop";
import { provision, startShop, type Shop } from "./fixtures.ts";

const MAX_EVENT_BYTES = 4096;
const MAX_BODY_BYTES = 8192;

describe("bad input corpus: CloudEvents", () => {
  const cases = eventCases(MAX_EVENT_BYTES);

  it("decodeMessage refuses each malformed message with InvalidEventError and the right reason", () => {
    for (const c of cases.filter((x) => x.decode)) {
      let err: unknown;
      try {
        decodeMessage({ subject: c.subject ?? ORDER_PLACED, headers: c.headers, data: payloadOf(c) }, { maxBytes: MAX_EVENT_BYTES });
      } catch (e) {
        err = e;
      }
      expect(err, c.name).toBeInstanceOf(InvalidEventError);
      expect((err as InvalidEventError).reason, c.name).toBe(c.reason);
    }
  });

  let nats: NatsCluster;
  let shop: Shop;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    await provision(nats.url, { backoffMs: [1000], maxDeliver: 2, storage: "memory" });
    shop = await startShop(nats.url, { only: ["inventory"], env: { MAX_EVENT_BYTES: String(MAX_EVENT_BYTES) } });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await shop?.stop();
    await nats?.destroy();
  });

  it("dead-letters every case with its reason header, counts it, and keeps consuming", async () => {
    const js = jetstream(nc);
    const bySeq = new Map<number, (typeof cases)[number]>();
    for (const [i, c] of cases.entries()) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(c.headers)) h.set(k, v);
      const ack = await js.publish(c.subject ?? ORDER_PLACED, payloadOf(c), { headers: h, msgID: `corpus-${i}` });
      bySeq.set(ack.seq, c);
    }
    const jsm = await jetstreamManager(nc);
    await waitFor("all cases dead-lettered", async () => (await jsm.streams.info(DEAD_LETTER_STREAM)).state.messages >= cases.length, { timeoutMs: 20_000 });
    const seen = new Map<string, string>();
    const consumer = await js.consumers.get(DEAD_LETTER_STREAM);
    const msgs = await consumer.fetch({ max_messages: cases.length, expires: 5000 });
    for await (const m of msgs) {
      const c = bySeq.get(Number(m.headers?.get("JetMesh-Dlq-Stream-Sequence")));
      expect(c, "dead letter of a corpus message").toBeDefined();
      seen.set(c!.name, m.headers?.get("JetMesh-Dlq-Reason") ?? "");
      expect(m.headers?.get("JetMesh-Dlq-Error")?.length, c!.name).toBeGreaterThan(0);
      if (seen.size === cases.length) break;
    }
    expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(cases.map((c) => [c.name, c.reason])));

    const metrics = await (await fetch(`${shop.inventoryUrl}/metrics`)).text();
    for (const reason of new Set(cases.map((c) => c.reason))) {
      const want = cases.filter((c) => c.reason === reason).length;
      expect(metricValue(metrics, "jetmesh_dead_letters_total", { service: "inventory", reason }), reason).toBe(want);
    }
    expect((await fetch(`${shop.inventoryUrl}/readyz`)).status).toBe(200);
    // Nothing left behind on the source consumer: every bad message was acked after its DLQ copy.
    const ci = await jsm.consumers.info("shop_events", "shop_inventory");
    expect(ci.num_ack_pending + ci.num_pending).toBe(0);
  });
});

describe("bad input corpus: POST /orders", () => {
  let nats: NatsCluster;
  let shop: Shop;
  beforeAll(async () => {
    nats = await startNats();
    await provision(nats.url, { storage: "memory" });
    shop = await startShop(nats.url, { only: ["order"], env: { ORDER_MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
  });
  afterAll(async () => {
    await shop?.stop();
    await nats?.destroy();
  });

  it("answers each case with its 4xx problem+json, counts it, and stays ready", async () => {
    const cases = orderCases(MAX_BODY_BYTES);
    const rejected = new Map<string, number>();
    for (const c of cases) {
      const res = await fetch(`${shop.orderUrl}/orders`, { method: "POST", headers: { "content-type": c.contentType }, body: c.body });
      const text = await res.text();
      expect(res.status, `${c.name}: ${text}`).toBe(c.status);
      expect(res.headers.get("content-type"), c.name).toBe("application/problem+json");
      const problem = JSON.parse(text) as { status: number; title: string; detail: string; errors?: { field: string }[] };
      expect(problem.status, c.name).toBe(c.status);
      expect(problem.detail.length, c.name).toBeGreaterThan(0);
      if (c.field)
        expect(
          problem.errors?.map((e) => e.field),
          c.name,
        ).toContain(c.field);
      rejected.set(c.reason, (rejected.get(c.reason) ?? 0) + 1);
    }
    const metrics = await (await fetch(`${shop.orderUrl}/metrics`)).text();
    for (const [reason, n] of rejected) expect(metricValue(metrics, "jetmesh_http_rejected_total", { service: "order", reason }), reason).toBe(n);
    expect((await fetch(`${shop.orderUrl}/readyz`)).status).toBe(200);
    // And a good order still goes through.
    const ok = await fetch(`${shop.orderUrl}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ items: [{ sku: "k1", quantity: 1 }], customer: { id: "c1" }, payment: { card: "4242424242424242" } }),
    });
    expect(ok.status).toBe(202);
  });
});

type Post = (path: string, body: unknown) => Promise<{ status: number; body: { reason?: string; message?: string } }>;

/** Creates the CRDs and namespace shop, then posts every invalid resource: each must be a 422; the valid HTTP targets are created. */
async function refusesEveryInvalidResource(post: Post): Promise<void> {
  for (const f of ["eventstreams.jetmesh.io.yaml", "eventsubscriptions.jetmesh.io.yaml"]) {
    const crd = parseAllDocuments(readFileSync(new URL(`../../../crds/${f}`, import.meta.url), "utf8"))[0]!.toJS();
    expect((await post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)).status).toBe(201);
  }
  expect((await post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } })).status).toBe(201);
  const cases = resourceCases();
  expect(cases.length).toBeGreaterThanOrEqual(10);
  for (const c of cases) {
    const obj = parseAllDocuments(c.yaml)[0]!.toJS() as { kind: string };
    const plural = obj.kind === "EventStream" ? "eventstreams" : "eventsubscriptions";
    // A new CRD takes a moment to be served: retry while the apiserver answers 404.
    const res = await waitFor(
      `POST ${c.file} answered`,
      async () => {
        const r = await post(`/apis/jetmesh.io/v1alpha1/namespaces/shop/${plural}`, obj);
        return r.status === 404 ? undefined : r;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(res.status, `${c.file}: ${res.body.message}`).toBe(422);
    expect(res.body.reason, c.file).toBe("Invalid");
    expect(res.body.message, c.file).toContain(c.expect);
  }
  // The valid neighbours of the subscriber.http cases are created: what refuses those is the rule
  // at fault, not the rest of the object.
  for (const [name, http] of VALID_HTTP_TARGETS) {
    const obj = {
      apiVersion: "jetmesh.io/v1alpha1",
      kind: "EventSubscription",
      metadata: { name, namespace: "shop" },
      spec: { stream: "events", types: ["shop.shipment.dispatched.v1"], subscriber: { deployment: "notifications", http } },
    };
    const res = await post("/apis/jetmesh.io/v1alpha1/namespaces/shop/eventsubscriptions", obj);
    expect(res.status, `${name}: ${res.body.message}`).toBe(201);
  }
}

/** Valid subscriber.http targets: a Service (port and path optional), or a url (http or https, with port and path). */
const VALID_HTTP_TARGETS: [string, Record<string, unknown>][] = [
  ["http-service", { service: "notifications", port: 8080, path: "/events", timeout: "5s", replyTypes: ["shop.notification.sent.v1"] }],
  ["http-service-defaults", { service: "notifications" }],
  ["http-url", { url: "https://notify.example.com:8443/hooks/jetmesh?team=shop", timeout: "2s" }],
  ["http-url-bare", { url: "http://10.0.0.7" }],
];

describe("bad input corpus: custom resources", () => {
  it("the API test server refuses each invalid resource with 422 naming the field", async () => {
    const kube = await startKubeApiServer();
    try {
      await refusesEveryInvalidResource(async (path, body) => {
        const res = await fetch(kube.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as { reason?: string; message?: string } };
      });
    } finally {
      await kube.stop();
    }
  });

  it("the real kube-apiserver refuses each one the same way (schemas and CEL rules judged by Kubernetes itself)", async () => {
    const cp = await startControlPlane();
    try {
      await refusesEveryInvalidResource((path, body) => cp.rest("POST", path, body));
    } finally {
      await cp.stop();
    }
  }, 180_000);
});
