// Tracing: the OTEL_* configuration, and a dead-lettered event's trace read back from a real
// Jaeger (all-in-one, memory storage, loopback ports): every failed attempt, then the
// dead-letter publish.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startJaeger, startNats, toolPath, waitFor, type Jaeger, type JaegerSpan, type NatsCluster } from "@jetmesh/testing";
import { Kvm } from "@nats-io/kv";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { ConsumerRunner, newEvent, parseTracingConfig, Publisher, startTracing, traceIdOf, traceKv, updateKv, type Tracing } from "@jetmesh/mesh";

function parsed(env: Record<string, string | undefined>) {
  const problems: string[] = [];
  const config = parseTracingConfig(env, problems);
  return { config, problems };
}

describe("tracing configuration (OTEL_* env)", () => {
  it.each([
    { name: "no endpoint: off", env: {}, enabled: false },
    {
      name: "an endpoint: on, spans to /v1/traces",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" },
      enabled: true,
      url: "http://collector:4318/v1/traces",
    },
    {
      name: "a traces endpoint is used as it is",
      env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/custom" },
      enabled: true,
      url: "http://c:4318/custom",
    },
    { name: "OTEL_SDK_DISABLED=true: off", env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }, enabled: false },
    { name: "OTEL_TRACES_EXPORTER=none: off", env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }, enabled: false },
  ])("$name", ({ env, enabled, url }) => {
    const { config, problems } = parsed(env);
    expect(problems).toEqual([]);
    expect(config.enabled).toBe(enabled);
    if (config.enabled) {
      expect(config.tracesUrl).toBe(url);
      expect(config.sampler).toBe("parentbased_always_on");
    }
  });

  it("reads the sampler, its ratio, the service name and resource attributes", () => {
    const { config, problems } = parsed({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_SERVICE_NAME: "checkout",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=dev,team=shop%20ops",
    });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      enabled: true,
      sampler: "parentbased_traceidratio",
      ratio: 0.25,
      serviceName: "checkout",
      resourceAttributes: { "deployment.environment.name": "dev", team: "shop ops" },
    });
  });

  it("bad values are named, each with what would be right", () => {
    const { problems } = parsed({
      OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318",
      OTEL_TRACES_SAMPLER: "sometimes",
      OTEL_TRACES_EXPORTER: "zipkin",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_RESOURCE_ATTRIBUTES: "novalue",
    });
    expect(problems).toEqual([
      'OTEL_TRACES_EXPORTER must be otlp or none, got "zipkin"',
      'OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported (port 4318 of a collector or Jaeger), got "grpc"',
      expect.stringMatching(/^OTEL_TRACES_SAMPLER must be one of always_on, .*got "sometimes"$/),
      'OTEL_RESOURCE_ATTRIBUTES: "novalue" is not key=value',
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL like http://collector:4318, got "collector:4318"',
    ]);
    expect(parsed({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }).problems).toEqual([
      'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "2"',
    ]);
  });
});

const tag = (s: JaegerSpan, key: string): unknown => s.tags.find((t) => t.key === key)?.value;

// Jaeger from the tools cache (`make tools` builds it with the others; JAEGER_BIN names another).
const jaegerBin = toolPath("jaeger");

describe("a dead-lettered event's trace (real Jaeger)", () => {
  let nats: NatsCluster;
  let jaeger: Jaeger;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let tracing: Tracing;

  beforeAll(async () => {
    [nats, jaeger] = await Promise.all([startNats(), startJaeger({ binary: jaegerBin })]);
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    const problems: string[] = [];
    tracing = startTracing(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint }, problems), "dlq-test")!;
    expect(problems).toEqual([]);
  });
  afterAll(async () => {
    await tracing?.shutdown();
    await nc?.close();
    await Promise.all([nats?.destroy(), jaeger?.stop()]);
  });

  it("shows the publish, each failed delivery (nak) and the last one's dead-letter publish, in order", async () => {
    await jsm.streams.add({ name: "tr", subjects: ["tr.>"] });
    await jsm.streams.add({ name: "tr_dlq", subjects: ["dlq.tr"] });
    // Three deliveries, 100 ms apart (the operator's backoff metadata sets the nak delays).
    await jsm.consumers.add("tr", {
      durable_name: "runner",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 3,
      ack_wait: 5_000_000_000,
      metadata: { "jetmesh.io/backoff": "100ms" },
    });
    const js = jetstream(nc);
    const publisher = new Publisher(js, { tracer: tracing.tracer });
    const runner = new ConsumerRunner({
      js,
      stream: "tr",
      consumer: "runner",
      publisher,
      deadLetterSubject: "dlq.tr",
      tracer: tracing.tracer,
      handlers: {
        "tr.order.placed.v1": () => Promise.reject(new Error("the warehouse is on fire")),
      },
    });
    await runner.start();
    try {
      const event = newEvent({ type: "tr.order.placed.v1", source: "/test", data: { n: 1 } });
      await publisher.publish(event);
      await waitFor("the event dead-lettered", async () => (await jsm.streams.info("tr_dlq")).state.messages === 1, { timeoutMs: 15_000 });
    } finally {
      await runner.stop();
    }
    await tracing.forceFlush();
    const dlq = await jsm.streams.getMessage("tr_dlq", { seq: 1 });
    const traceId = traceIdOf(dlq?.header.get("ce-traceparent"))!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const trace = await waitFor(
      "the trace with its dead-letter span",
      async () => {
        const t = await jaeger.trace(traceId);
        return t && t.spans.some((s) => s.operationName === "publish dlq.tr") ? t : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const publish = trace.spans.find((s) => s.operationName === "publish tr.order.placed.v1")!;
    expect(publish).toBeDefined();
    expect(tag(publish, "span.kind")).toBe("producer");
    const attempts = trace.spans.filter((s) => s.operationName === "process tr.order.placed.v1").sort((a, b) => a.startTime - b.startTime);
    expect(attempts.map((s) => tag(s, "messaging.nats.message.delivery_count"))).toEqual([1, 2, 3]);
    expect(attempts.map((s) => tag(s, "messaging.nats.disposition"))).toEqual(["nak", "nak", "dead_letter"]);
    for (const a of attempts) {
      // Each delivery is a child of the publish and linked to it; Jaeger folds the two into one
      // FOLLOWS_FROM reference (a parent alone would be CHILD_OF).
      expect(a.references).toEqual([expect.objectContaining({ refType: "FOLLOWS_FROM", spanID: publish.spanID, traceID: traceId })]);
      expect(tag(a, "otel.status_code")).toBe("ERROR");
      expect(tag(a, "messaging.system")).toBe("nats");
      expect(tag(a, "messaging.destination.name")).toBe("tr.order.placed.v1");
      expect(a.startTime).toBeGreaterThanOrEqual(publish.startTime);
    }
    expect(tag(attempts[0]!, "otel.status_description")).toBe("the warehouse is on fire");
    expect(tag(attempts[2]!, "jetmesh.dead_letter.reason")).toBe("max_deliver");
    const dead = trace.spans.find((s) => s.operationName === "publish dlq.tr")!;
    expect(dead.references).toEqual([expect.objectContaining({ refType: "CHILD_OF", spanID: attempts[2]!.spanID })]);
    expect(tag(dead, "jetmesh.dead_letter.reason")).toBe("max_deliver");
    expect(tag(dead, "messaging.destination.name")).toBe("dlq.tr");
  });
});

describe("KV spans (traceKv)", () => {
  it("a span per read and write, a failed compare-and-set as an error; watches and listings pass through", async () => {
    const nats = await startNats();
    const nc = await connect({ servers: nats.url });
    try {
      const exporter = new InMemorySpanExporter();
      const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
      const raw = await new Kvm(nc).create("traced", { history: 1 });
      const kv = traceKv(raw, "traced", provider.getTracer("test"));
      await updateKv<{ n: number }>(kv, "k", (c) => ({ n: (c?.n ?? 0) + 1 }));
      await raw.put("k", JSON.stringify({ n: 5 }));
      await expect(kv.update("k", "{}", 1)).rejects.toThrow();
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      expect(keys).toEqual(["k"]);
      expect(traceKv(raw, "traced", undefined)).toBe(raw);
      const spans = exporter.getFinishedSpans().map((x) => ({ name: x.name, key: x.attributes["db.nats.kv.key"], error: x.status.code === 2 }));
      expect(spans).toEqual([
        { name: "get traced", key: "k", error: false },
        { name: "create traced", key: "k", error: false },
        { name: "update traced", key: "k", error: true },
      ]);
    } finally {
      await nc.close();
      await nats.destroy();
    }
  });
});
