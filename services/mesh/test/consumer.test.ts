import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, headers as natsHeaders, nanos, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { pino } from "pino";
import { Registry } from "prom-client";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import {
  ConsumerRunner,
  deadLetterHeaders,
  deadLetterMsgId,
  deliveryPolicyOf,
  DLQ_HEADERS,
  encodeBinary,
  followUpEvent,
  newEvent,
  Publisher,
  SchemaRegistry,
  TerminalError,
  TransientError,
  toMsgHdrs,
  type CloudEvent,
  type Handlers,
} from "@jetmesh/mesh";

let nats: NatsCluster;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  js = jetstream(nc);
});

afterAll(async () => {
  await nc?.close();
  await nats?.destroy();
});

async function setup(
  name: string,
  consumer: { max_deliver: number; backoffMs?: number[]; ackWaitMs?: number; metadata?: Record<string, string>; filterSubjects?: string[] },
) {
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  await jsm.streams.add({ name: `${name}_dlq`, subjects: [`dlq.${name}`] });
  await jsm.consumers.add(name, {
    durable_name: "runner",
    ack_policy: AckPolicy.Explicit,
    max_deliver: consumer.max_deliver,
    ...(consumer.backoffMs ? { backoff: consumer.backoffMs.map((ms) => nanos(ms)) } : {}),
    ack_wait: nanos(consumer.ackWaitMs ?? consumer.backoffMs?.[0] ?? 30_000),
    ...(consumer.metadata ? { metadata: consumer.metadata } : {}),
    ...(consumer.filterSubjects ? { filter_subjects: consumer.filterSubjects } : {}),
  });
}

/** Every message of a stream (ordered consumer, no side effects). */
async function readAll(stream: string, expected: number): Promise<JsMsg[]> {
  const c = await js.consumers.get(stream);
  const out: JsMsg[] = [];
  const it = await c.fetch({ max_messages: expected + 10, expires: 1000 });
  for await (const m of it) out.push(m);
  return out;
}

async function settled(stream: string) {
  await waitFor(
    `${stream} fully acknowledged`,
    async () => {
      const ci = await jsm.consumers.info(stream, "runner");
      return ci.num_pending === 0 && ci.num_ack_pending === 0 ? ci : undefined;
    },
    { timeoutMs: 15_000 },
  );
}

function raw(subject: string, hdrs: Record<string, string>, body: string | Uint8Array) {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  return js.publish(subject, typeof body === "string" ? Buffer.from(body) : body, { headers: h });
}

describe("ConsumerRunner", () => {
  it("handles events, dedupes follow-ups, gets only its types and dead-letters every kind of bad input", async () => {
    // As the operator creates a multi-type subscription's consumer: the server filters.
    const types = ["c1.order.placed.v1", "c1.order.terminal.v1", "c1.order.unknown.v1"];
    // Nothing here is retried, so the ack wait (backoff[0]) is long: a loaded machine must not
    // turn a slow ack into a redelivery (consumer_seq is asserted exactly below).
    await setup("c1", { max_deliver: 3, backoffMs: [20_000, 40_000], filterSubjects: types });
    const registry = new Registry();
    const publisher = new Publisher(js, { registry, service: "svc" });
    const schemas = new SchemaRegistry().add("c1.order.placed.v1", {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      required: ["orderId", "qty"],
      properties: { orderId: { type: "string" }, qty: { type: "integer", minimum: 1 } },
    });
    const handled: CloudEvent[] = [];
    const handlers: Handlers = {
      "c1.order.placed.v1": async (event, ctx) => {
        handled.push(event);
        expect(ctx.deliveryCount).toBe(1);
        ctx.log.info("handling");
        // Not awaited on purpose: the runner acks the input only after this publish is acked.
        void ctx.publish(followUpEvent(event, { type: "c1.order.next.v1", source: "/c1", data: { orderId: (event.data as { orderId: string }).orderId } }));
      },
      "c1.order.terminal.v1": async () => {
        throw new TerminalError("cannot ever work");
      },
    };
    const runner = new ConsumerRunner({
      js,
      stream: "c1",
      consumer: "runner",
      handlers,
      publisher,
      schemas,
      deadLetterSubject: "dlq.c1",
      maxEventBytes: 512,
      registry,
      service: "svc",
    });
    await runner.start();
    expect(runner.consuming).toBe(true);
    expect(runner.deliveryPolicy).toEqual({ maxDeliver: 3, ackWaitMs: 20_000, backoffMs: [20_000, 40_000], backoffFrom: "jetstream" });

    const good = newEvent({ type: "c1.order.placed.v1", source: "/test", data: { orderId: "o-1", qty: 2 } });
    const enc = encodeBinary(good);
    await js.publish(enc.subject, enc.payload, { headers: toMsgHdrs(enc.headers), msgID: "first" });
    // The same input again (as if redelivered): its follow-up has the same id and is dropped.
    await js.publish(enc.subject, enc.payload, { headers: toMsgHdrs(enc.headers), msgID: "second" });

    const base = { "ce-specversion": "1.0", "ce-id": "x", "ce-source": "/test", "ce-type": "c1.order.placed.v1", "ce-datacontenttype": "application/json" };
    const bad: [string, string, Record<string, string>, string][] = [
      ["missing id", "invalid_event", (({ "ce-id": _, ...r }) => r)(base), '{"orderId":"o","qty":1}'],
      ["wrong specversion", "invalid_event", { ...base, "ce-specversion": "0.3" }, '{"orderId":"o","qty":1}'],
      ["invalid encoding", "invalid_event", { ...base, "ce-source": "/bad%zz" }, '{"orderId":"o","qty":1}'],
      ["non-JSON declared JSON", "invalid_event", base, "not json at all"],
      ["schema failure", "schema", base, '{"orderId":"o","qty":0}'],
      ["too large", "too_large", base, JSON.stringify({ orderId: "o", qty: 1, pad: "x".repeat(600) })],
      ["unknown type", "unknown_type", { ...base, "ce-type": "c1.order.unknown.v1" }, "{}"],
      ["terminal error", "terminal", { ...base, "ce-type": "c1.order.terminal.v1" }, "{}"],
    ];
    const badSeq = new Map<number, { name: string; reason: string; body: string }>();
    for (const [name, reason, hdrs, body] of bad) {
      const subject = hdrs["ce-type"] ?? "c1.order.placed.v1";
      const ack = await raw(subject, hdrs, body);
      badSeq.set(ack.seq, { name, reason, body });
    }
    // Outside the subscription's types: never delivered, not even counted as lag.
    await raw("c1.audit.v1", base, "{}");

    await settled("c1");
    const ci = await jsm.consumers.info("c1", "runner");
    expect(ci.delivered.consumer_seq).toBe(2 + bad.length);
    expect(handled.map((e) => e.id)).toEqual([good.id, good.id]);
    const streamMsgs = await readAll("c1", 20);
    const followUps = streamMsgs.filter((m) => m.subject === "c1.order.next.v1");
    expect(followUps).toHaveLength(1);
    expect(followUps[0]!.headers?.get("ce-traceparent").split("-")[1]).toBe(String(good.traceparent).split("-")[1]);

    const dead = await readAll("c1_dlq", bad.length);
    expect(dead).toHaveLength(bad.length);
    for (const d of dead) {
      const seq = Number(d.headers!.get(DLQ_HEADERS.streamSequence));
      const expected = badSeq.get(seq);
      expect(expected, `dead letter for seq ${seq}`).toBeDefined();
      expect(d.headers!.get(DLQ_HEADERS.reason), expected!.name).toBe(expected!.reason);
      expect(d.headers!.get(DLQ_HEADERS.error).length).toBeGreaterThan(5);
      expect(d.headers!.get(DLQ_HEADERS.stream)).toBe("c1");
      expect(d.headers!.get(DLQ_HEADERS.consumer)).toBe("runner");
      expect(d.headers!.get(DLQ_HEADERS.deliveryCount)).toBe("1");
      expect(d.headers!.get(DLQ_HEADERS.originalSubject)).toMatch(/^c1\.order\./);
      expect(Date.parse(d.headers!.get(DLQ_HEADERS.time))).toBeGreaterThan(Date.now() - 60_000);
      // Original payload and ce- headers are kept as they were.
      expect(Buffer.from(d.data).toString()).toBe(expected!.body);
      expect(d.headers!.get("ce-source")).toBeTypeOf("string");
    }
    const reasons = dead.map((d) => d.headers!.get(DLQ_HEADERS.reason)).sort();
    expect(reasons).toEqual(bad.map((b) => b[1]).sort());

    const text = await registry.metrics();
    expect(text).toContain('jetmesh_events_processed_total{service="svc",type="c1.order.placed.v1",outcome="acked"} 2');
    expect(text).not.toContain('type="c1.audit.v1"');
    expect(text).not.toMatch(/jetmesh_events_processed_total\{[^}]*type="c1.order.next.v1"/);
    expect(text).toContain('jetmesh_dead_letters_total{service="svc",type="c1.order.placed.v1",reason="schema"} 1');
    expect(text).toContain('jetmesh_dead_letters_total{service="svc",type="c1.order.unknown.v1",reason="unknown_type"} 1');
    expect(text).toContain('jetmesh_events_published_total{service="svc",type="c1.order.next.v1"} 2');
    expect(text).toMatch(/jetmesh_event_processing_seconds_count\{service="svc",type="c1.order.placed.v1"\} \d+/);
    await runner.stop(2000);
    expect(runner.consuming).toBe(false);
  });

  it("retries with the consumer's backoff and dead-letters after exactly max_deliver deliveries", async () => {
    await setup("c2", { max_deliver: 3, backoffMs: [150, 300] });
    const seen = new Map<string, number[]>();
    const runner = new ConsumerRunner({
      js,
      stream: "c2",
      consumer: "runner",
      publisher: new Publisher(js),
      deadLetterSubject: "dlq.c2",
      handlers: {
        "c2.flaky.v1": async (event, ctx) => {
          const times = seen.get(event.id) ?? [];
          times.push(Date.now());
          seen.set(event.id, times);
          if (event.id === "always-fails") throw new Error("database is down");
          if (ctx.deliveryCount < 3) throw new TransientError("try again", { delayMs: 50 });
        },
      },
    });
    await runner.start();
    for (const id of ["always-fails", "third-time-lucky"]) {
      const e = encodeBinary({ ...newEvent({ type: "c2.flaky.v1", source: "/t", data: {} }), id });
      await js.publish(e.subject, e.payload, { headers: toMsgHdrs(e.headers), msgID: id });
    }
    await settled("c2");
    const dead = await readAll("c2_dlq", 1);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers!.get("ce-id")).toBe("always-fails");
    expect(dead[0]!.headers!.get(DLQ_HEADERS.reason)).toBe("max_deliver");
    expect(dead[0]!.headers!.get(DLQ_HEADERS.deliveryCount)).toBe("3");
    expect(dead[0]!.headers!.get(DLQ_HEADERS.error)).toMatch(/database is down/);
    const fails = seen.get("always-fails")!;
    expect(fails).toHaveLength(3);
    // nak(delay) followed the backoff list: 150 ms, then 300 ms.
    expect(fails[1]! - fails[0]!).toBeGreaterThanOrEqual(140);
    expect(fails[2]! - fails[1]!).toBeGreaterThanOrEqual(290);
    expect(seen.get("third-time-lucky")).toHaveLength(3);
    await runner.stop(2000);
  });

  it("with the operator's schedule (metadata): a handler may take up to ack_wait, failures retry after the backoff delays", async () => {
    // As the operator creates it: ack_wait from spec.delivery.ackWait, no JetStream backoff.
    await setup("c5", { max_deliver: 4, ackWaitMs: 2000, metadata: { "jetmesh.io/backoff": "100ms,200ms" } });
    const slow: number[] = [];
    const flaky: number[] = [];
    // The delays the runner asked for (its "retrying" log lines): exact, where gaps between
    // deliveries only have a floor (the nak delay) and grow with the machine's load.
    const retryIn: number[] = [];
    const log = pino(
      { level: "warn" },
      {
        write: (line: string) => {
          const o = JSON.parse(line) as { msg?: string; retryInMs?: number };
          if (o.msg === "handler failed; retrying" && o.retryInMs !== undefined) retryIn.push(o.retryInMs);
        },
      },
    );
    const runner = new ConsumerRunner({
      js,
      stream: "c5",
      consumer: "runner",
      publisher: new Publisher(js),
      deadLetterSubject: "dlq.c5",
      log,
      handlers: {
        "c5.slow.v1": async (_e, ctx) => {
          slow.push(ctx.deliveryCount);
          // Busy until the flaky event has used up its retries (100 + 200 + 200 ms): longer than
          // the first backoff entry, which JetStream's backoff would have made the ack wait.
          await waitFor("the flaky event's 4 deliveries", () => flaky.length >= 4, { timeoutMs: 10_000 });
        },
        "c5.flaky.v1": async (_e, ctx) => {
          flaky.push(Date.now());
          if (ctx.deliveryCount < 4) throw new Error("not yet");
        },
      },
    });
    await runner.start();
    expect(runner.deliveryPolicy).toEqual({ maxDeliver: 4, ackWaitMs: 2000, backoffMs: [100, 200], backoffFrom: "metadata" });
    for (const type of ["c5.slow.v1", "c5.flaky.v1"]) {
      const e = encodeBinary(newEvent({ type, source: "/t", data: {} }));
      await js.publish(e.subject, e.payload, { headers: toMsgHdrs(e.headers) });
    }
    await settled("c5");
    expect(slow).toEqual([1]);
    expect((await jsm.consumers.info("c5", "runner")).num_redelivered).toBe(0);
    expect(await readAll("c5_dlq", 0)).toHaveLength(0);
    // Retries after 100 ms, 200 ms, then the last entry again: each a nak with that delay (not a
    // timeout), and the server kept each delay as a floor.
    expect(flaky).toHaveLength(4);
    expect(retryIn).toEqual([100, 200, 200]);
    const gaps = flaky.slice(1).map((t, i) => t - flaky[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(gaps[2]).toBeGreaterThanOrEqual(190);
    await runner.stop(2000);
  });

  it("lets a handler that never returns be redelivered after the ack wait, and still stops in time", async () => {
    await setup("c3", { max_deliver: 5, ackWaitMs: 1000 });
    const deliveries: number[] = [];
    let hang = true;
    const runner = new ConsumerRunner({
      js,
      stream: "c3",
      consumer: "runner",
      publisher: new Publisher(js),
      deadLetterSubject: "dlq.c3",
      concurrency: 2,
      handlers: {
        "c3.slow.v1": async (_e, ctx) => {
          deliveries.push(ctx.deliveryCount);
          if (hang && ctx.deliveryCount === 1) await new Promise(() => undefined);
        },
      },
    });
    await runner.start();
    const e = encodeBinary(newEvent({ type: "c3.slow.v1", source: "/t", data: {} }));
    const t0 = Date.now();
    await js.publish(e.subject, e.payload, { headers: toMsgHdrs(e.headers) });
    await settled("c3");
    expect(deliveries).toEqual([1, 2]);
    // A lower bound only (a slow machine makes it later, never earlier): not redelivered before the ack wait.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    // A handler stuck at shutdown does not hold the process: stop() returns after its timeout.
    const e2 = encodeBinary(newEvent({ type: "c3.slow.v1", source: "/t", data: {} }));
    await js.publish(e2.subject, e2.payload, { headers: toMsgHdrs(e2.headers) });
    await waitFor("stuck handler running", () => runner.inFlight === 1);
    // The handler never returns, so stop() resolving at all is the proof.
    await expect(runner.stop(300)).resolves.toBeUndefined();
    hang = false;
    const ci = await jsm.consumers.info("c3", "runner");
    expect(ci.num_ack_pending).toBe(1); // not acked: it will be redelivered to the next runner
  });
});

describe("ConsumerRunner against forged events", () => {
  it("dead-letters an event whose ce-type differs from its subject (invalid_event, naming both) and never handles it", async () => {
    // A producer allowed to publish c6.inventory.rejected.v1 only, dressing up as another type.
    await setup("c6", { max_deliver: 3 });
    const handled: string[] = [];
    const runner = new ConsumerRunner({
      js,
      stream: "c6",
      consumer: "runner",
      publisher: new Publisher(js),
      deadLetterSubject: "dlq.c6",
      handlers: {
        "c6.inventory.rejected.v1": async (e) => void handled.push(`${e.type}:${e.id}`),
        "c6.payment.authorized.v1": async (e) => void handled.push(`${e.type}:${e.id}`),
      },
    });
    await runner.start();
    const forged = encodeBinary({ ...newEvent({ type: "c6.payment.authorized.v1", source: "/t", data: { orderId: "o-1" } }), id: "forged" });
    await js.publish("c6.inventory.rejected.v1", forged.payload, { headers: toMsgHdrs(forged.headers) });
    // Structured mode carries the type in the body: the same rule.
    const structured = JSON.stringify({
      specversion: "1.0",
      id: "forged-structured",
      source: "/t",
      type: "c6.payment.authorized.v1",
      data: { orderId: "o-2" },
    });
    await raw("c6.inventory.rejected.v1", { "content-type": "application/cloudevents+json" }, structured);
    const honest = encodeBinary({ ...newEvent({ type: "c6.inventory.rejected.v1", source: "/t", data: { orderId: "o-3" } }), id: "honest" });
    await js.publish(honest.subject, honest.payload, { headers: toMsgHdrs(honest.headers) });
    await settled("c6");
    expect(handled).toEqual(["c6.inventory.rejected.v1:honest"]);
    const dead = await readAll("c6_dlq", 2);
    expect(dead).toHaveLength(2);
    for (const d of dead) {
      expect(d.headers!.get(DLQ_HEADERS.reason)).toBe("invalid_event");
      expect(d.headers!.get(DLQ_HEADERS.originalSubject)).toBe("c6.inventory.rejected.v1");
      expect(d.headers!.get(DLQ_HEADERS.error)).toMatch(/c6\.payment\.authorized\.v1.*c6\.inventory\.rejected\.v1/);
    }
    expect(dead[0]!.headers!.get("ce-type")).toBe("c6.payment.authorized.v1");
    await runner.stop(2000);
  });
});

describe("ConsumerRunner diagnostics", () => {
  it("says the data is not JSON instead of blaming the schema, and masks card numbers a parse error quotes", async () => {
    await setup("c7", { max_deliver: 3 });
    const schemas = new SchemaRegistry().add("c7.order.placed.v1", {
      $schema: "http://json-schema.org/draft-07/schema#",
      type: "object",
      required: ["orderId"],
      properties: { orderId: { type: "string" } },
    });
    const handled: string[] = [];
    const runner = new ConsumerRunner({
      js,
      stream: "c7",
      consumer: "runner",
      publisher: new Publisher(js),
      schemas,
      deadLetterSubject: "dlq.c7",
      handlers: { "c7.order.placed.v1": async (e) => void handled.push(e.id) },
    });
    await runner.start();
    const type = "c7.order.placed.v1";
    const attrs = { "ce-specversion": "1.0", "ce-source": "/t", "ce-type": type };
    const valid = JSON.stringify({ orderId: "o-1" });
    const cases: [string, Record<string, string>, string, RegExp][] = [
      ["no-content-type", { ...attrs, "ce-id": "no-content-type" }, valid, /is not JSON: the event has no datacontenttype/],
      [
        "octet-stream",
        { ...attrs, "ce-id": "octet-stream", "ce-datacontenttype": "application/octet-stream" },
        valid,
        /datacontenttype application\/octet-stream is not JSON/,
      ],
      [
        "data-base64",
        { "content-type": "application/cloudevents+json" },
        JSON.stringify({
          specversion: "1.0",
          id: "data-base64",
          source: "/t",
          type,
          datacontenttype: "application/json",
          data_base64: Buffer.from(valid).toString("base64"),
        }),
        /carries data_base64 \(bytes\)/,
      ],
      ["card-in-payload", { ...attrs, "ce-id": "card-in-payload", "ce-datacontenttype": "application/json" }, "x4111-1111-1111-1111", /not valid JSON/],
    ];
    for (const [, hdrs, body] of cases) await raw(type, hdrs, body);
    await settled("c7");
    expect(handled).toEqual([]);
    const dead = await readAll("c7_dlq", cases.length);
    expect(dead).toHaveLength(cases.length);
    for (const [id, , body, message] of cases) {
      const d = dead.find((m) => (m.headers!.get("ce-id") || JSON.parse(Buffer.from(m.data).toString()).id) === id)!;
      expect(d, id).toBeDefined();
      expect(d.headers!.get(DLQ_HEADERS.reason), id).toBe("invalid_event");
      const error = d.headers!.get(DLQ_HEADERS.error);
      expect(error, id).toMatch(message);
      expect(error, id).not.toMatch(/must have property/);
      // The payload itself is kept as it was (the DLQ is where it can be inspected and replayed).
      expect(Buffer.from(d.data).toString()).toBe(body);
    }
    const cardError = dead.find((m) => m.headers!.get("ce-id") === "card-in-payload")!.headers!.get(DLQ_HEADERS.error);
    expect(cardError).toContain("x****-****-****-1111");
    expect(cardError).not.toContain("4111");
    await runner.stop(2000);
  });
});

describe("ConsumerRunner on the last delivery", () => {
  it("dead-letters a handler that outlives the ack wait on its last delivery", async () => {
    await setup("c4", { max_deliver: 1, ackWaitMs: 500 });
    const runner = new ConsumerRunner({
      js,
      stream: "c4",
      consumer: "runner",
      publisher: new Publisher(js),
      deadLetterSubject: "dlq.c4",
      handlers: { "c4.stuck.v1": () => new Promise<void>(() => undefined) },
    });
    await runner.start();
    const e = encodeBinary(newEvent({ type: "c4.stuck.v1", source: "/t", data: {} }));
    await js.publish(e.subject, e.payload, { headers: toMsgHdrs(e.headers) });
    await settled("c4");
    const dead = await readAll("c4_dlq", 1);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.headers!.get(DLQ_HEADERS.reason)).toBe("max_deliver");
    expect(dead[0]!.headers!.get(DLQ_HEADERS.error)).toMatch(/did not finish within the ack wait of 500 ms/);
    await runner.stop(200);
  });
});

describe("dead-letter headers and delivery policy (pure)", () => {
  it("keeps the event's headers, drops JetStream's, adds why/where/how often, with a stable dedupe id", () => {
    const original = natsHeaders();
    original.set("ce-id", "a%20b");
    original.set("ce-type", "shop.order.placed.v1");
    original.set("Nats-Msg-Id", "a b");
    original.set("Nats-Expected-Stream", "x");
    const h = deadLetterHeaders(original, {
      reason: "schema",
      error: "data fails\r\nits schema",
      subject: "shop.order.placed.v1",
      stream: "shop_events",
      streamSequence: 42,
      consumer: "shop_inventory",
      deliveryCount: 1,
      service: "inventory",
      time: new Date("2026-11-23T10:00:00Z"),
    });
    expect(Object.fromEntries([...h].map(([k, v]) => [k, v.join(",")]))).toEqual({
      "ce-id": "a%20b",
      "ce-type": "shop.order.placed.v1",
      "JetMesh-Dlq-Reason": "schema",
      "JetMesh-Dlq-Error": "data fails its schema",
      "JetMesh-Dlq-Original-Subject": "shop.order.placed.v1",
      "JetMesh-Dlq-Stream": "shop_events",
      "JetMesh-Dlq-Stream-Sequence": "42",
      "JetMesh-Dlq-Consumer": "shop_inventory",
      "JetMesh-Dlq-Delivery-Count": "1",
      "JetMesh-Dlq-Service": "inventory",
      "JetMesh-Dlq-Time": "2026-11-23T10:00:00.000Z",
    });
    expect(deadLetterMsgId("shop_events", "shop_inventory", 42)).toBe(deadLetterMsgId("shop_events", "shop_inventory", 42));
    expect(deadLetterMsgId("shop_events", "shop_payment", 42)).not.toBe(deadLetterMsgId("shop_events", "shop_inventory", 42));
  });

  it.each([
    [
      { max_deliver: 5, ack_wait: 30e9, backoff: [1e9, 5e9, 30e9] },
      { maxDeliver: 5, ackWaitMs: 30_000, backoffMs: [1000, 5000, 30_000], backoffFrom: "jetstream" },
    ],
    [
      { max_deliver: -1, ack_wait: 2e9 },
      { maxDeliver: -1, ackWaitMs: 2000, backoffMs: [], backoffFrom: "none" },
    ],
    [{}, { maxDeliver: -1, ackWaitMs: 30_000, backoffMs: [], backoffFrom: "none" }],
    // The operator's mapping: ack_wait as given, schedule in metadata.
    [
      { ack_wait: 30e9, description: "JetMesh shop/x; backoff=1s", metadata: { "jetmesh.io/backoff": "250ms,1m30s", "_nats.req.level": "0" }, backoff: [5e9] },
      { maxDeliver: -1, ackWaitMs: 30_000, backoffMs: [250, 90_000], backoffFrom: "metadata" },
    ],
    // The description is for people: a schedule written there (older operators) is not read.
    [
      { ack_wait: 30e9, description: "JetMesh shop/inventory; backoff=1s,5s,30s" },
      { maxDeliver: -1, ackWaitMs: 30_000, backoffMs: [], backoffFrom: "none" },
    ],
    // Unparseable schedules are skipped: the next source applies.
    [
      { ack_wait: 30e9, metadata: { "jetmesh.io/backoff": "soon" }, backoff: [2e9] },
      { maxDeliver: -1, ackWaitMs: 30_000, backoffMs: [2000], backoffFrom: "jetstream" },
    ],
    [
      { ack_wait: 30e9, metadata: { "jetmesh.io/backoff": "1s,,2s" } },
      { maxDeliver: -1, ackWaitMs: 30_000, backoffMs: [], backoffFrom: "none" },
    ],
    [
      { ack_wait: 30e9, metadata: { "jetmesh.io/backoff": "" } },
      { maxDeliver: -1, ackWaitMs: 30_000, backoffMs: [], backoffFrom: "none" },
    ],
  ])("reads the delivery policy from consumer config %j", (config, expected) => {
    expect(deliveryPolicyOf({ config } as never)).toEqual(expected);
  });
});
