// Push delivery against a real nats-server and real HTTP subscribers: the runtime's retry,
// dead-letter and duplicate semantics over HTTP, replies, a subscriber that dies mid-request,
// a slow one, one answering 500 then 200, and concurrency bounded by maxAckPending.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import { HTTP, CloudEvent as SdkEvent } from "cloudevents";
import { freePort, startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { Kvm } from "@nats-io/kv";
import {
  BACKOFF_METADATA_KEY,
  deriveEventId,
  DLQ_HEADERS,
  FAILURE_BUCKET,
  type DeliveryFailureReport,
  encodeBinary,
  newEvent,
  Publisher,
  runService,
  toMsgHdrs,
  type ServiceHandle,
} from "@jetmesh/mesh";
import { dispatcher, retryAfterMs, RETRY_AFTER_MAX_MS, type DispatcherConfig } from "@jetmesh/edge";

let nats: NatsCluster;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let publisher: Publisher;
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  publisher = new Publisher(js);
  await jsm.streams.add({ name: "push", subjects: ["p.>"] });
  await jsm.streams.add({ name: "push_dlq", subjects: ["dlq.>"] });
});

afterAll(async () => {
  for (const r of running.reverse()) await r.stop().catch(() => undefined);
  await nc?.close();
  await nats?.destroy();
});

interface Received {
  headers: IncomingMessage["headers"];
  body: Buffer;
  n: number;
}

/** An HTTP subscriber whose answer to the n-th request (1-based) is `answer(req, res, n)`. */
class Subscriber {
  readonly requests: Received[] = [];
  inFlight = 0;
  maxInFlight = 0;
  port = 0;
  private server: Server | undefined;
  private readonly answer: (r: Received, res: ServerResponse) => void | Promise<void>;
  constructor(answer: (r: Received, res: ServerResponse) => void | Promise<void>) {
    this.answer = answer;
  }
  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const r = { headers: req.headers, body: Buffer.concat(chunks), n: this.requests.length + 1 };
        this.requests.push(r);
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        res.on("close", () => this.inFlight--);
        void Promise.resolve(this.answer(r, res)).catch(() => res.destroy());
      });
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    running.push(this);
    return this;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }
}

interface Case {
  name: string;
  maxDeliver?: number;
  maxAckPending?: number;
  ackWaitMs?: number;
  env?: Record<string, string>;
}

/** A consumer on p.<name>.> with a 100 ms, 200 ms retry schedule, and a dispatcher for it. */
async function dispatch(c: Case, sub: Subscriber): Promise<ServiceHandle<DispatcherConfig>> {
  await jsm.consumers.add("push", {
    durable_name: c.name,
    ack_policy: AckPolicy.Explicit,
    filter_subject: `p.${c.name}.>`,
    max_deliver: c.maxDeliver ?? 3,
    ack_wait: nanos(c.ackWaitMs ?? 5000),
    max_ack_pending: c.maxAckPending ?? 100,
    metadata: { [BACKOFF_METADATA_KEY]: "100ms,200ms" },
  });
  const svc = await runService(dispatcher, {
    NATS_URL: nats.url,
    HTTP_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    JETMESH_STREAM: "push",
    JETMESH_CONSUMER: c.name,
    JETMESH_DEAD_LETTER_SUBJECT: `dlq.${c.name}`,
    DISPATCH_URL: sub.url,
    DISPATCH_TIMEOUT: "1s",
    ...c.env,
  });
  running.push(svc);
  await waitFor(`dispatcher ${c.name} ready`, () => svc.ready);
  return svc;
}

function event(name: string, n = 0) {
  return newEvent({ type: `p.${name}.v1`, source: "/tests/dispatcher", data: { n, text: "Euro \u20ac" } });
}

async function settled(name: string): Promise<void> {
  await waitFor(`consumer ${name} settled`, async () => {
    const i = await jsm.consumers.info("push", name);
    return i.num_pending === 0 && i.num_ack_pending === 0;
  });
}

async function deadLetters(name: string, expected: number): Promise<StoredMsg[]> {
  return waitFor(`${expected} dead letter(s) of ${name}`, async () => {
    const info = await jsm.streams.info("push_dlq", { subjects_filter: `dlq.${name}` });
    const count = info.state.subjects?.[`dlq.${name}`] ?? 0;
    if (count < expected) return undefined;
    const out: StoredMsg[] = [];
    for (let seq = 1; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage("push_dlq", { seq }).catch(() => null);
      if (m && m.subject === `dlq.${name}`) out.push(m);
    }
    // A read that failed (a timeout on a loaded machine; a full run once returned [] here)
    // is tried again, not returned short.
    return out.length >= expected ? out : undefined;
  });
}

const ok = (_r: Received, res: ServerResponse) => void res.writeHead(204).end();

describe("push delivery", () => {
  it("POSTs each event in HTTP binary mode, readable by the CloudEvents SDK; 2xx acks", async () => {
    const sub = await new Subscriber(ok).start();
    await dispatch({ name: "basic" }, sub);
    const e = event("basic");
    await publisher.publish(e);
    await waitFor("delivery", () => sub.requests.length === 1);
    await settled("basic");
    const r = sub.requests[0]!;
    expect(r.headers["ce-id"]).toBe(e.id);
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.headers["ce-datacontenttype"]).toBeUndefined();
    const sdk = HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body.toString() });
    expect(Array.isArray(sdk)).toBe(false);
    if (Array.isArray(sdk)) return;
    // strict: the SDK validates the event it read (throws if it is not a valid CloudEvent).
    expect(() => new SdkEvent({ ...sdk }, true)).not.toThrow();
    expect({ id: sdk.id, type: sdk.type, source: sdk.source, data: sdk.data, traceparent: sdk.traceparent }).toEqual({
      id: e.id,
      type: e.type,
      source: e.source,
      data: e.data,
      traceparent: e.traceparent,
    });
    expect(r.body).toEqual(Buffer.from(encodeBinary(e).payload));
  });

  it("500 then 200: retried after the backoff, acked, no dead letter", async () => {
    const sub = await new Subscriber((r, res) => void res.writeHead(r.n === 1 ? 500 : 200).end("fine")).start();
    await dispatch({ name: "flaky" }, sub);
    const e = event("flaky");
    await publisher.publish(e);
    await waitFor("second delivery", () => sub.requests.length === 2);
    await settled("flaky");
    expect(sub.requests.map((r) => r.headers["ce-id"])).toEqual([e.id, e.id]);
    const info = await jsm.streams.info("push_dlq", { subjects_filter: "dlq.flaky" });
    expect(info.state.subjects?.["dlq.flaky"] ?? 0).toBe(0);
  });

  it("429 and 5xx every time: dead letter max_deliver after maxDeliver deliveries", async () => {
    const sub = await new Subscriber((r, res) => void res.writeHead(r.n % 2 ? 429 : 503).end("busy")).start();
    await dispatch({ name: "busy", maxDeliver: 3 }, sub);
    await publisher.publish(event("busy"));
    const [dl] = await deadLetters("busy", 1);
    expect(sub.requests).toHaveLength(3);
    expect(dl!.header.get(DLQ_HEADERS.reason)).toBe("max_deliver");
    expect(dl!.header.get(DLQ_HEADERS.deliveryCount)).toBe("3");
    expect(dl!.header.get(DLQ_HEADERS.error)).toMatch(/HTTP 429 from 127\.0\.0\.1:\d+: busy/);
    expect(dl!.header.get(DLQ_HEADERS.service)).toBe("jetmesh-dispatcher");
    await settled("busy");
    // What the operator shows in the subscription's status (deliveryFailures, DeliveryFailing):
    // the dispatcher's report in the KV bucket jetmesh-failures.
    const kv = await new Kvm(js).open(FAILURE_BUCKET);
    const report = await waitFor("the dispatcher's failure report", async () => {
      for await (const key of await kv.keys("busy.*")) {
        const r = (await kv.get(key))?.json<DeliveryFailureReport>();
        if (r && r.retried + r.deadLettered === 3) return r;
      }
      return undefined;
    });
    expect(report).toMatchObject({ service: "jetmesh-dispatcher", retried: 2, deadLettered: 1, last: { outcome: "dead_lettered", reason: "max_deliver" } });
    expect(report.last.error).toMatch(/^failed 3 deliveries; last error: HTTP 429 from 127\.0\.0\.1:\d+: busy/);
  });

  it("429 or 503 with Retry-After: the retry waits that long instead of the subscription's backoff", async () => {
    const at: number[] = [];
    const sub = await new Subscriber((r, res) => {
      at.push(Date.now());
      if (r.n === 1) res.writeHead(429, { "retry-after": "2" }).end("slow down");
      else res.writeHead(204).end();
    }).start();
    await dispatch({ name: "later" }, sub);
    await publisher.publish(event("later"));
    await waitFor("the retry", () => sub.requests.length === 2);
    await settled("later");
    // A nak delay is a floor the server keeps (the backoff here is 100 ms).
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(1900);
  });

  it("another 4xx: dead letter at once with the status and a body excerpt", async () => {
    const sub = await new Subscriber(
      (_r, res) => void res.writeHead(422, { "content-type": "text/plain" }).end("order o-9 is unknown\n" + "x".repeat(500)),
    ).start();
    await dispatch({ name: "refused" }, sub);
    await publisher.publish(event("refused"));
    const [dl] = await deadLetters("refused", 1);
    expect(sub.requests).toHaveLength(1);
    expect(dl!.header.get(DLQ_HEADERS.reason)).toBe("terminal");
    const error = dl!.header.get(DLQ_HEADERS.error);
    expect(error).toMatch(/^HTTP 422 from 127\.0\.0\.1:\d+: order o-9 is unknown x+…$/);
    expect(error.length).toBeLessThan(300);
    expect(dl!.header.get("ce-type")).toBe("p.refused.v1");
  });

  it("a slow subscriber gets at most maxAckPending requests at once, and every event", async () => {
    const sub = await new Subscriber((_r, res) => {
      setTimeout(() => res.writeHead(200).end(), 150);
    }).start();
    await dispatch({ name: "slow", maxAckPending: 3, env: { CONCURRENCY: "16" } }, sub);
    for (let i = 0; i < 12; i++) await publisher.publish(event("slow", i));
    await waitFor("12 deliveries", () => sub.requests.length === 12, { timeoutMs: 20_000 });
    await settled("slow");
    expect(sub.maxInFlight).toBe(3);
  });

  it("no answer within DISPATCH_TIMEOUT: retried like a 5xx", async () => {
    const sub = await new Subscriber((r, res) => {
      if (r.n > 1) res.writeHead(200).end();
      // the first request is left hanging
    }).start();
    await dispatch({ name: "timeout", env: { DISPATCH_TIMEOUT: "300ms" } }, sub);
    await publisher.publish(event("timeout"));
    await waitFor("second delivery", () => sub.requests.length === 2);
    await settled("timeout");
  });

  it("a subscriber that dies mid-request: the event is redelivered to its replacement", async () => {
    const port = await freePort();
    let died = false;
    const first = await new Subscriber((_r, res) => {
      // The process dies with the request in hand: the connection breaks without an answer.
      died = true;
      res.socket?.destroy();
    }).start(port);
    await dispatch({ name: "killed" }, first);
    const e = event("killed");
    await publisher.publish(e);
    await waitFor("the request reached the dying subscriber", () => died);
    await first.stop();
    // While it is down (connection refused), deliveries fail and are retried.
    const replacement = await new Subscriber(ok).start(port);
    await waitFor("delivery to the replacement", () => replacement.requests.length >= 1, { timeoutMs: 15_000 });
    await settled("killed");
    expect(replacement.requests[0]!.headers["ce-id"]).toBe(e.id);
  });
});

describe("replies", () => {
  const reply = (r: Received, res: ServerResponse) => {
    const input = JSON.parse(r.body.toString()) as { n: number };
    res
      .writeHead(200, {
        "ce-specversion": "1.0",
        "ce-id": `random-${Math.random()}`,
        "ce-source": "/tests/subscriber",
        "ce-type": "p.replied.v1",
        "content-type": "application/json",
      })
      .end(JSON.stringify({ n: input.n }));
  };

  it("a CloudEvent in the answer is published with an id derived from the input's; a duplicate delivery stores it once", async () => {
    const sub = await new Subscriber(reply).start();
    await dispatch({ name: "reply", env: { DISPATCH_REPLY_TYPES: "p.replied.v1" } }, sub);
    const e = event("reply", 7);
    // The same event twice in the stream (published without Nats-Msg-Id, as a duplicate
    // outside the window would be): delivered twice, answered twice, the reply stored once.
    const enc = encodeBinary(e);
    await js.publish(enc.subject, enc.payload, { headers: toMsgHdrs(enc.headers) });
    await js.publish(enc.subject, enc.payload, { headers: toMsgHdrs(enc.headers) });
    await waitFor("two deliveries", () => sub.requests.length === 2);
    await settled("reply");
    const info = await jsm.streams.info("push", { subjects_filter: "p.replied.v1" });
    expect(info.state.subjects?.["p.replied.v1"]).toBe(1);
    const stored = await jsm.streams.getMessage("push", { last_by_subj: "p.replied.v1" });
    expect(stored!.header.get("ce-id")).toBe(deriveEventId(e.id, "p.replied.v1"));
    expect(stored!.header.get("Nats-Msg-Id")).toBe(deriveEventId(e.id, "p.replied.v1"));
    expect(stored!.header.get("ce-source")).toBe("/tests/subscriber");
    expect(stored!.header.get("ce-traceparent")?.split("-")[1]).toBe(String(e.traceparent).split("-")[1]);
    expect(stored!.json()).toEqual({ n: 7 });
  });

  it("a reply of a type the subscription may not publish: the input is dead-lettered, nothing published", async () => {
    const sub = await new Subscriber(reply).start();
    await dispatch({ name: "badreply", env: { DISPATCH_REPLY_TYPES: "p.other.>" } }, sub);
    await publisher.publish(event("badreply"));
    const [dl] = await deadLetters("badreply", 1);
    expect(dl!.header.get(DLQ_HEADERS.reason)).toBe("terminal");
    expect(dl!.header.get(DLQ_HEADERS.error)).toMatch(/replied with type p.replied.v1, which this subscription may not publish/);
  });
});

describe("Retry-After", () => {
  it("reads delay-seconds and HTTP-dates, caps long ones, ignores what it cannot read", () => {
    const now = Date.parse("2026-11-30T10:00:00Z");
    expect(retryAfterMs("120", now)).toBe(120_000);
    expect(retryAfterMs(" 0 ", now)).toBe(0);
    expect(retryAfterMs("Mon, 30 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("Mon, 30 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("86400", now)).toBe(RETRY_AFTER_MAX_MS);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs("-5", now)).toBeUndefined();
  });
});
