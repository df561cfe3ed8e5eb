// HTTP edge benchmark (docs/http.md): what CloudEvents over HTTP cost next to the TypeScript
// runtime on the same nats-server, in the same run.
//
//   ingress    N events POSTed in binary mode to the jetmesh-ingress (C requests in flight,
//              keep-alive, bearer token), each answered 202 after the JetStream ack
//   runtime    the same N events published with the runtime's Publisher (C in flight)
//   dispatch   N events drained by a jetmesh-dispatcher to a trivial HTTP subscriber (204)
//   runner     the same N events drained by a ConsumerRunner with a no-op handler
//   latency    L events published one at a time (paced); time from publish to the subscriber
//              (HTTP) or handler (runtime): p50/p99, and the difference = added latency
//
// Everything runs in this process except nats-server, so the HTTP subscriber and the clients
// compete with what they measure for the same CPU: numbers to compare within a run.
//
//   npm run bench:http [-- <events>]     env: BENCH_EVENTS, BENCH_CONCURRENCY, BENCH_LATENCY_EVENTS
//
// Progress goes to stderr; the last stdout line is the JSON result.
import { Agent, createServer, request } from "node:http";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNats } from "@jetmesh/testing";
import { ConsumerRunner, encodeBinary, newEvent, Publisher, runService } from "@jetmesh/mesh";
import { dispatcher, ingress } from "@jetmesh/edge";

const N = Number(process.argv[2] ?? process.env.BENCH_EVENTS ?? 5000);
const C = Number(process.env.BENCH_CONCURRENCY ?? 64);
const L = Number(process.env.BENCH_LATENCY_EVENTS ?? 300);
const TOKEN = "bench-token-0123456789abcdef";
const log = (msg: string) => process.stderr.write(`[http] ${msg}\n`);

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const sample = (i: number, type: string) =>
  newEvent({ type, source: "/bench/http", data: { orderId: `o-${i}`, customer: "c-1", items: [{ sku: "widget", qty: 1 }], t: performance.now() } });

/** Runs `n` tasks with `c` in flight; resolves with each task's latency (ms) and the wall time. */
async function closedLoop(n: number, c: number, task: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await task(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - t0) / 1000 };
}

const nats = await startNats();
const nc = await connect({ servers: nats.url });
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
const publisher = new Publisher(js, { maxInFlight: C });
const base = { NATS_URL: nats.url, HTTP_PORT: "0", HTTP_HOST: "127.0.0.1", LOG_LEVEL: "silent" };
try {
  await jsm.streams.add({ name: "bh", subjects: ["bh.>"], duplicate_window: 120e9 });

  // Ingress vs. Publisher.
  const ing = await runService(ingress, { ...base, INGRESS_TOKENS: JSON.stringify({ producers: [{ name: "bench", token: TOKEN, types: ["bh.>"] }] }) });
  const agent = new Agent({ keepAlive: true, maxSockets: C });
  const post = (i: number) => {
    const enc = encodeBinary(sample(i, "bh.ingress.v1"));
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "content-length": String(enc.payload.length) };
    for (const [k, v] of Object.entries(enc.headers)) headers[k === "ce-datacontenttype" ? "content-type" : k] = v;
    return new Promise<void>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: ing.port, path: "/events", method: "POST", headers, agent }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 202 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end(enc.payload);
    });
  };
  log(`warm-up, then ${N} events: ingress (${C} requests in flight) and the runtime's Publisher (${C} in flight)`);
  await closedLoop(Math.min(500, N), C, (i) => post(N + i));
  await closedLoop(Math.min(500, N), C, async (i) => void (await publisher.publish(sample(N + i, "bh.warm.v1"))));
  const ingressRun = await closedLoop(N, C, post);
  const publishRun = await closedLoop(N, C, async (i) => void (await publisher.publish(sample(i, "bh.runtime.v1"))));
  await ing.stop();
  agent.destroy();
  log(`ingress ${round(N / ingressRun.seconds, 0)} events/s, runtime ${round(N / publishRun.seconds, 0)} events/s`);

  // Dispatcher vs. ConsumerRunner, draining the same N events.
  let received = 0;
  let onReceive: ((t: number) => void) | undefined;
  const subscriber = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received++;
      if (onReceive) onReceive((JSON.parse(Buffer.concat(chunks).toString()) as { t: number }).t);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => subscriber.listen(0, "127.0.0.1", r));
  const subscriberUrl = `http://127.0.0.1:${(subscriber.address() as { port: number }).port}/events`;
  const consumer = async (name: string, subject: string, deliver: DeliverPolicy) =>
    jsm.consumers.add("bh", {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      filter_subject: subject,
      deliver_policy: deliver,
      max_ack_pending: 1000,
      max_deliver: 5,
    });
  const drained = async (name: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = await jsm.consumers.info("bh", name);
      if (i.num_pending === 0 && i.num_ack_pending === 0) return;
      if (Date.now() > deadline) throw new Error(`${name} did not drain within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  log(`draining ${N} events: dispatcher → HTTP subscriber, and ConsumerRunner (concurrency ${C})`);
  await consumer("dispatch", "bh.runtime.v1", DeliverPolicy.All);
  let t0 = performance.now();
  const disp = await runService(dispatcher, {
    ...base,
    JETMESH_STREAM: "bh",
    JETMESH_CONSUMER: "dispatch",
    JETMESH_DEAD_LETTER_SUBJECT: "bh.dlq",
    DISPATCH_URL: subscriberUrl,
    CONCURRENCY: String(C),
  });
  await drained("dispatch", 300_000);
  const dispatchSeconds = (performance.now() - t0) / 1000;
  const dispatchReceived = received;

  let handled = 0;
  await consumer("runner", "bh.runtime.v1", DeliverPolicy.All);
  let onHandle: ((t: number) => void) | undefined;
  const runner = new ConsumerRunner({
    js,
    stream: "bh",
    consumer: "runner",
    publisher,
    deadLetterSubject: "bh.dlq",
    concurrency: C,
    handlers: {},
    defaultHandler: (e) => {
      handled++;
      onHandle?.((e.data as { t: number }).t);
      return Promise.resolve();
    },
  });
  t0 = performance.now();
  await runner.start();
  await drained("runner", 300_000);
  const runnerSeconds = (performance.now() - t0) / 1000;
  log(
    `dispatcher ${round(N / dispatchSeconds, 0)} deliveries/s (${dispatchReceived} received), runner ${round(N / runnerSeconds, 0)} events/s (${handled} handled)`,
  );
  await disp.stop();
  await runner.stop();

  // Latency, paced: one event at a time, ~2 ms apart, to an idle path.
  const paced = async (subject: string, sink: (f: (t: number) => void) => void): Promise<number[]> => {
    const lat: number[] = [];
    sink((t) => lat.push(performance.now() - t));
    for (let i = 0; i < L; i++) {
      await publisher.publish(sample(i, subject));
      const want = i + 1;
      const deadline = Date.now() + 5000;
      while (lat.length < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    }
    return lat.sort((a, b) => a - b);
  };
  log(`latency: ${L} events one at a time, publish → HTTP subscriber, and publish → runtime handler`);
  await consumer("lat-dispatch", "bh.lat.http.v1", DeliverPolicy.New);
  const disp2 = await runService(dispatcher, {
    ...base,
    JETMESH_STREAM: "bh",
    JETMESH_CONSUMER: "lat-dispatch",
    JETMESH_DEAD_LETTER_SUBJECT: "bh.dlq",
    DISPATCH_URL: subscriberUrl,
    CONCURRENCY: String(C),
  });
  for (let i = 0; i < 50 && !disp2.ready; i++) await new Promise((r) => setTimeout(r, 100));
  const httpLat = await paced("bh.lat.http.v1", (f) => (onReceive = f));
  onReceive = undefined;
  await disp2.stop();
  await consumer("lat-runner", "bh.lat.ts.v1", DeliverPolicy.New);
  const runner2 = new ConsumerRunner({
    js,
    stream: "bh",
    consumer: "lat-runner",
    publisher,
    deadLetterSubject: "bh.dlq",
    concurrency: C,
    handlers: {},
    defaultHandler: (e) => {
      onHandle?.((e.data as { t: number }).t);
      return Promise.resolve();
    },
  });
  await runner2.start();
  const tsLat = await paced("bh.lat.ts.v1", (f) => (onHandle = f));
  await runner2.stop();
  subscriber.close();

  const result = {
    events: N,
    concurrency: C,
    ingress_events_per_s: round(N / ingressRun.seconds, 0),
    runtime_publish_events_per_s: round(N / publishRun.seconds, 0),
    ingress_vs_runtime: round(publishRun.seconds / ingressRun.seconds, 3),
    ingress_p50_ms: round(pct(ingressRun.latencies, 50)),
    ingress_p99_ms: round(pct(ingressRun.latencies, 99)),
    runtime_publish_p50_ms: round(pct(publishRun.latencies, 50)),
    runtime_publish_p99_ms: round(pct(publishRun.latencies, 99)),
    ingress_added_p50_ms: round(pct(ingressRun.latencies, 50) - pct(publishRun.latencies, 50)),
    ingress_added_p99_ms: round(pct(ingressRun.latencies, 99) - pct(publishRun.latencies, 99)),
    dispatcher_deliveries_per_s: round(N / dispatchSeconds, 0),
    runtime_consume_events_per_s: round(N / runnerSeconds, 0),
    dispatcher_vs_runtime: round(runnerSeconds / dispatchSeconds, 3),
    latency_events: L,
    push_p50_ms: round(pct(httpLat, 50)),
    push_p99_ms: round(pct(httpLat, 99)),
    runtime_delivery_p50_ms: round(pct(tsLat, 50)),
    runtime_delivery_p99_ms: round(pct(tsLat, 99)),
    push_added_p50_ms: round(pct(httpLat, 50) - pct(tsLat, 50)),
    push_added_p99_ms: round(pct(httpLat, 99) - pct(tsLat, 99)),
  };
  process.stdout.write(JSON.stringify(result) + "\n");
} finally {
  await nc.close().catch(() => undefined);
  await nats.destroy();
}
