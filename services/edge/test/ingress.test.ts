// The ingress against a real nats-server: conformance (both HTTP modes arrive as the runtime's
// binary-mode NATS CloudEvents, byte for byte), every error status, dedupe, NATS down → 503.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { encodeBinary, newEvent, Publisher, runService, type CloudEvent, type ServiceHandle } from "@jetmesh/mesh";
import { HTTP, CloudEvent as SdkEvent } from "cloudevents";
import { ingress, type IngressConfig } from "@jetmesh/edge";

const TOKEN = "test-token-0123456789";
const OTHER = "other-token-0123456789";
let nats: NatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
let svc: ServiceHandle<IngressConfig>;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "edge", subjects: ["t.>"], duplicate_window: 120e9 });
  const schemas = mkdtempSync(join(tmpdir(), "edge-schemas-"));
  writeFileSync(
    join(schemas, "t.order.v1.json"),
    JSON.stringify({
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      required: ["orderId"],
      properties: { orderId: { type: "string" } },
    }),
  );
  svc = await runService(ingress, {
    NATS_URL: nats.url,
    HTTP_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    MAX_EVENT_BYTES: "4096",
    PUBLISH_TIMEOUT_MS: "1500",
    INGRESS_SCHEMAS_DIR: schemas,
    INGRESS_TOKENS: JSON.stringify({
      producers: [
        { name: "tests", token: TOKEN, types: ["t.>", "nowhere.>"] },
        { name: "narrow", token: OTHER, types: ["t.narrow.*"] },
      ],
    }),
  });
  await waitFor("ingress ready", () => svc.ready);
});

afterAll(async () => {
  await svc?.stop();
  await nc?.close();
  await nats?.destroy();
});

function post(headers: Record<string, string>, body: string | Uint8Array, token = TOKEN): Promise<Response> {
  return fetch(svc.url + "/events", { method: "POST", headers: { authorization: `Bearer ${token}`, ...headers }, body });
}

function sample(id?: string): CloudEvent<{ orderId: string; note: string }> {
  return newEvent({
    type: "t.order.v1",
    source: "/tests/ingress",
    subject: 'caf\u00e9 "order" 100%',
    data: { orderId: "o-1", note: "Euro \u20ac \ud83d\ude00" },
    ...(id ? { id } : {}),
  });
}

/** The request the CloudEvents SDK itself builds for `e` in binary and in structured mode. */
function sdkRequests(e: CloudEvent): {
  binary: { headers: Record<string, string>; body: string };
  structured: { headers: Record<string, string>; body: string };
} {
  const sdk = new SdkEvent({ ...e }, false);
  const b = HTTP.binary(sdk);
  const s = HTTP.structured(sdk);
  // The SDK does not percent-encode header values; the HTTP binding says to (non-ASCII cannot
  // travel in an HTTP header otherwise), as the runtime does for NATS.
  const enc = encodeBinary(e).headers;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.headers as Record<string, string>)) headers[k] = k.startsWith("ce-") ? (enc[k] ?? v) : v;
  headers["ce-time"] = enc["ce-time"]!;
  return { binary: { headers, body: String(b.body) }, structured: { headers: s.headers as Record<string, string>, body: String(s.body) } };
}

describe("conformance", () => {
  it("binary and structured requests arrive on NATS byte for byte as the runtime publishes the event", async () => {
    const received: Msg[] = [];
    const sub = nc.subscribe("t.order.v1", { callback: (_err, m) => void received.push(m) });
    await nc.flush();
    const event = sample();
    const publisher = new Publisher(jetstream(nc));
    const first = await publisher.publish(event);
    expect(first.duplicate).toBe(false);

    const reqs = sdkRequests(event);
    const b = await post(reqs.binary.headers, reqs.binary.body);
    expect(b.status).toBe(202);
    expect(await b.json()).toMatchObject({ id: event.id, stream: "edge", seq: first.seq, duplicate: true });
    const s = await post(reqs.structured.headers, reqs.structured.body);
    expect(s.status).toBe(202);
    expect(await s.json()).toMatchObject({ id: event.id, duplicate: true });

    await waitFor("three copies on the subject", () => received.length === 3);
    sub.unsubscribe();
    const wire = received.map((m) => ({ headers: m.headers!.toString(), data: Buffer.from(m.data).toString("hex") }));
    expect(wire[1]).toEqual(wire[0]);
    expect(wire[2]).toEqual(wire[0]);
    expect(received[0]!.headers!.get("Nats-Msg-Id")).toBe(event.id);
    expect(received[0]!.headers!.get("ce-subject")).toBe("caf%C3%A9%20%22order%22%20100%25");
    const info = await jsm.streams.info("edge");
    expect(info.state.messages).toBe(1);
  });

  it("a retried POST of the same event is stored once", async () => {
    const event = sample();
    const reqs = sdkRequests(event);
    const answers = await Promise.all(
      [1, 2, 3].map(() => post(reqs.binary.headers, reqs.binary.body).then((r) => r.json() as Promise<{ duplicate: boolean; seq: number }>)),
    );
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.seq)).size).toBe(1);
    const stored = await jsm.streams.getMessage("edge", { seq: answers[0]!.seq });
    expect(stored?.header.get("ce-id")).toBe(event.id);
  });

  it("accepts charset parameters and data_base64", async () => {
    const r = await post(
      { "content-type": "application/cloudevents+json; charset=utf-8" },
      JSON.stringify({
        specversion: "1.0",
        id: "b64-1",
        source: "/x",
        type: "t.bytes.v1",
        datacontenttype: "application/octet-stream",
        data_base64: "AAEC/w==",
      }),
    );
    expect(r.status).toBe(202);
    const { seq } = (await r.json()) as { seq: number };
    const m = await jsm.streams.getMessage("edge", { seq });
    expect([...m!.data]).toEqual([0, 1, 2, 255]);
    expect(m!.header.get("ce-datacontenttype")).toBe("application/octet-stream");
  });
});

async function problem(r: Response): Promise<{ type: string; detail: string; status: number }> {
  expect(r.headers.get("content-type")).toBe("application/problem+json");
  return (await r.json()) as { type: string; detail: string; status: number };
}

describe("errors", () => {
  const binary = { "ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "/x", "ce-type": "t.order.v1", "content-type": "application/json" };

  it("400 problem+json for what is not a valid event", async () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ "content-type": "application/json" }, "{}", /not a CloudEvent/],
      [{ ...binary, "ce-specversion": "0.3" }, '{"orderId":"1"}', /specversion/],
      [{ ...binary, "ce-source": "" }, '{"orderId":"1"}', /./],
      [{ ...binary, "ce-time": "yesterday" }, '{"orderId":"1"}', /RFC 3339/],
      [binary, "{not json", /JSON/],
      [{ ...binary, "ce-type": "t.*.v1" }, '{"orderId":"1"}', /wildcards/],
      [{ "content-type": "application/cloudevents+json" }, '{"specversion":"1.0","id":"x","source":"/x"}', /type is missing/],
      [{ "content-type": "application/cloudevents-batch+json" }, "[]", /batch/],
    ];
    for (const [headers, body, detail] of cases) {
      const r = await post(headers, body);
      expect(r.status, JSON.stringify(headers)).toBe(400);
      const p = await problem(r);
      expect(p.type).toBe("https://jetmesh.io/problems/invalid-event");
      expect(p.detail).toMatch(detail);
    }
  });

  it("400 for data that fails the type's JSON Schema, naming the path", async () => {
    const r = await post({ ...binary, "ce-id": "schema-1" }, '{"orderId":42}');
    expect(r.status).toBe(400);
    const p = await problem(r);
    expect(p.type).toBe("https://jetmesh.io/problems/schema");
    expect(p.detail).toMatch(/\/orderId must be string/);
  });

  it("400 when no stream captures the type", async () => {
    const r = await post({ ...binary, "ce-id": "nostream-1", "ce-type": "nowhere.v1" }, "{}");
    expect(r.status).toBe(400);
    expect((await problem(r)).type).toBe("https://jetmesh.io/problems/no-stream");
  });

  it("413 for an oversized body, before reading it and while reading a chunked one", async () => {
    const big = JSON.stringify({ orderId: "x".repeat(5000) });
    const r = await post({ ...binary, "ce-id": "big-1" }, big);
    expect(r.status).toBe(413);
    expect((await problem(r)).type).toBe("https://jetmesh.io/problems/too-large");
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode("x".repeat(1000)));
        c.close();
      },
    });
    const r2 = await fetch(svc.url + "/events", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, ...binary },
      body: chunked,
      duplex: "half",
    } as RequestInit);
    expect(r2.status).toBe(413);
  });

  it("401 without a known token, 403 for a type the producer may not publish, 405 for GET", async () => {
    const none = await fetch(svc.url + "/events", { method: "POST", headers: binary, body: '{"orderId":"1"}' });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await post(binary, '{"orderId":"1"}', "wrong-token-0123456789")).status).toBe(401);
    const narrow = await post({ ...binary, "ce-id": "narrow-1" }, '{"orderId":"1"}', OTHER);
    expect(narrow.status).toBe(403);
    expect((await problem(narrow)).detail).toMatch(/narrow may not publish t.order.v1/);
    expect((await post({ ...binary, "ce-id": "narrow-2", "ce-type": "t.narrow.v1" }, "{}", OTHER)).status).toBe(202);
    const get = await fetch(svc.url + "/events", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(get.status).toBe(405);
  });
});

describe("NATS unavailable", () => {
  it("answers 503 with Retry-After while NATS is down, and 202 again once it is back", async () => {
    const node = nats.node(0);
    await node.kill();
    const body = '{"orderId":"down-1"}';
    const headers = { "ce-specversion": "1.0", "ce-id": "down-1", "ce-source": "/x", "ce-type": "t.order.v1", "content-type": "application/json" };
    const r = await waitFor("503 from the ingress", async () => {
      const res = await post(headers, body);
      return res.status === 503 ? res : undefined;
    });
    expect(r.headers.get("retry-after")).toBe("2");
    expect((await problem(r)).type).toBe("https://jetmesh.io/problems/nats-unavailable");
    await node.start();
    const ok = await waitFor("202 after NATS is back", async () => ((await post(headers, body)).status === 202 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    expect(ok).toBe(true);
  });
});
