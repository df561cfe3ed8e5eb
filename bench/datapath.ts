// Data-path benchmark: what the mesh runtime costs over hand-written nats.js code.
//
// One local nats-server, one stream prefilled with N binary-mode CloudEvents. Each run
// drains all N through its own durable pull consumer doing the same work per message:
// read the event, publish one follow-up event, ack the input after the follow-up is
// persisted. (a) "raw": a hand-written nats.js loop; (b) "mesh": ConsumerRunner +
// Publisher with CloudEvents validation and JSON Schema validation on. Runs alternate
// raw, mesh, mesh, raw, ... so warm-up and drift hit both alike.
//
// The baseline from NATS itself, on the same server in the same run: `nats bench js pub async`
// and `nats bench js consume` (the nats CLI next to the nats-server binary in the tools cache,
// or $NATS_CLI_BIN) with the same message count and the events' size on the wire. It does less
// per message (no follow-up publish, no decoding), so it is the ceiling of this machine, not a
// like-for-like run: the ratios say how far each path is from it.
//
//   npm run bench:datapath [-- <messages>]     env: BENCH_MESSAGES, BENCH_ROUNDS, BENCH_CONCURRENCY
//
// Tracing as a service has it: the standard OTEL_* env (OTEL_EXPORTER_OTLP_ENDPOINT on: a
// producer span per publish and a consumer span per delivery in the mesh runs; unset: off).
//
// Progress goes to stderr; the last stdout line is the JSON result.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { pino } from "pino";
import { natsServerBinary, startNats } from "@jetmesh/testing";
import {
  ConsumerRunner,
  encodeBinary,
  followUpEvent,
  newEvent,
  parseTracingConfig,
  Publisher,
  SchemaRegistry,
  startTracing,
  toMsgHdrs,
  type CloudEvent,
} from "@jetmesh/mesh";

const N = Number(process.argv[2] ?? process.env.BENCH_MESSAGES ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 256);
const PULL_BATCH = CONCURRENCY * 2;
const tracingProblems: string[] = [];
const tracingConfig = parseTracingConfig(process.env, tracingProblems);
if (tracingProblems.length > 0) throw new Error(tracingProblems.join("; "));
const tracing = startTracing(tracingConfig, "bench-datapath");
const STREAM = "bench";
const IN = "bench.order.placed.v1";
const OUT = "bench.inventory.reserved.v1";

interface OrderPlaced {
  orderId: string;
  customer: string;
  items: { sku: string; qty: number }[];
}

const schema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  additionalProperties: false,
  required: ["orderId", "customer", "items"],
  properties: {
    orderId: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
    customer: { type: "string", minLength: 1 },
    items: {
      type: "array",
      minItems: 1,
      items: { type: "object", required: ["sku", "qty"], properties: { sku: { type: "string" }, qty: { type: "integer", minimum: 1 } } },
    },
  },
};

const log = (msg: string) => process.stderr.write(`[datapath] ${msg}\n`);

async function prefill(js: JetStreamClient): Promise<void> {
  const t0 = performance.now();
  const window: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const e = newEvent<OrderPlaced>({
      type: IN,
      source: "/bench/order",
      data: { orderId: `o-${i}`, customer: `c-${i % 97}`, items: [{ sku: "sku-1", qty: 1 + (i % 3) }] },
    });
    const enc = encodeBinary(e);
    window.push(js.publish(enc.subject, enc.payload, { msgID: e.id, headers: toMsgHdrs(enc.headers) }));
    if (window.length >= 1000) await Promise.all(window.splice(0));
    if (i > 0 && i % 10_000 === 0) log(`prefill ${i}/${N}`);
  }
  await Promise.all(window);
  log(`prefilled ${N} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function addConsumer(nc: NatsConnection, name: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(STREAM, {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: IN,
    max_ack_pending: PULL_BATCH * 4,
    ack_wait: 60_000_000_000,
  });
}

/** (a) Hand-written: consume, parse, publish a follow-up (bounded window), ack on its PubAck. */
interface RunResult {
  rate: number;
  /** Client CPU (user + system) per message over the timed window, µs. */
  cpuUs: number;
}

async function runRaw(nc: NatsConnection, js: JetStreamClient, name: string): Promise<RunResult> {
  await addConsumer(nc, name);
  const consumer = await js.consumers.get(STREAM, name);
  const te = new TextEncoder();
  let done = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const messages = await consumer.consume({ max_messages: PULL_BATCH });
  const settle = (m: JsMsg) => {
    m.ack();
    inFlight--;
    if (++done === N) finished();
    const w = wake;
    wake = undefined;
    w?.();
  };
  void (async () => {
    for await (const m of messages) {
      while (inFlight >= CONCURRENCY) await new Promise<void>((r) => (wake = r));
      inFlight++;
      const id = m.headers!.get("ce-id");
      const trace = m.headers!.get("ce-traceparent");
      const data = m.json<OrderPlaced>();
      const outId = `${id}:${name}`;
      const h = natsHeaders();
      h.set("ce-specversion", "1.0");
      h.set("ce-id", outId);
      h.set("ce-source", "/bench/inventory");
      h.set("ce-type", OUT);
      h.set("ce-datacontenttype", "application/json");
      h.set("ce-traceparent", trace);
      const payload = te.encode(JSON.stringify({ orderId: data.orderId, items: data.items }));
      js.publish(OUT, payload, { msgID: outId, headers: h }).then(
        () => settle(m),
        (err) => {
          log(`raw publish failed: ${String(err)}`);
          m.nak();
          inFlight--;
        },
      );
      if (done === N) break;
    }
  })();
  await all;
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await messages.close();
  return { rate: N / secs, cpuUs: (cpu.user + cpu.system) / N };
}

/** (b) The runtime: ConsumerRunner + Publisher, CloudEvents + JSON Schema validation on. */
async function runMesh(js: JetStreamClient, nc: NatsConnection, name: string): Promise<RunResult> {
  await addConsumer(nc, name);
  const schemas = new SchemaRegistry().add(IN, schema);
  const publisher = new Publisher(js, { maxInFlight: CONCURRENCY, tracer: tracing?.tracer });
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const runner = new ConsumerRunner({
    js,
    stream: STREAM,
    consumer: name,
    publisher,
    schemas,
    deadLetterSubject: "bench.dlq",
    concurrency: CONCURRENCY,
    pullBatch: PULL_BATCH,
    tracer: tracing?.tracer,
    log: pino({ level: "silent" }),
    handlers: {
      [IN]: async (event: CloudEvent<OrderPlaced>, ctx) => {
        const d = event.data!;
        await ctx.publish(followUpEvent(event, { type: OUT, source: "/bench/inventory", data: { orderId: d.orderId, items: d.items }, key: name }));
        // The runner acks right after this returns (its follow-up is already acked).
        if (++done === N) setImmediate(finished);
      },
    },
  });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await runner.start();
  await all;
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await runner.stop(5000);
  return { rate: N / secs, cpuUs: (cpu.user + cpu.system) / N };
}

interface NatsBench {
  pub_async_msgs_per_s: number;
  consume_msgs_per_s: number;
  msg_bytes: number;
}

/** One encoded event's size on the wire (payload + ce- headers), for `nats bench --size`. */
function eventBytes(): number {
  const e = newEvent<OrderPlaced>({ type: IN, source: "/bench/order", data: { orderId: "o-12345", customer: "c-42", items: [{ sku: "sku-1", qty: 2 }] } });
  const enc = encodeBinary(e);
  const headers = Object.entries(enc.headers).reduce((s, [k, v]) => s + k.length + String(v).length + 4, 0);
  return enc.payload.length + headers;
}

/** `nats bench js pub async` then `js consume` on their own stream; undefined without the CLI. */
async function natsBench(url: string): Promise<NatsBench | undefined> {
  const cli = process.env.NATS_CLI_BIN ?? join(dirname(natsServerBinary()), "nats");
  if (!existsSync(cli)) {
    log(`no nats CLI at ${cli} (tools/ensure.sh nats builds it, or set NATS_CLI_BIN): skipping the nats bench baseline`);
    return undefined;
  }
  const size = eventBytes();
  const run = async (args: string[]): Promise<number> => {
    const { stdout } = await promisify(execFile)(
      cli,
      ["bench", "js", ...args, "--server", url, "--msgs", String(N), "--stream", "natsbench", "--no-progress"],
      { timeout: 600_000 },
    );
    const m = /stats: ([\d,]+) msgs\/sec/.exec(stdout);
    if (!m) throw new Error(`nats bench ${args.join(" ")} printed no rate:\n${stdout}`);
    return Number(m[1]!.replaceAll(",", ""));
  };
  const pub = await run(["pub", "async", "natsbench.x", "--size", `${size}B`, "--create", "--storage", "file"]);
  log(`nats bench js pub async: ${pub} msgs/s (${size} B)`);
  const consume = await run(["consume"]);
  log(`nats bench js consume: ${consume} msgs/s`);
  return { pub_async_msgs_per_s: pub, consume_msgs_per_s: consume, msg_bytes: size };
}

async function main(): Promise<void> {
  log(`nats-server starting; ${N} events, ${ROUNDS} rounds (raw/mesh alternating), concurrency ${CONCURRENCY}`);
  const nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ["bench.>"], duplicate_window: 120_000_000_000 });
    const js = jetstream(nc);
    await prefill(js);
    const baseline = await natsBench(nats.url);
    const raw: number[] = [];
    const mesh: number[] = [];
    // Client CPU per message: a second view that the machine's other load disturbs less.
    const rawCpu: number[] = [];
    const meshCpu: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // ABBA order: raw, mesh, mesh, raw, ...
      const order = r % 2 === 0 ? (["raw", "mesh"] as const) : (["mesh", "raw"] as const);
      for (const kind of order) {
        const name = `${kind}_${r}`;
        const { rate, cpuUs } = kind === "raw" ? await runRaw(nc, js, name) : await runMesh(js, nc, name);
        (kind === "raw" ? raw : mesh).push(rate);
        (kind === "raw" ? rawCpu : meshCpu).push(cpuUs);
        log(`round ${r + 1} ${kind}: ${Math.round(rate)} msgs/s, ${cpuUs.toFixed(1)} µs CPU per message in this process`);
      }
    }
    // Throughput over all rounds (harmonic mean of rates = total messages / total time).
    const hmean = (xs: number[]) => xs.length / xs.reduce((s, x) => s + 1 / x, 0);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const rawRate = hmean(raw);
    const meshRate = hmean(mesh);
    const result = {
      raw_msgs_per_s: Math.round(rawRate),
      mesh_msgs_per_s: Math.round(meshRate),
      ratio: Number((meshRate / rawRate).toFixed(3)),
      messages: N,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      raw_cpu_us_per_msg: Number(mean(rawCpu).toFixed(1)),
      mesh_cpu_us_per_msg: Number(mean(meshCpu).toFixed(1)),
      raw_runs: raw.map(Math.round),
      mesh_runs: mesh.map(Math.round),
      nats_server: nc.info?.version,
      tracing: tracingConfig.enabled ? `${tracingConfig.sampler} ${tracingConfig.ratio} to ${tracingConfig.tracesUrl}` : "off",
      // The physical limit: NATS's own client, consuming only (and publishing only).
      nats_bench: baseline ?? null,
      raw_vs_nats_consume: baseline ? Number((rawRate / baseline.consume_msgs_per_s).toFixed(3)) : null,
      mesh_vs_nats_consume: baseline ? Number((meshRate / baseline.consume_msgs_per_s).toFixed(3)) : null,
    };
    process.stdout.write(JSON.stringify(result) + "\n");
  } finally {
    await tracing?.shutdown();
    await nc.close();
    await nats.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`[datapath] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
