import { readFileSync } from "node:fs";
// The autoscaler wired into the operator: a subscription with a subscriber Deployment gets
// its Deployment scaled on consumer lag, with the Scaling condition, replicas and metrics
// reported; mode keda renders a ScaledObject owned by the subscription instead.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@jetmesh/testing";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { CRDS, startEnv, waitReason, type Env } from "./harness.ts";
import type { OperatorHandle } from "../src/index.ts";

let env: Env;
let op: OperatorHandle;

const manifests = readFileSync(new URL("./fixtures/scaling-scenario.yaml", import.meta.url), "utf8");

const kedaCrd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: scaledobjects.keda.sh }
spec:
  group: keda.sh
  scope: Namespaced
  names: { plural: scaledobjects, singular: scaledobject, kind: ScaledObject, listKind: ScaledObjectList }
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`;

beforeAll(async () => {
  env = await startEnv();
  await env.k(["apply", "-f", CRDS]);
  // A long resync: what is repaired quickly here is repaired because the autoscaler noticed.
  op = await env.operator({ AUTOSCALE: "true", NATS_MONITORING_ENDPOINT: "nats.nats.svc:8222", RESYNC_SECONDS: "600" });
});
afterAll(async () => env?.stop());

describe("autoscaling through the operator", () => {
  it("scales the subscriber Deployment on lag and reports it in status and metrics", async () => {
    await env.k(["apply", "-f", "-"], manifests);
    await env.k(["wait", "--for=condition=Ready", "-n", "sc", "jmsub/worker", "--timeout=15s"]);
    const nc = await connect({ servers: env.nats.url });
    const js = jetstream(nc);
    await Promise.all(Array.from({ length: 350 }, (_, i) => js.publish("sc.job.v1", `job ${i}`)));
    await nc.close();
    // 350 pending at 100 per replica → 4 replicas (the max).
    await waitFor("deployment scaled up", async () => (await env.getJson("deployment", "sc", "worker"))?.spec?.replicas === 4, {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    const status = await waitFor(
      "status shows the scale",
      async () => {
        const s = (await env.getJson("jmsub", "sc", "worker"))?.status;
        return s?.replicas?.desired === 4 && s.lag?.pending === 350 ? s : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(status.conditions.find((c: { type: string }) => c.type === "Scaling")).toMatchObject({ status: "True" });
    // The reconciler's own conditions survive the autoscaler's status writes.
    expect(status.conditions.find((c: { type: string }) => c.type === "Ready")).toMatchObject({ status: "True" });
    const text = await (await fetch(`http://127.0.0.1:${op.httpPort}/metrics`)).text();
    expect(text).toContain('jetmesh_subscription_replicas_desired{namespace="sc",subscription="worker"} 4');
    expect(text).toContain('jetmesh_subscription_pending_messages{namespace="sc",subscription="worker"} 350');
  });

  it("repairs a consumer the autoscaler finds missing, without waiting for the resync", async () => {
    const js = await env.js();
    await js.deleteConsumer("sc_jobs", "sc_worker");
    await waitFor("consumer recreated", async () => (await js.consumerInfo("sc_jobs", "sc_worker")) !== undefined, { timeoutMs: 10_000, intervalMs: 100 });
    const events = await env.k(["get", "events", "-n", "sc", "-o", "json"]);
    expect(events).toMatch(/consumer sc_worker was missing in JetStream/);
  });

  it("after an operator restart, brings back within new bounds the replica count it wrote before (status.replicas.desired)", async () => {
    // The first test left the Deployment at 4, written by JetMesh (status.replicas.desired 4).
    expect((await env.getJson("jmsub", "sc", "worker"))?.status?.replicas?.desired).toBe(4);
    await op.stop();
    // While no operator runs, the bounds shrink under the count JetMesh wrote.
    await env.k(["patch", "jmsub", "-n", "sc", "worker", "--type=merge", "-p", '{"spec":{"scaling":{"maxReplicas":2}}}']);
    op = await env.operator({ AUTOSCALE: "true", NATS_MONITORING_ENDPOINT: "nats.nats.svc:8222", RESYNC_SECONDS: "600" });
    // A fresh loop that took 4 for a person's choice would leave it (ManualOverride).
    await waitFor("deployment brought within the new bounds", async () => (await env.getJson("deployment", "sc", "worker"))?.spec?.replicas === 2, {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    expect((await env.condition("jmsub", "sc", "worker", "Scaling"))?.reason).toBe("Scaling");
  });

  it("renders a KEDA ScaledObject owned by the subscription in mode keda, and puts it back when deleted or edited", async () => {
    await env.k(["apply", "-f", "-"], kedaCrd);
    await waitFor("keda CRD served", async () => (await env.kubectl(["get", "scaledobjects", "-n", "sc"])).code === 0, { timeoutMs: 10_000, intervalMs: 200 });
    await env.k(["patch", "jmsub", "-n", "sc", "worker", "--type=merge", "-p", '{"spec":{"scaling":{"mode":"keda"}}}']);
    const so = await waitFor(
      "ScaledObject rendered",
      async () => (await env.getJson("scaledobject", "sc", "jetmesh-worker")) as Record<string, any> | undefined,
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(so.spec.scaleTargetRef.name).toBe("worker");
    expect(so.metadata.ownerReferences[0]).toMatchObject({
      kind: "EventSubscription",
      name: "worker",
      uid: (await env.getJson("jmsub", "sc", "worker"))?.metadata.uid,
    });
    expect(JSON.stringify(so.spec.triggers)).toContain("nats.nats.svc:8222");
    await waitReason(env, "jmsub", "sc", "worker", "DelegatedToKeda", 10_000, "Scaling");

    // Resync is 600 s here: what repairs it within seconds is the watch on ScaledObjects.
    await env.k(["delete", "scaledobject", "-n", "sc", "jetmesh-worker"]);
    await waitFor("ScaledObject recreated", async () => (await env.getJson("scaledobject", "sc", "jetmesh-worker"))?.metadata?.uid !== undefined, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    await env.k(["patch", "scaledobject", "-n", "sc", "jetmesh-worker", "--type=merge", "-p", '{"spec":{"maxReplicaCount":50}}']);
    await waitFor("ScaledObject drift repaired", async () => (await env.getJson("scaledobject", "sc", "jetmesh-worker"))?.spec?.maxReplicaCount === 2, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const events = await env.k(["get", "events", "-n", "sc", "--field-selector", "involvedObject.name=worker", "-o", "json"]);
    expect(events).toMatch(/ScalerUpdated/);
  });

  it("switching to mode hpa deletes the ScaledObject and renders an HPA, kept the same way", async () => {
    await env.k(["patch", "jmsub", "-n", "sc", "worker", "--type=merge", "-p", '{"spec":{"scaling":{"mode":"hpa"}}}']);
    const hpa = await waitFor("HPA rendered", async () => (await env.getJson("hpa", "sc", "jetmesh-worker")) as Record<string, any> | undefined, {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    expect(hpa.spec).toMatchObject({ maxReplicas: 2, scaleTargetRef: { name: "worker" } });
    await waitFor("ScaledObject deleted", async () => (await env.getJson("scaledobject", "sc", "jetmesh-worker")) === undefined, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    await waitReason(env, "jmsub", "sc", "worker", "DelegatedToHpa", 10_000, "Scaling");
    await env.k(["delete", "hpa", "-n", "sc", "jetmesh-worker"]);
    await waitFor("HPA recreated", async () => (await env.getJson("hpa", "sc", "jetmesh-worker")) !== undefined, { timeoutMs: 10_000, intervalMs: 100 });
    // Back to native: the HPA goes.
    await env.k(["patch", "jmsub", "-n", "sc", "worker", "--type=merge", "-p", '{"spec":{"scaling":{"mode":"native"}}}']);
    await waitFor("HPA deleted", async () => (await env.getJson("hpa", "sc", "jetmesh-worker")) === undefined, { timeoutMs: 10_000, intervalMs: 100 });
  });
});
