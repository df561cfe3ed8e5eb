// The circuit breaker: the pure state machine (table-driven), and the runner holding a
// subscription's messages while its downstream fails — nothing fetched while open, one probe
// after the cool-down, everything handled once it closes, nothing dead-lettered for it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Registry } from "prom-client";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import {
  CIRCUIT_BUCKET,
  CIRCUIT_BREAKER_METADATA_KEY,
  CircuitBreaker,
  ConsumerRunner,
  encodeBinary,
  newEvent,
  parseCircuitBreaker,
  Publisher,
  toMsgHdrs,
  TransientError,
  type CircuitReport,
} from "@jetmesh/mesh";

describe("CircuitBreaker", () => {
  const settings = { failureThreshold: 3, windowMs: 1000, coolDownMs: 500 };
  const steps: { name: string; run: (b: CircuitBreaker, clock: { t: number }) => void; state: string }[] = [
    { name: "stays closed below the threshold", run: (b) => [1, 2].forEach(() => b.failure("x")), state: "closed" },
    { name: "opens at the threshold within the window", run: (b) => [1, 2, 3].forEach(() => b.failure("x")), state: "open" },
    {
      name: "failures older than the window do not count",
      run: (b, c) => {
        b.failure("x");
        b.failure("x");
        c.t += 1001;
        b.failure("x");
      },
      state: "closed",
    },
    {
      name: "a success resets the count (consecutive failures: a partial failure rate is for retries)",
      run: (b) => (b.failure("x"), b.failure("x"), b.success(), b.failure("x")),
      state: "closed",
    },
    {
      name: "no probe before the cool-down",
      run: (b, c) => {
        [1, 2, 3].forEach(() => b.failure("x"));
        c.t += 499;
        b.probe();
      },
      state: "open",
    },
    {
      name: "half-open after the cool-down",
      run: (b, c) => {
        [1, 2, 3].forEach(() => b.failure("x"));
        c.t += 500;
        b.probe();
      },
      state: "half_open",
    },
    {
      name: "a failed probe opens it again for another cool-down",
      run: (b, c) => {
        [1, 2, 3].forEach(() => b.failure("x"));
        c.t += 500;
        b.probe();
        b.failure("still down");
        expect(b.coolDownLeftMs()).toBe(500);
        expect(b.reason).toMatch(/probe failed: still down/);
      },
      state: "open",
    },
    {
      name: "a successful probe closes it",
      run: (b, c) => {
        [1, 2, 3].forEach(() => b.failure("x"));
        c.t += 500;
        b.probe();
        b.success();
      },
      state: "closed",
    },
  ];
  for (const s of steps) {
    it(s.name, () => {
      const clock = { t: 1_000_000 };
      const b = new CircuitBreaker(settings, () => clock.t);
      s.run(b, clock);
      expect(b.state).toBe(s.state);
    });
  }

  it("parses the consumer metadata the operator writes, and refuses a malformed one (no breaker)", () => {
    expect(parseCircuitBreaker("failureThreshold=10,window=10s,coolDown=1m30s")).toEqual({ failureThreshold: 10, windowMs: 10_000, coolDownMs: 90_000 });
    expect(parseCircuitBreaker("failureThreshold=0,window=10s,coolDown=5s")).toBeUndefined();
    expect(parseCircuitBreaker("failureThreshold=3,window=soon,coolDown=5s")).toBeUndefined();
    expect(parseCircuitBreaker(undefined)).toBeUndefined();
  });
});

describe("ConsumerRunner with a circuit breaker", () => {
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

  it("stops fetching while open, probes with one message after the cool-down, and handles everything once closed", async () => {
    await jsm.streams.add({ name: "cb", subjects: ["cb.>"] });
    await jsm.streams.add({ name: "cb_dlq", subjects: ["dlq.cb"] });
    await jsm.consumers.add("cb", {
      durable_name: "runner",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 4,
      // A message on the wire when the pull closes comes back after the ack wait.
      ack_wait: nanos(3000),
      metadata: { [CIRCUIT_BREAKER_METADATA_KEY]: "failureThreshold=5,window=10s,coolDown=1s" },
    });
    let down = true;
    let attempts = 0;
    const handled = new Set<string>();
    const registry = new Registry();
    const runner = new ConsumerRunner({
      js,
      stream: "cb",
      consumer: "runner",
      publisher: new Publisher(js),
      deadLetterSubject: "dlq.cb",
      registry,
      service: "svc",
      concurrency: 4,
      handlers: {
        "cb.charge.v1": async (e) => {
          attempts++;
          if (down) throw new TransientError("processor down", { delayMs: 100 });
          handled.add(e.id);
        },
      },
    });
    await runner.start();
    const N = 60;
    for (let i = 0; i < N; i++) {
      const e = newEvent({ type: "cb.charge.v1", source: "test", data: { i } });
      const m = encodeBinary(e);
      await js.publish(m.subject, m.payload, { headers: toMsgHdrs(m.headers) });
    }
    await waitFor("circuit open", async () => runner.circuitState === "open", { timeoutMs: 10_000, intervalMs: 20 });
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/jetmesh_circuit_state\{service="svc",consumer="runner"\} 2/);
    expect(metrics).toMatch(/jetmesh_circuit_opened_total\{service="svc",consumer="runner"\} 1/);
    // The operator sees it in the KV bucket.
    const kv = await new Kvm(js).open(CIRCUIT_BUCKET);
    const report = await waitFor(
      "circuit reported",
      async () => {
        for await (const k of await kv.keys("runner.>")) {
          const v = await kv.get(k);
          if (v?.operation === "PUT") return v.json<CircuitReport>();
        }
        return undefined;
      },
      { timeoutMs: 5000, intervalMs: 50 },
    );
    expect(report.state).toMatch(/open|half_open/);
    expect(report.reason).toMatch(/consecutive transient failures within 10s, last: processor down/);

    // While open and probing, attempts grow by single probes, not by the backlog.
    await waitFor("a failed probe", async () => (await registry.metrics()).includes('jetmesh_circuit_opened_total{service="svc",consumer="runner"} 2'), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const ci = await jsm.consumers.info("cb", "runner");
    expect(ci.num_pending + ci.num_ack_pending).toBeGreaterThan(N / 2);
    const before = attempts;
    await waitFor("another failed probe", async () => (await registry.metrics()).includes('jetmesh_circuit_opened_total{service="svc",consumer="runner"} 3'), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(attempts - before).toBeLessThanOrEqual(4 + 1);

    down = false;
    await waitFor("circuit closed", async () => runner.circuitState === "closed", { timeoutMs: 10_000, intervalMs: 20 });
    await waitFor("every message handled", async () => handled.size === N, { timeoutMs: 20_000, intervalMs: 50 }).catch(async (err: unknown) => {
      const c = await jsm.consumers.info("cb", "runner");
      throw new Error(
        `${String(err)}; handled ${handled.size}, state ${runner.circuitState}, pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, waiting ${c.num_waiting}, dlq ${(await jsm.streams.info("cb_dlq")).state.messages}`,
      );
    });
    await waitFor(
      "report removed",
      async () => {
        for await (const k of await kv.keys("runner.>")) if ((await kv.get(k))?.operation === "PUT") return false;
        return true;
      },
      { timeoutMs: 5000, intervalMs: 50 },
    );
    // Held, not dead-lettered: nothing reached the dead-letter subject.
    expect((await jsm.streams.info("cb_dlq")).state.messages).toBe(0);
    expect(await registry.metrics()).toMatch(/jetmesh_circuit_state\{service="svc",consumer="runner"\} 0/);
    await runner.stop();
  });
});
