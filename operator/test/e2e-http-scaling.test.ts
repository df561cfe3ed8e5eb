// Lag-based scaling of an HTTP subscriber (docs/http.md, docs/autoscaling.md), end to end: an
// EventSubscription with subscriber.http + subscriber.deployment (as examples/30-notifications.yaml),
// the operator with its autoscaler, a real nats-server, the jetmesh-dispatcher process
// (services/edge) with the env make dev derives from the subscription, and a slow HTTP
// subscriber (node:http, in this test) that holds every request until the test lets it answer.
// A backlog scales the subscriber's Deployment up through the scale subresource (Events, status);
// once the subscriber answers and the backlog is drained, it goes back to minReplicas. The
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
const TYPE = "hs.shipment.dispatched.v1";
const BACKLOG = 200;
const MAX_ACK_PENDING = 8;

const MANIFESTS = `
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
---
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: notify, namespace: ${NS} }
spec:
  stream: events
  types: ["${TYPE}"]
  delivery: { startFrom: all, ackWait: 30s, maxDeliver: 5, backoff: [1s], maxAckPending: ${MAX_ACK_PENDING} }
  deadLetter: { stream: dead-letters }
  subscriber:
    deployment: notify
    http: { service: notify, port: 8080, path: /events, timeout: 20s }
  scaling: { minReplicas: 1, maxReplicas: 4, targetLagPerReplica: 50, maxDrainSeconds: 30, scaleDownStabilization: 2s, pollInterval: 200ms }
`;

/** An HTTP subscriber that holds each request until `release()`, then answers 204 at once. */
class SlowSubscriber {
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
let subscriber: SlowSubscriber;
let dispatcher: { proc: ChildProcess; output: () => string } | undefined;

beforeAll(async () => {
  env = await startEnv();
  subscriber = await new SlowSubscriber().start();
  nc = await connect({ servers: env.nats.url });
  await env.k(["apply", "-f", CRDS]);
  await env.operator({ AUTOSCALE: "true" });
});

afterAll(async () => {
  dispatcher?.proc.kill("SIGKILL");
  await subscriber?.stop();
  await nc?.close();
  await env?.stop();
});

const replicas = async (): Promise<number | undefined> => (await env.getJson("deployment", NS, "notify"))?.spec?.replicas;
const scaleEvents = async (): Promise<KubeEvent[]> =>
  (JSON.parse(await env.k(["get", "events", "-n", NS, "--field-selector", "involvedObject.name=notify", "-o", "json"])) as { items: KubeEvent[] }).items.filter(
    (e) => e.reason === "ScaledUp" || e.reason === "ScaledDown",
  );

describe("lag-based scaling of an HTTP subscriber (subscriber.http + subscriber.deployment)", () => {
  it("scales the subscriber's Deployment up on a backlog the dispatcher pushes, and back down once drained", async () => {
    const manifests = parseAllDocuments(MANIFESTS).map((d) => d.toJS() as Manifest);
    // The Deployments make dev derives from the subscription: the subscriber's own, which the
    // autoscaler scales, and the dispatcher's, whose env the dispatcher process gets here (its
    // Service is this test's subscriber, as make dev's proxy stands in for a Service).
    const deployments = shopDeployments(manifests, {
      natsUrl: env.nats.url,
      logLevel: "warn",
      serviceUrl: () => `http://127.0.0.1:${subscriber.port}`,
    });
    const subscriberDeployment = deployments.find((d) => d.metadata.name === "notify")!;
    const dispatcherDeployment = deployments.find((d) => d.metadata.name === `notify${DISPATCHER_SUFFIX}`)!;
    await env.k(["apply", "-f", "-"], [...manifests, subscriberDeployment].map((m) => JSON.stringify(m)).join("\n---\n"));
    await env.k(["wait", "--for=condition=Ready", "-n", NS, "jmsub/notify", "--timeout=20s"]);

    const container = (dispatcherDeployment.spec as { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } }).template.spec
      .containers[0]!;
    const dispatchEnv = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    expect(dispatchEnv).toMatchObject({
      JETMESH_STREAM: `${NS}_events`,
      JETMESH_CONSUMER: `${NS}_notify`,
      DISPATCH_URL: `http://127.0.0.1:${subscriber.port}/events`,
      DISPATCH_TIMEOUT: "20s",
    });
    const httpPort = await freePort();
    const proc = spawn(process.execPath, ["--conditions=source", `${ROOT}services/edge/src/main.ts`, "dispatcher"], {
      env: { PATH: process.env.PATH, ...dispatchEnv, HTTP_PORT: String(httpPort) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
    proc.stderr?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
    dispatcher = { proc, output: () => out };
    await waitFor("dispatcher ready", async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok === true, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });

    // Idle: the autoscaler acts on the consumer's lag (as for any subscriber), at minReplicas.
    const idle = await waitFor("Scaling condition reported", async () => await env.condition("jmsub", NS, "notify", "Scaling"), {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    expect(idle).toMatchObject({ status: "True", reason: "Scaling" });
    expect(await replicas()).toBe(1);

    // The backlog: the dispatcher takes maxAckPending of it and POSTs them; the subscriber holds them.
    const publisher = new Publisher(jetstream(nc));
    const published = await Promise.all(
      Array.from({ length: BACKLOG }, async (_, n) => {
        const e = newEvent({ type: TYPE, source: "/tests/http-scaling", data: { n } });
        await publisher.publish(e);
        return e.id;
      }),
    );
    await waitFor("maxAckPending requests held by the subscriber", () => subscriber.inFlight === MAX_ACK_PENDING, { timeoutMs: 15_000, intervalMs: 50 });

    // Lag 200 at 50 per replica: 4, the maxReplicas.
    await waitFor("subscriber Deployment scaled up to 4", async () => (await replicas()) === 4, { timeoutMs: 20_000, intervalMs: 200 });
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
    const ups = (await scaleEvents()).filter((e) => e.reason === "ScaledUp");
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
      throw new Error(`${String(err)}\n${subscriber.ids.length} requests; dispatcher output:\n${out.slice(-4000)}`);
    });
    expect(new Set(subscriber.ids)).toEqual(new Set(published));

    // Held by the 2 s stabilization window, then down to minReplicas.
    await waitFor("subscriber Deployment back to minReplicas", async () => (await replicas()) === 1, { timeoutMs: 20_000, intervalMs: 200 });
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
      const d = (await scaleEvents()).filter((e) => e.reason === "ScaledDown");
      return d.length > 0 ? d : undefined;
    });
    // Step by step (at most halving), as for any subscriber; the rate per replica is the one
    // the dispatcher's acks showed while the subscriber answered.
    expect(downs.at(-1)?.message).toMatch(/^Scaled Deployment notify from [23] to 1: keep up with .* per replica \(lag 0\)/);
    // Nothing was dead-lettered on the way.
    expect((await jsm.streams.info(`${NS}_dead-letters`)).state.messages).toBe(0);
  }, 120_000);
});
