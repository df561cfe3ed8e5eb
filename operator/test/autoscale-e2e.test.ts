// End to end with real pieces: a real nats-server (stream + durable pull consumer), the
// Kubernetes API test server holding a Deployment, and a SubscriptionAutoscaler with the real
// JetStreamLagSource and DeploymentScaleTarget. A burst scales the Deployment's `scale` up;
// once the test (standing in for the replicas) consumes and acks the lag, it scales back down.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { natsJetStreamAdmin } from "../src/jetstream/admin.ts";
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { Registry } from "prom-client";
import { KubeRest, type RequestObservation } from "../src/kube/rest.ts";
import { startNats, startKubeApiServer, waitFor, type NatsCluster, type KubeApiServer } from "@jetmesh/testing";
import {
  combineReporters,
  createAutoscaleMetrics,
  DeploymentScaleTarget,
  JetStreamLagSource,
  metricsReporter,
  parseScalingPolicy,
  SubscriptionAutoscaler,
  type AutoscaleStatus,
  type ScaleEvent,
  type ScalingTarget,
} from "../src/autoscale/index.ts";

const NS = "e2e";
const STREAM = "e2e_events";
const CONSUMER = "e2e_worker";

let nats: NatsCluster;
let kube: KubeApiServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let apps: AppsV1Api;
let kc: KubeConfig;

beforeAll(async () => {
  [nats, kube] = await Promise.all([startNats(), startKubeApiServer()]);
  nc = await connect({ servers: nats.nodes[0]!.url });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAM, subjects: ["e2e.>"] });
  await jsm.consumers.add(STREAM, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit, filter_subject: "e2e.work.>", max_ack_pending: 1000 });
  await jsm.consumers.add(STREAM, { durable_name: "e2e_idle", ack_policy: AckPolicy.Explicit, filter_subject: "e2e.idle.>" });
  kc = new KubeConfig();
  kc.loadFromFile(kube.kubeconfigPath);
  apps = kc.makeApiClient(AppsV1Api);
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  for (const [name, replicas] of [
    ["worker", 1],
    ["idle", 0],
  ] as const) {
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `${name}:dev` }] } },
        },
      },
    });
  }
});

afterAll(async () => {
  await nc?.close();
  await Promise.all([nats?.stop(), kube?.stop()]);
});

describe("autoscaling end to end (nats-server + API test server)", () => {
  it("reads lag from the real consumer, and reports a missing consumer as missing", async () => {
    const lag = new JetStreamLagSource(() => natsJetStreamAdmin(jsm));
    expect(await lag.read(STREAM, "no_such_consumer")).toBeNull();
    expect(await lag.read("no_such_stream", CONSUMER)).toBeNull();
    const js = jetstream(nc);
    await js.publish("e2e.other.x", "not for this consumer");
    await js.publish("e2e.work.x", "one");
    // nats-server 2.11+ updates a consumer's num_pending a moment after the publish is acked.
    const before = await waitFor("the matching message counted", async () => {
      const l = await lag.read(STREAM, CONSUMER);
      return l?.pending === 1 ? l : undefined;
    });
    expect(before).toMatchObject({ pending: 1, ackPending: 0, paused: false });
    const c = await js.consumers.get(STREAM, CONSUMER);
    const m = await c.next({ expires: 2000 });
    await m!.ackAck();
    expect(await lag.read(STREAM, CONSUMER)).toMatchObject({ pending: 0, ackPending: 0, ackFloorConsumerSeq: 1 });
  });

  it("scales the Deployment up on a burst, back down after the lag is consumed, and leaves a person's choice alone", async () => {
    const statuses: AutoscaleStatus[] = [];
    const events: ScaleEvent[] = [];
    const registry = new Registry();
    // Every API call of the scale target goes through KubeRest (and so into rest_client_requests_total).
    const requests: RequestObservation[] = [];
    const target: ScalingTarget = {
      namespace: NS,
      subscription: "worker",
      stream: STREAM,
      consumer: CONSUMER,
      deployment: "worker",
      policy: parseScalingPolicy({
        minReplicas: 1,
        maxReplicas: 8,
        targetLagPerReplica: 50,
        maxDrainSeconds: 10,
        scaleDownStabilization: "2s",
        pollInterval: "200ms",
      }),
    };
    const autoscaler = new SubscriptionAutoscaler(target, {
      lagSource: new JetStreamLagSource(() => natsJetStreamAdmin(jsm)),
      scaleTarget: new DeploymentScaleTarget(new KubeRest(kc, { onRequest: (r) => void requests.push(r) })),
      reporter: combineReporters(
        { status: (_t, s) => void statuses.push(s), event: (_t, e) => void events.push(e) },
        metricsReporter(createAutoscaleMetrics(registry)),
      ),
      statusRefreshMs: 0,
    });
    const replicas = async () => (await apps.readNamespacedDeploymentScale({ name: "worker", namespace: NS })).spec?.replicas;
    // Burst: 500 matching messages, nobody consuming. Published, and counted by the consumer
    // (nats-server 2.11+ counts a moment after the publish acks), before the autoscaler starts,
    // so its first poll sees all of it (a poll between the publishes saw part: "lag 404").
    const js = jetstream(nc);
    await Promise.all(Array.from({ length: 500 }, (_, i) => js.publish(`e2e.work.${i % 7}`, `m${i}`)));
    await waitFor("burst counted as pending", async () => (await jsm.consumers.info(STREAM, CONSUMER)).num_pending === 500);
    autoscaler.start();
    try {
      // Lag floor 500/50 = 10 → max 8, reached through the rate limit (1 → 5 → 8).
      await waitFor("scale-up to maxReplicas", async () => (await replicas()) === 8, { timeoutMs: 10_000 });
      expect(events.filter((e) => e.reason === "ScaledUp").map((e) => e.message)).toEqual([
        expect.stringMatching(/from 1 to 5: lag 500 at 50 per replica: 10, capped at maxReplicas: 8, limited to 5 by the scale-up rate/),
        expect.stringMatching(/from 5 to 8/),
      ]);
      expect(statuses.at(-1)).toMatchObject({ condition: { type: "Scaling", status: "True" }, replicas: { current: 8, desired: 8 }, lag: { pending: 500 } });
      expect((await registry.getSingleMetric("jetmesh_subscription_lag_messages")!.get()).values[0]?.value).toBe(500);
      // Two scale writes (1 → 5 → 8) through KubeRest, each answered 200, after reads of the scale and the Deployment.
      const path = `/apis/apps/v1/namespaces/${NS}/deployments/worker`;
      expect(requests.filter((r) => r.method === "PATCH").map((r) => [r.path, r.status])).toEqual([
        [`${path}/scale?fieldManager=jetmesh-autoscaler`, 200],
        [`${path}/scale?fieldManager=jetmesh-autoscaler`, 200],
      ]);
      expect(requests.some((r) => r.method === "GET" && r.path === `${path}/scale` && r.status === 200)).toBe(true);
      expect(requests.some((r) => r.method === "GET" && r.path === path && r.status === 200)).toBe(true);

      // The "replicas" consume and ack everything.
      const c = await js.consumers.get(STREAM, CONSUMER);
      let acked = 0;
      while (acked < 500) {
        const batch = await c.fetch({ max_messages: 200, expires: 1000 });
        for await (const m of batch) {
          m.ack();
          acked++;
        }
      }
      await waitFor("lag consumed", async () => (await jsm.consumers.info(STREAM, CONSUMER)).num_ack_pending === 0, { timeoutMs: 5000 });
      // Held by the 2 s stabilization window (released step by step over it), then down to minReplicas.
      await waitFor("scale-down to minReplicas", async () => (await replicas()) === 1, { timeoutMs: 10_000 });
      const atMax = statuses.findIndex((s) => s.replicas?.current === 8);
      const atMin = statuses.findIndex((s, i) => i > atMax && s.replicas !== undefined && s.replicas.current === 1);
      expect(statuses.slice(atMax, atMin + 1).some((s) => /held at [2-8] by 2s scale-down stabilization/.test(s.condition.message))).toBe(true);
      expect(events.some((e) => e.reason === "ScaledDown")).toBe(true);

      // A person scales to 20, outside [1, 8]: left alone, with a condition that says why.
      await apps.patchNamespacedDeploymentScale(
        { name: "worker", namespace: NS, body: { spec: { replicas: 20 } } },
        (await import("@kubernetes/client-node")).setHeaderOptions("Content-Type", "application/merge-patch+json"),
      );
      await waitFor("ManualOverride condition", () => statuses.at(-1)?.condition.reason === "ManualOverride", { timeoutMs: 5000 });
      // Three more polls (a status per poll with statusRefreshMs 0) and still the person's 20.
      const seen = statuses.length;
      await waitFor("3 more autoscaler polls", () => statuses.length >= seen + 3, { timeoutMs: 10_000 });
      expect(new Set(statuses.slice(seen).map((s) => s.condition.reason))).toEqual(new Set(["ManualOverride"]));
      expect(await replicas()).toBe(20);
    } finally {
      await autoscaler.stop();
    }
  });

  it("activates a Deployment at zero on the first message and returns it to zero when idle", async () => {
    const events: ScaleEvent[] = [];
    let polls = 0;
    const autoscaler = new SubscriptionAutoscaler(
      {
        namespace: NS,
        subscription: "idle",
        stream: STREAM,
        consumer: "e2e_idle",
        deployment: "idle",
        policy: parseScalingPolicy({ minReplicas: 0, maxReplicas: 3, scaleDownStabilization: "1s", pollInterval: "200ms" }),
      },
      {
        lagSource: new JetStreamLagSource(() => natsJetStreamAdmin(jsm)),
        scaleTarget: new DeploymentScaleTarget(new KubeRest(kc)),
        reporter: { status: () => undefined, event: (_t, e) => void events.push(e), observe: () => void polls++ },
      },
    );
    const replicas = async () => (await apps.readNamespacedDeploymentScale({ name: "idle", namespace: NS })).spec?.replicas;
    autoscaler.start();
    try {
      await waitFor("3 autoscaler polls", () => polls >= 3, { timeoutMs: 10_000 });
      expect(await replicas()).toBe(0); // idle stays at zero
      expect(events).toEqual([]);
      const js = jetstream(nc);
      await js.publish("e2e.idle.ping", "wake up");
      await waitFor("activation 0 → 1", async () => (await replicas()) === 1, { timeoutMs: 5000 });
      expect(events[0]?.message).toMatch(/from 0 to 1: activation: lag 1/);
      const m = await (await js.consumers.get(STREAM, "e2e_idle")).next({ expires: 2000 });
      await m!.ackAck();
      await waitFor("back to zero", async () => (await replicas()) === 0, { timeoutMs: 10_000 });
    } finally {
      await autoscaler.stop();
    }
  });
});
