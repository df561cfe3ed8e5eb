// The operator on the real control plane, as the chart installs it: `helm install` of the chart
// (external NATS = this test's nats-server), then the operator runs as a local process with the
// chart's own env and a token of the chart's own ServiceAccount, so kube-apiserver's RBAC
// authorizer enforces exactly the chart's ClusterRole and Role. No kubelet runs here, so the
// chart's operator Pods stay Pending and this process stands in for them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { freePort, startControlPlane, startNats, waitFor, type ControlPlane, type NatsCluster } from "@jetmesh/testing";
import { helm, offlineChart } from "../../charts/jetmesh/test/helm.ts";
import { parseManifest, type Obj } from "../../charts/jetmesh/test/rendered.ts";
import { kubectlFor } from "../../testing/test/kube-helpers.ts";
import { ROOT } from "./harness.ts";

const NS = "shop";
const RELEASE = "jetmesh";
const SA = `${RELEASE}-operator`;
const POD_NAME = "jetmesh-operator-local-0";

let cp: ControlPlane;
let nats: NatsCluster;
let nc: NatsConnection;
let kubectl: ReturnType<typeof kubectlFor>;
let operator: { proc: ChildProcess; httpPort: number; output: () => string };
let chartEnv: Record<string, string>;

async function k(args: string[], input?: string): Promise<string> {
  return kubectl.ok(args, input);
}

async function condition(kind: string, name: string, type: string): Promise<{ status: string; reason: string; message: string } | undefined> {
  const o = JSON.parse(await k(["-n", NS, "get", kind, name, "-o", "json"])) as Obj;
  return (o.status?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === type);
}

/** The operator container's env as the chart renders it; fieldRefs get what the kubelet would give. */
function operatorEnvFrom(objects: Obj[]): Record<string, string> {
  const d = objects.find((o) => o.kind === "Deployment" && o.metadata.name === `${RELEASE}-operator`);
  if (!d) throw new Error("the chart rendered no operator Deployment");
  const env: Record<string, string> = {};
  for (const e of d.spec.template.spec.containers[0].env as Obj[]) {
    if (typeof e.value === "string") env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = POD_NAME;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = NS;
    else throw new Error(`operator env ${e.name}: no stand-in for ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

async function startOperatorProcess(): Promise<typeof operator> {
  const kubeconfig = await cp.serviceAccountKubeconfig(NS, SA, join(cp.dir, "operator.kubeconfig"));
  const httpPort = await freePort();
  const proc = spawn(process.execPath, ["--conditions=source", `${ROOT}operator/src/main.ts`], {
    // The chart's env, with the kubelet's part (the token) as a kubeconfig, and a local port.
    env: { PATH: process.env.PATH, ...chartEnv, KUBECONFIG: kubeconfig, HTTP_PORT: String(httpPort), HTTP_HOST: "127.0.0.1", RESYNC_SECONDS: "2" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-40_000)));
  proc.stderr?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-40_000)));
  await waitFor("operator process answers /healthz", async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  return { proc, httpPort, output: () => out };
}

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane({ controllerManager: true }), startNats()]);
  nc = await connect({ servers: nats.url });
  kubectl = kubectlFor(cp.kubeconfigPath);
  const install = await helm(
    ["install", RELEASE, offlineChart(), "-n", NS, "--create-namespace", "--set", "nats.enabled=false", "--set", `natsConnection.url=${nats.url}`],
    { kubeconfig: cp.kubeconfigPath },
  );
  if (install.code !== 0) throw new Error(`helm install: ${install.stderr}`);
  const manifest = await helm(["get", "manifest", RELEASE, "-n", NS], { kubeconfig: cp.kubeconfigPath });
  chartEnv = operatorEnvFrom(parseManifest(manifest.stdout));
  operator = await startOperatorProcess();
}, 240_000);

afterAll(async () => {
  operator?.proc.kill("SIGKILL");
  await nc?.close();
  await cp?.stop();
  await nats?.destroy();
});

describe("the operator under the chart's own RBAC on kube-apiserver", () => {
  it("makes the shop's EventStreams and EventSubscriptions Ready on real NATS", async () => {
    const wait = (kind: string) => kubectl.run(["-n", NS, "wait", "--for=condition=Ready", kind, "--all", "--timeout=90s"]);
    for (const kind of ["eventstreams", "eventsubscriptions"]) {
      const r = await wait(kind);
      expect(r.code, `${kind} Ready\n${r.stderr}\n${operator.output().slice(-3000)}`).toBe(0);
    }
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("shop_events")).config.subjects).toEqual(["shop.>"]);
    expect((await jsm.consumers.info("shop_events", "shop_payment")).config.durable_name).toBe("shop_payment");
  });

  it("passes the chart's `helm test` (its hook's logic, run with the hook's env and ServiceAccount)", async () => {
    // No kubelet runs the test Pod here: its ServiceAccount and Role are applied from the
    // release's hooks, and selftest-main.ts runs as a process with the Pod's env and a token of
    // that ServiceAccount, as the kubelet would give it.
    const hooks = parseManifest((await helm(["get", "hooks", RELEASE, "-n", NS], { kubeconfig: cp.kubeconfigPath })).stdout);
    const pod = hooks.find((o) => o.kind === "Pod")!;
    expect(pod.metadata.annotations["helm.sh/hook"]).toBe("test");
    for (const o of hooks.filter((h) => h.kind !== "Pod")) {
      const { __template: _t, ...plain } = o;
      await k(["apply", "-f", "-"], JSON.stringify(plain));
    }
    // The Pod itself passes the apiserver's validation and admission.
    const { __template: _p, ...plainPod } = pod;
    await k(["apply", "--dry-run=server", "-f", "-"], JSON.stringify(plainPod));
    const container = pod.spec.containers[0];
    expect(container.command).toEqual(["node", "dist/selftest-main.js"]);
    const env: Record<string, string> = {};
    for (const e of container.env as Obj[]) env[e.name] = e.value as string;
    const kubeconfig = await cp.serviceAccountKubeconfig(NS, pod.spec.serviceAccountName as string, join(cp.dir, "selftest.kubeconfig"));
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const proc = spawn(process.execPath, ["--conditions=source", `${ROOT}operator/src/selftest-main.ts`], {
        env: { PATH: process.env.PATH, ...env, KUBECONFIG: kubeconfig },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      proc.stdout?.on("data", (b: Buffer) => (out += b.toString()));
      proc.stderr?.on("data", (b: Buffer) => (out += b.toString()));
      proc.on("exit", (code) => resolve({ code, out }));
    });
    expect(run.code, run.out).toBe(0);
    expect(run.out).toMatch(/ready: 2 EventStreams, 4 EventSubscriptions in shop/);
    expect(run.out).toMatch(/round trip: CloudEvent \S+ \(shop\.jetmesh\.selftest\.v1\) stored in shop_events at sequence \d+ and read back intact/);
    expect(run.out).toContain("PASS");
    // The probe left nothing behind for the shop to see.
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("shop_events", { subjects_filter: "shop.jetmesh.>" })).state.subjects ?? {}).toEqual({});
  });

  it("holds its leader Lease in the release namespace", async () => {
    const lease = JSON.parse(await k(["-n", NS, "get", "lease", chartEnv.LEASE_NAME!, "-o", "json"])) as Obj;
    expect(lease.spec.holderIdentity).toBe(POD_NAME);
  });

  it("scales a subscriber Deployment on lag through its scale subresource", async () => {
    const js = jetstream(nc);
    // payment's subscription: targetLagPerReplica 100, maxReplicas 5; no payment process runs,
    // so the lag stays.
    await Promise.all(Array.from({ length: 350 }, (_, i) => js.publish("shop.inventory.reserved.v1", JSON.stringify({ i }), { msgID: `lag-${i}` })));
    const replicas = await waitFor(
      "payment Deployment scaled above 1",
      async () => {
        const d = JSON.parse(await k(["-n", NS, "get", "deployment", `${RELEASE}-payment`, "-o", "json"])) as Obj;
        return d.spec.replicas > 1 ? (d.spec.replicas as number) : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // The controller manager acts on it: the ReplicaSet follows.
    await waitFor(
      "the payment ReplicaSet to follow",
      async () => {
        const list = JSON.parse(await k(["-n", NS, "get", "replicasets", "-l", "app.kubernetes.io/name=payment", "-o", "json"])) as { items: Obj[] };
        return list.items.some((rs) => rs.spec.replicas === replicas);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });

  it("reports a missing RBAC rule as Forbidden without crashing, and recovers when the rule is back", async () => {
    const role = JSON.parse(await k(["get", "clusterrole", SA, "-o", "json"])) as Obj;
    const withoutScale = { ...role, rules: (role.rules as Obj[]).filter((r) => !(r.resources as string[]).includes("deployments/scale")) };
    expect(withoutScale.rules.length).toBe(role.rules.length - 1);
    await k(["replace", "-f", "-"], JSON.stringify(withoutScale));
    // More lag, so the autoscaler wants to scale again and meets the 403.
    const js = jetstream(nc);
    await Promise.all(Array.from({ length: 200 }, (_, i) => js.publish("shop.inventory.reserved.v1", JSON.stringify({ i }), { msgID: `more-lag-${i}` })));
    const forbidden = await waitFor(
      "Scaling=False reason Forbidden on payment",
      async () => {
        const c = await condition("eventsubscription", "payment", "Scaling");
        return c?.reason === "Forbidden" ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(forbidden.status).toBe("False");
    expect(forbidden.message).toContain("deployments/scale in namespace shop");
    expect(forbidden.message).toContain(`system:serviceaccount:${NS}:${SA}`);
    const events = JSON.parse(await k(["-n", NS, "get", "events", "--field-selector", "reason=Forbidden,involvedObject.name=payment", "-o", "json"])) as {
      items: Obj[];
    };
    expect(events.items.length).toBeGreaterThan(0);
    expect(events.items[0]!.type).toBe("Warning");
    // Still the same process, healthy, and the rest of its work unaffected.
    expect(operator.proc.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${operator.httpPort}/healthz`)).ok).toBe(true);
    expect((await condition("eventsubscription", "payment", "Ready"))?.status).toBe("True");

    await k(["replace", "-f", "-"], JSON.stringify({ ...role, metadata: { ...role.metadata, resourceVersion: undefined } }));
    await waitFor("Scaling=True again once the rule is back", async () => (await condition("eventsubscription", "payment", "Scaling"))?.status === "True", {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect(operator.proc.exitCode).toBeNull();
  });

  it("mode hpa: without the chart's renderedScalers rule says RenderFailed; with it renders an owned HPA and puts it back when deleted", async () => {
    const hpaOf = async () => {
      const r = await kubectl.run(["-n", NS, "get", "hpa", "jetmesh-shipping", "-o", "json"]);
      return r.code === 0 ? (JSON.parse(r.stdout) as Obj) : undefined;
    };
    await k(["-n", NS, "patch", "jmsub", "shipping", "--type=merge", "-p", '{"spec":{"scaling":{"mode":"hpa"}}}']);
    const refused = await waitFor(
      "Scaling=False RenderFailed on shipping",
      async () => {
        const c = await condition("eventsubscription", "shipping", "Scaling");
        return c?.reason === "RenderFailed" ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(refused.message).toMatch(/jetmesh-shipping.*403/);
    // The consumer is unaffected by the scaler it could not write.
    const ready = await condition("eventsubscription", "shipping", "Ready");
    expect(ready?.status, JSON.stringify(ready)).toBe("True");

    // Grant what the chart grants with operator.rbac.renderedScalers (files/operator-rbac.yaml).
    const rbac = parseYaml(readFileSync(join(ROOT, "charts/jetmesh/files/operator-rbac.yaml"), "utf8")) as { renderedScalerRules: Obj[] };
    const role = JSON.parse(await k(["get", "clusterrole", SA, "-o", "json"])) as Obj;
    await k(["replace", "-f", "-"], JSON.stringify({ ...role, rules: [...(role.rules as Obj[]), ...rbac.renderedScalerRules] }));
    const hpa = await waitFor("HPA rendered", hpaOf, { timeoutMs: 60_000, intervalMs: 500 });
    const sub = JSON.parse(await k(["-n", NS, "get", "jmsub", "shipping", "-o", "json"])) as Obj;
    expect(hpa.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "EventSubscription", name: "shipping", uid: sub.metadata.uid, controller: true }),
    ]);
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: "jetmesh-shipping" });
    await waitFor("Scaling=True DelegatedToHpa", async () => (await condition("eventsubscription", "shipping", "Scaling"))?.reason === "DelegatedToHpa", {
      timeoutMs: 30_000,
      intervalMs: 500,
    });

    // Deleted out of band: the watch brings it back (the resync would, within 2 s here).
    await k(["-n", NS, "delete", "hpa", "jetmesh-shipping"]);
    await waitFor(
      "HPA recreated",
      async () => {
        const again = await hpaOf();
        return again && again.metadata.uid !== hpa.metadata.uid;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    // Edited out of band: put back as rendered (kube-apiserver fills in defaults, which do not count as drift).
    await k(["-n", NS, "patch", "hpa", "jetmesh-shipping", "--type=merge", "-p", '{"spec":{"maxReplicas":40}}']);
    await waitFor("HPA drift repaired", async () => (await hpaOf())?.spec.maxReplicas === hpa.spec.maxReplicas, { timeoutMs: 30_000, intervalMs: 300 });

    await k(["-n", NS, "patch", "jmsub", "shipping", "--type=merge", "-p", '{"spec":{"scaling":{"mode":"native"}}}']);
    await waitFor("HPA deleted with mode native", async () => (await hpaOf()) === undefined, { timeoutMs: 30_000, intervalMs: 300 });
  });

  it("rides out a kube-apiserver restart and keeps converging", async () => {
    await cp.restartApiServer();
    await k(["create", "namespace", "after-restart"]);
    await k(
      ["apply", "-f", "-"],
      `
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: late, namespace: after-restart }
spec: { subjects: ["after-restart.>"] }
`,
    );
    const r = await kubectl.run(["-n", "after-restart", "wait", "--for=condition=Ready", "eventstream/late", "--timeout=90s"]);
    expect(r.code, `${r.stderr}\n${operator.output().slice(-3000)}`).toBe(0);
    await k(["-n", NS, "patch", "eventstream", "events", "--type=merge", "-p", '{"spec":{"maxAge":"24h"}}']);
    const jsm = await jetstreamManager(nc);
    await waitFor("maxAge applied after the restart", async () => (await jsm.streams.info("shop_events")).config.max_age === 24 * 3600e9, {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect(operator.proc.exitCode).toBeNull();
  });

  it("uninstall as docs/install.md says: custom resources first (the operator runs their finalizers), then helm uninstall leaves only the CRDs", async () => {
    // helm deletes the operator's RBAC together with the custom resources, so finalizers run
    // by the operator would be stuck on a 403: the custom resources go first, while it runs.
    await k(["-n", NS, "delete", "eventsubscriptions,eventstreams", "--all", "--wait=true", "--timeout=90s"]);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("shop_events")).config.name).toBe("shop_events"); // Retain
    await expect(jsm.consumers.info("shop_events", "shop_payment")).rejects.toThrow(/consumer not found/);
    const r = await helm(["uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "120s"], { kubeconfig: cp.kubeconfigPath, timeoutMs: 150_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(
      (
        await k([
          "-n",
          NS,
          "get",
          "deployments,services,serviceaccounts,roles,rolebindings,eventstreams,eventsubscriptions",
          "-l",
          `app.kubernetes.io/instance=${RELEASE}`,
          "-o",
          "name",
        ])
      ).trim(),
    ).toBe("");
    expect(await k(["get", "clusterrole", SA, "--ignore-not-found", "-o", "name"])).toBe("");
    await k(["get", "crd", "eventstreams.jetmesh.io", "eventsubscriptions.jetmesh.io"]);
  }, 180_000);
});
