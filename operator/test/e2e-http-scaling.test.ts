// Lag-based scaling of an HTTP subscriber (docs/http.md, docs/autoscaling.md), end to end: an
// EventSubscription with subscriber.http + subscriber.deployment (as examples/30-notifications.yaml),
// the operator with its autoscaler, a real nats-server, the jetmesh-dispatcher process
// (services/edge) with the env make dev derives from the subscription, and a slow HTTP
// subscriber (node:http, in this test) that holds every request until the test lets it answer.
// A backlog scales the subscriber's Deployment up through the scale subresource (Events, status);
// once the subscriber answers and the backlog is drained, it goes back to minReplicas. A
// subscriber answering 503 opens the dispatcher's circuit, and the autoscaler then holds the
// Deployment instead of scaling out, as for a TypeScript subscriber whose downstream fails. The
// Kubernetes side is the API test server, as in the other autoscaling tests (the scale
// subresource's behaviour is held to kube-apiserver's by testing/test/kube-differential.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server, type ServerResponse } from "node:http";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { freePort, waitFor } from "@jetmesh/testing";
import { newEvent, Publisher } from "@jetmesh/mesh";
import { parseAllDocuments } from "yaml";
import { shopDeployments, DISPATCHER_SUFFIX, type Manifest } from "../../testing/src/dev/manifests.ts";
import { CRDS, ROOT, startEnv, type Env } from "./harness.ts";

const NS = "hs";
const BACKLOG = 200;
const MAX_ACK_PENDING = 8;

const STREAMS = `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: events, namespace: ${NS} }
spec: { subjects: ["hs.>"] }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: dead-letters, namespace: ${NS} }
spec: { subjects: ["jetmesh.dlq.${NS}.>"] }
`;

/** A subscription pushed to the Service `name` (as examples/30-notifications.yaml), scaling the Deployment `name`. */
const subscription = (name: string, delivery: string) => `
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: ${name}, namespace: ${NS} }
spec:
  stream: events
  types: ["hs.${name}.v1"]
  delivery: { startFrom: all, ackWait: 30s, maxAckPending: ${MAX_ACK_PENDING}, ${delivery} }
  deadLetter: { stream: dead-letters }
  subscriber:
    deployment: ${name}
    http: { service: ${name}, port: 8080, path: /events, timeout: 20s }
  scaling: { minReplicas: 1, maxReplicas: 4, targetLagPerReplica: 50, maxDrainSeconds: 30, scaleDownStabilization: 2s, pollInterval: 200ms }
`;

/**
 * An HTTP subscriber that holds each request until `release()` (or, with `failing`, answers 503
 * at once), then answers 204 at once.
 */
class SlowSubscriber {
  readonly failing: boolean;
  constructor(opts: { failing?: boolean } = {}) {
    this.failing = opts.failing ?? false;
  }
  readonly ids: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  port = 0;
  private held: ServerResponse[] = [];
  private released = false;
  private server: Server | undefined;

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        this.ids.push(String(req.headers["ce-id"]));
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        res.on("close", () => this.inFlight--);
        if (this.released) res.writeHead(204).end();
        else if (this.failing) res.writeHead(503).end("downstream unavailable");
        else this.held.push(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  release(): void {
    this.released = true;
    for (const res of this.held.splice(0)) res.writeHead(204).end();
  }

  async stop(): Promise<void> {
    this.release();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
}

interface KubeEvent {
  reason: string;
  message: string;
}

let env: Env;
let nc: NatsConnection;
const subscribers: SlowSubscriber[] = [];
const dispatchers: ChildProcess[] = [];

beforeAll(async () => {
  env = await startEnv();
  nc = await connect({ servers: env.nats.url });
  await env.k(["apply", "-f", CRDS]);
  await env.k(["apply", "-f", "-"], STREAMS);
  await env.operator({ AUTOSCALE: "true" });
});

afterAll(async () => {
  for (const p of dispatchers) p.kill("SIGKILL");
  for (const s of subscribers) await s.stop();
  await nc?.close();
  await env?.stop();
});

/**
 * Applies the subscription and the Deployments make dev derives from it: the subscriber's own,
 * which the autoscaler scales, and the dispatcher's, whose env the dispatcher process started
 * here gets (its Service is `subscriber`, as make dev's proxy stands in for a Service).
 */
async function pushTo(name: string, delivery: string, subscriber: SlowSubscriber): Promise<{ output: () => string }> {
  subscribers.push(subscriber);
  const manifests = parseAllDocuments(subscription(name, delivery)).map((d) => d.toJS() as Manifest);
  const deployments = shopDeployments(manifests, { natsUrl: env.nats.url, logLevel: "warn", serviceUrl: () => `http://127.0.0.1:${subscriber.port}` });
  const subscriberDeployment = deployments.find((d) => d.metadata.name === name)!;
  const dispatcherDeployment = deployments.find((d) => d.metadata.name === `${name}${DISPATCHER_SUFFIX}`)!;
  await env.k(["apply", "-f", "-"], [...manifests, subscriberDeployment].map((m) => JSON.stringify(m)).join("\n---\n"));
  await env.k(["wait", "--for=condition=Ready", "-n", NS, `jmsub/${name}`, "--timeout=20s"]);

  const container = (dispatcherDeployment.spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } }).template.spec
    .containers[0]!;
  const dispatchEnv = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
  expect(dispatchEnv).toMatchObject({
    JETMESH_STREAM: `${NS}_events`,
    JETMESH_CONSUMER: `${NS}_${name}`,
    DISPATCH_URL: `http://127.0.0.1:${subscriber.port}/events`,
    DISPATCH_TIMEOUT: "20s",
  });
  const httpPort = await freePort();
  const proc = spawn(process.execPath, ["--conditions=source", `${ROOT}services/edge/src/main.ts`, "dispatcher"], {
    env: { PATH: process.env.PATH, ...dispatchEnv, HTTP_PORT: String(httpPort) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  dispatchers.push(proc);
  let out = "";
  proc.stdout?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  proc.stderr?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  await waitFor("dispatcher ready", async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok === true, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  // Idle: the autoscaler acts on the consumer's lag (as for any subscriber), at minReplicas.
  const idle = await waitFor("Scaling condition reported", async () => await env.condition("jmsub", NS, name, "Scaling"), {
    timeoutMs: 15_000,
    intervalMs: 200,
  });
  expect(idle).toMatchObject({ status: "True", reason: "Scaling" });
  expect(await replicas(name)).toBe(1);
  return { output: () => out };
}

/** `n` events of type hs.<name>.v1, published as the TypeScript runtime does; their ids. */
async function backlog(name: string, n: number): Promise<string[]> {
  const publisher = new Publisher(jetstream(nc));
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const e = newEvent({ type: `hs.${name}.v1`, source: "/tests/http-scaling", data: { n: i } });
      await publisher.publish(e);
      return e.id;
    }),
  );
}

const replicas = async (name: string): Promise<number | undefined> => (await env.getJson("deployment", NS, name))?.spec?.replicas;
const eventsOf = async (name: string): Promise<KubeEvent[]> =>
  (JSON.parse(await env.k(["get", "events", "-n", NS, "--field-selector", `involvedObject.name=${name}`, "-o", "json"])) as { items: KubeEvent[] }).items;
const scaleEvents = async (name: string): Promise<KubeEvent[]> => (await eventsOf(name)).filter((e) => e.reason === "ScaledUp" || e.reason === "ScaledDown");

describe("lag-based scaling of an HTTP subscriber (subscriber.http + subscriber.deployment)", () => {
  it("scales the subscriber's Deployment up on a backlog the dispatcher pushes, and back down once drained", async () => {
    const subscriber = await new SlowSubscriber().start();
    const { output } = await pushTo("notify", "maxDeliver: 5, backoff: [1s]", subscriber);

    // The backlog: the dispatcher takes maxAckPending of it and POSTs them; the subscriber holds them.
    const published = await backlog("notify", BACKLOG);
    await waitFor("maxAckPending requests held by the subscriber", () => subscriber.inFlight === MAX_ACK_PENDING, { timeoutMs: 15_000, intervalMs: 50 });

    // Lag 200 at 50 per replica: 4, the maxReplicas.
    await waitFor("subscriber Deployment scaled up to 4", async () => (await replicas("notify")) === 4, { timeoutMs: 20_000, intervalMs: 200 });
    const up = await waitFor(
      "status shows the scale and the lag",
      async () => {
        const s = (await env.getJson("jmsub", NS, "notify"))?.status;
        return s?.replicas?.desired === 4 && s.replicas.current === 4 ? s : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(up.lag).toMatchObject({ pending: BACKLOG - MAX_ACK_PENDING, ackPending: MAX_ACK_PENDING });
    expect(up.conditions.find((c: { type: string }) => c.type === "Scaling")).toMatchObject({ status: "True" });
    expect(up.conditions.find((c: { type: string }) => c.type === "Ready")).toMatchObject({ status: "True" });
    const ups = (await scaleEvents("notify")).filter((e) => e.reason === "ScaledUp");
    expect(ups.at(-1)?.message).toMatch(/^Scaled Deployment notify from [1-3] to 4: lag \d+ at 50 per replica: 4$/);
    // The subscriber never saw more than maxAckPending requests at once, whatever the replicas.
    expect(subscriber.maxInFlight).toBe(MAX_ACK_PENDING);

    // The subscriber answers: the backlog drains, each event delivered.
    subscriber.release();
    const jsm = await jetstreamManager(nc);
    await waitFor(
      "backlog drained",
      async () => {
        const c = await jsm.consumers.info(`${NS}_events`, `${NS}_notify`);
        return c.num_pending === 0 && c.num_ack_pending === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${subscriber.ids.length} requests; dispatcher output:\n${output().slice(-4000)}`);
    });
    expect(new Set(subscriber.ids)).toEqual(new Set(published));

    // Held by the 2 s stabilization window, then down to minReplicas.
    await waitFor("subscriber Deployment back to minReplicas", async () => (await replicas("notify")) === 1, { timeoutMs: 20_000, intervalMs: 200 });
    const down = await waitFor(
      "status shows the scale-down",
      async () => {
        const s = (await env.getJson("jmsub", NS, "notify"))?.status;
        return s?.replicas?.desired === 1 && s.lag?.pending === 0 && s.lag.ackPending === 0 ? s : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(down.replicas.current).toBe(1);
    const downs = await waitFor("ScaledDown Events", async () => {
      const d = (await scaleEvents("notify")).filter((e) => e.reason === "ScaledDown");
      return d.length > 0 ? d : undefined;
    });
    // Step by step (at most halving), as for any subscriber. The reason names the measured rate
    // per replica when the autoscaler had one ("keep up with …"), else the lag floor ("lag 0 at
    // 50 per replica") — which one depends on how many polls saw the subscriber saturated.
    expect(downs.at(-1)?.message).toMatch(/^Scaled Deployment notify from [23] to 1: (keep up with .* per replica \(lag 0\)|lag 0 at 50 per replica: 1)/);
    // Nothing was dead-lettered on the way.
    expect((await jsm.streams.info(`${NS}_dead-letters`)).state.messages).toBe(0);
  }, 120_000);
  it("does not scale out while the dispatcher's circuit is open on a failing HTTP subscriber, as for a TypeScript subscriber", async () => {
    // 503 every time: the dispatcher's circuit opens after 3 failures in a row (the consumer's
    // circuitBreaker, passed in its metadata), and it stops fetching: the events wait in the stream.
    const subscriber = await new SlowSubscriber({ failing: true }).start();
    const { output } = await pushTo(
      "flaky",
      "maxDeliver: 50, backoff: [200ms], circuitBreaker: { failureThreshold: 3, window: 30s, coolDown: 1s }",
      subscriber,
    );
    // A few events first (lag 5: no scale-out wanted): they open the circuit.
    const published = await backlog("flaky", 5);
    const open = await waitFor(
      "CircuitOpen=True on the subscription",
      async () => {
        const c = await env.condition("jmsub", NS, "flaky", "CircuitOpen");
        return c?.status === "True" ? c : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${subscriber.ids.length} requests; dispatcher output:\n${output().slice(-4000)}`);
    });
    expect(open.message).toMatch(/jetmesh-dispatcher reports the circuit (open|half-open)/);
    // Then the backlog: lag 200 at 50 per replica would be 4 replicas.
    published.push(...(await backlog("flaky", BACKLOG - 5)));
    // Held at 1, and said why.
    const held = await waitFor(
      "Scaling=False CircuitOpen with a lag that would scale out",
      async () => {
        const c = await env.condition("jmsub", NS, "flaky", "Scaling");
        return c?.reason === "CircuitOpen" ? c : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\nScaling: ${JSON.stringify(await env.condition("jmsub", NS, "flaky", "Scaling"))}\nreplicas: ${await replicas("flaky")}`);
    });
    expect(held).toMatchObject({ status: "False" });
    expect(held.message).toMatch(/^not scaling out Deployment flaky beyond 1 replicas \(it would run [2-4]: lag \d+ at 50 per replica/);
    expect(await replicas("flaky")).toBe(1);
    expect((await eventsOf("flaky")).some((e) => e.reason === "CircuitOpen" && /not scaling out/.test(e.message))).toBe(true);
    expect((await scaleEvents("flaky")).filter((e) => e.reason === "ScaledUp")).toEqual([]);

    // The subscriber recovers: the next probe closes the circuit and the backlog drains.
    subscriber.release();
    await waitFor("CircuitOpen=False again", async () => (await env.condition("jmsub", NS, "flaky", "CircuitOpen"))?.status === "False", {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    const jsm = await jetstreamManager(nc);
    await waitFor(
      "backlog drained",
      async () => {
        const c = await jsm.consumers.info(`${NS}_events`, `${NS}_flaky`);
        return c.num_pending === 0 && c.num_ack_pending === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(new Set(subscriber.ids)).toEqual(new Set(published));
    const dlq = await jsm.streams.info(`${NS}_dead-letters`, { subjects_filter: `jetmesh.dlq.${NS}.flaky` });
    expect(dlq.state.subjects?.[`jetmesh.dlq.${NS}.flaky`] ?? 0).toBe(0);
  }, 120_000);
});
