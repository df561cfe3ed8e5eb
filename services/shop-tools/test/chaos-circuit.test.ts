// Circuit breaking end to end: the operator (AUTOSCALE on) reconciles the shop's examples on the
// API test server and a real nats-server, the shop runs as processes, and the payment
// processor fails every call (the shop's fault switch PAYMENT_FAILURE_RATE=1) under open-loop
// load. Its circuit opens, the subscription says CircuitOpen, the autoscaler holds the payment
// Deployment at 1 replica although the lag would call for more (Scaling=False CircuitOpen),
// nothing is dead-lettered for it; once the processor is healthy again (a payment process
// without the fault replaces it) the circuit closes, the backlog drains, every accepted order
// finishes once, and the invariant checker is clean. Every step waits for a condition.
import { afterAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, startKubeApiServer, startNats, waitFor } from "@jetmesh/testing";
import { CIRCUIT_BREAKER_METADATA_KEY } from "@jetmesh/mesh";
import { DEAD_LETTER_STREAM, SHOP_STREAM, serviceEnv } from "@jetmesh/shop";
import { account, chaosLoad, ChaosShop, CHAOS_RATE, record } from "./chaos-harness.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const ROOT = new URL("../../../", import.meta.url);
type Obj = Record<string, any>;

describe("circuit breaking", () => {
  it(
    "payment's processor fails 100% under load: circuit opens, replicas held, nothing lost or charged twice, backlog drains after recovery",
    { timeout: 240_000 },
    async () => {
      const kube = await startKubeApiServer();
      cleanups.push(() => kube.stop());
      const nats = await startNats();
      cleanups.push(() => nats.destroy());
      const api = (path: string, init?: RequestInit) => fetch(`${kube.url}${path}`, init);
      const post = async (obj: Obj) => {
        const [group, version] = String(obj.apiVersion).includes("/") ? String(obj.apiVersion).split("/") : ["", obj.apiVersion];
        const plural = {
          Namespace: "namespaces",
          EventStream: "eventstreams",
          EventSubscription: "eventsubscriptions",
          CustomResourceDefinition: "customresourcedefinitions",
          Deployment: "deployments",
        }[obj.kind as string]!;
        const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : "";
        const res = await api(`${group ? `/apis/${group}/${version}` : `/api/${version}`}${ns}/${plural}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(obj),
        });
        expect(res.status, await res.clone().text()).toBe(201);
      };
      const docs = (f: string) =>
        parseAllDocuments(readFileSync(new URL(f, ROOT), "utf8"))
          .map((d) => d.toJS() as Obj)
          .filter(Boolean);
      for (const f of [
        "crds/eventstreams.jetmesh.io.yaml",
        "crds/eventsubscriptions.jetmesh.io.yaml",
        "examples/00-namespace.yaml",
        "examples/10-streams.yaml",
        "examples/20-subscriptions.yaml",
      ]) {
        for (const d of docs(f)) {
          if (d.kind === "EventSubscription" && d.metadata.name === "payment") {
            // A short cool-down, so the open circuit probes several times within the scenario.
            d.spec.delivery.circuitBreaker = { failureThreshold: 10, window: "30s", coolDown: "2s" };
            d.spec.scaling.pollInterval = "500ms";
          }
          await post(d);
        }
      }
      // The scale target (no kubelet here: its replica count is what the test watches).
      await post({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "payment", namespace: "shop" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "payment" } },
          template: { metadata: { labels: { app: "payment" } }, spec: { containers: [{ name: "payment", image: "payment:dev" }] } },
        },
      });
      const port = await freePort();
      const operator = spawn(process.execPath, ["--conditions=source", new URL("operator/src/main.ts", ROOT).pathname], {
        env: {
          ...process.env,
          KUBECONFIG: kube.kubeconfigPath,
          NATS_URL: nats.url,
          HTTP_HOST: "127.0.0.1",
          HTTP_PORT: String(port),
          RESYNC_SECONDS: "2",
          POD_NAMESPACE: "shop",
          AUTOSCALE: "true",
          LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "ignore"],
      });
      const exited = new Promise<void>((r) => operator.once("exit", () => r()));
      cleanups.push(async () => {
        operator.kill("SIGKILL");
        await exited;
      });

      const sub = async () => (await (await api("/apis/jetmesh.io/v1alpha1/namespaces/shop/eventsubscriptions/payment")).json()) as Obj;
      const condition = async (type: string) => ((await sub()).status?.conditions as Obj[] | undefined)?.find((c) => c.type === type);
      const replicas = async () => ((await (await api("/apis/apps/v1/namespaces/shop/deployments/payment")).json()) as Obj).spec.replicas as number;
      const nc = await connect({ servers: nats.url });
      cleanups.push(() => nc.close());
      const jsm = await jetstreamManager(nc);
      await waitFor(
        "payment's consumer carries the circuit breaker",
        async () => {
          const c = await jsm.consumers.info(SHOP_STREAM, "shop_payment").catch(() => undefined);
          return c?.config.metadata?.[CIRCUIT_BREAKER_METADATA_KEY] === "failureThreshold=10,window=30s,coolDown=2s";
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );

      const shop = await ChaosShop.start(nats.url, { payment: 0 });
      cleanups.push(() => shop.stop());
      const failing = await shop.spawn("payment", {
        ...serviceEnv("payment", nats.url, await freePort()),
        HTTP_HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        PAYMENT_FAILURE_RATE: "1",
      });
      const load = chaosLoad(shop, 120_000);

      const open = await waitFor(
        "CircuitOpen=True on shop/payment",
        async () => {
          const c = await condition("CircuitOpen");
          return c?.status === "True" ? c : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      expect(open.message).toMatch(/simulated processor timeout/);
      const metrics = await (await fetch(`${failing.url}/metrics`)).text();
      expect(metrics).toMatch(/jetmesh_circuit_state\{service="payment",consumer="shop_payment"\} [12]/);

      // The lag would call for more replicas; the autoscaler says why it holds them.
      let most = 1;
      const held = await waitFor(
        "Scaling=False CircuitOpen with a lag that would scale out",
        async () => {
          most = Math.max(most, await replicas());
          const c = await condition("Scaling");
          const lag = (await sub()).status?.lag;
          return c?.reason === "CircuitOpen" && lag && lag.pending + lag.ackPending > 100 ? c : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      expect(held.message).toMatch(/not scaling out Deployment payment beyond 1 replicas \(it would run [2-5]/);
      // Hold the outage until the whole load was sent, watching the replicas all the while.
      await waitFor(
        "load sent while the processor is down",
        async () => {
          most = Math.max(most, await replicas());
          return load.sendingDone();
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      expect(most).toBe(1);
      const events = (await (await api("/api/v1/namespaces/shop/events")).json()) as { items: Obj[] };
      expect(events.items.some((e) => e.involvedObject?.name === "payment" && e.reason === "CircuitOpen" && /not scaling out/.test(e.message))).toBe(true);

      // The processor recovers: a payment process without the fault takes over.
      await failing.stop();
      shop.procs.splice(shop.procs.indexOf(failing), 1);
      await shop.spawn("payment", { ...serviceEnv("payment", nats.url, await freePort()), HTTP_HOST: "127.0.0.1", LOG_LEVEL: "warn", CONCURRENCY: "32" });
      await waitFor("CircuitOpen=False again", async () => (await condition("CircuitOpen"))?.status === "False", { timeoutMs: 60_000, intervalMs: 200 });
      const result = await load.result;
      await waitFor(
        "payment's backlog drained",
        async () => {
          const c = await jsm.consumers.info(SHOP_STREAM, "shop_payment");
          return c.num_pending === 0 && c.num_ack_pending === 0;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      // Held messages were not dead-lettered for the open circuit.
      const dlq = await jsm.streams.info(DEAD_LETTER_STREAM, { subjects_filter: "jetmesh.dlq.shop.payment" });
      expect(dlq.state.subjects?.["jetmesh.dlq.shop.payment"] ?? 0).toBe(0);
      const summary = await account(nats.url, "circuit-open", result, 1, []);
      record(summary);
      expect(summary.violationList).toEqual([]);
      expect(summary.lost).toBe(0);
      expect(summary.duplicated_effects).toBe(0);
      expect(summary.accepted).toBeGreaterThan(CHAOS_RATE);
      expect(summary.completed).toBe(summary.accepted);
    },
  );
});
