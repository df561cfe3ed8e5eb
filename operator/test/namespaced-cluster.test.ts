// The chart's namespaced mode on the real control plane: `helm install` with
// operator.watchNamespaces=[team-a] gives the operator's ServiceAccount a Role in team-a only
// (no ClusterRole), and the operator, run as a local process with the chart's env and a token of
// that ServiceAccount, serves team-a and never touches team-b, whose resources it cannot even
// list. No kubelet runs here, so this process stands in for the chart's operator Pod.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, startControlPlane, startNats, waitFor, type ControlPlane, type NatsCluster } from "@jetmesh/testing";
import { helm, offlineChart } from "../../charts/jetmesh/test/helm.ts";
import { parseManifest, type Obj } from "../../charts/jetmesh/test/rendered.ts";
import { kubectlFor } from "../../testing/test/kube-helpers.ts";
import { ROOT } from "./harness.ts";

const NS = "jetmesh-system";
const RELEASE = "jm";
const SA = `${RELEASE}-jetmesh-operator`;

let cp: ControlPlane;
let nats: NatsCluster;
let nc: NatsConnection;
let kubectl: ReturnType<typeof kubectlFor>;
let operator: { proc: ChildProcess; output: () => string } | undefined;
let manifest: Obj[];

const stream = (namespace: string, name: string) =>
  JSON.stringify({ apiVersion: "jetmesh.io/v1alpha1", kind: "EventStream", metadata: { name, namespace }, spec: { subjects: [`${namespace}.${name}.>`] } });

beforeAll(async () => {
  [cp, nats] = await Promise.all([startControlPlane(), startNats()]);
  nc = await connect({ servers: nats.url });
  kubectl = kubectlFor(cp.kubeconfigPath);
  for (const ns of ["team-a", "team-b"]) await kubectl.ok(["create", "namespace", ns]);
  const install = await helm(
    [
      "install",
      RELEASE,
      offlineChart(),
      "-n",
      NS,
      "--create-namespace",
      "--set",
      "nats.enabled=false",
      "--set",
      `natsConnection.url=${nats.url}`,
      "--set",
      "shop.enabled=false",
      ...["order", "inventory", "payment", "shipping"].flatMap((s) => ["--set", `services.${s}.enabled=false`]),
      "--set",
      "operator.watchNamespaces={team-a}",
    ],
    { kubeconfig: cp.kubeconfigPath },
  );
  if (install.code !== 0) throw new Error(`helm install: ${install.stderr}`);
  manifest = parseManifest((await helm(["get", "manifest", RELEASE, "-n", NS], { kubeconfig: cp.kubeconfigPath })).stdout);

  // The operator container's env as the chart renders it; fieldRefs as the kubelet fills them.
  const d = manifest.find((o) => o.kind === "Deployment" && o.metadata.name === SA)!;
  const env: Record<string, string> = {};
  for (const e of d.spec.template.spec.containers[0].env as Obj[]) {
    if (typeof e.value === "string") env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = "jm-operator-local-0";
    else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = NS;
  }
  const kubeconfig = await cp.serviceAccountKubeconfig(NS, SA, join(cp.dir, "operator.kubeconfig"));
  const httpPort = await freePort();
  const proc = spawn(process.execPath, ["--conditions=source", `${ROOT}operator/src/main.ts`], {
    env: { PATH: process.env.PATH, ...env, KUBECONFIG: kubeconfig, HTTP_PORT: String(httpPort), HTTP_HOST: "127.0.0.1", RESYNC_SECONDS: "2" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-40_000)));
  proc.stderr?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-40_000)));
  operator = { proc, output: () => out };
  await waitFor("operator process ready (caches synced, NATS connected)", async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok, {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
}, 240_000);

afterAll(async () => {
  operator?.proc.kill("SIGKILL");
  await nc?.close();
  await cp?.stop();
  await nats?.destroy();
});

describe("namespaced mode (operator.watchNamespaces) under the chart's own RBAC", () => {
  it("renders a Role and RoleBinding in the watched namespace and nothing cluster-wide for the operator", () => {
    const rbac = manifest
      .filter((o) => o.kind.includes("Role"))
      .map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)
      .sort();
    expect(rbac.filter((n) => n.includes("operator"))).toEqual([
      `Role/${NS}/${SA}-leader-election`,
      `Role/team-a/${SA}`,
      `RoleBinding/${NS}/${SA}-leader-election`,
      `RoleBinding/team-a/${SA}`,
    ]);
  });

  it("the ServiceAccount may list EventStreams in team-a only", async () => {
    const can = async (args: string[]) => (await kubectl.run(["auth", "can-i", ...args, `--as=system:serviceaccount:${NS}:${SA}`])).stdout.trim();
    expect(await can(["list", "eventstreams.jetmesh.io", "-n", "team-a"])).toBe("yes");
    expect(await can(["list", "eventstreams.jetmesh.io", "-n", "team-b"])).toBe("no");
    expect(await can(["list", "eventstreams.jetmesh.io", "--all-namespaces"])).toBe("no");
  });

  it("serves team-a and leaves team-b alone", async () => {
    // team-b's first, so by the time team-a's is Ready the operator would have seen both.
    await kubectl.ok(["apply", "-f", "-"], stream("team-b", "orders"));
    await kubectl.ok(["apply", "-f", "-"], stream("team-a", "orders"));
    const r = await kubectl.run(["-n", "team-a", "wait", "--for=condition=Ready", "eventstream/orders", "--timeout=90s"]);
    expect(r.code, `${r.stderr}\n${operator!.output().slice(-3000)}`).toBe(0);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info("team-a_orders")).config.subjects).toEqual(["team-a.orders.>"]);
    // A later change in team-a is still picked up while team-b stays untouched.
    await kubectl.ok(["-n", "team-a", "patch", "eventstream", "orders", "--type=merge", "-p", '{"spec":{"maxAge":"24h"}}']);
    await waitFor("team-a's maxAge applied", async () => (await jsm.streams.info("team-a_orders")).config.max_age === 24 * 3600e9, {
      timeoutMs: 30_000,
      intervalMs: 300,
    });
    const b = JSON.parse(await kubectl.ok(["-n", "team-b", "get", "eventstream", "orders", "-o", "json"])) as Obj;
    expect(b.status).toBeUndefined();
    expect(b.metadata.finalizers).toBeUndefined();
    expect((await jsm.streams.names().next()).sort()).toEqual(["team-a_orders"]);
    // It never asked for what it may not see: no 403 in its log, and it keeps running.
    expect(operator!.output()).not.toMatch(/forbidden|\b403\b/i);
    expect(operator!.proc.exitCode).toBeNull();
  });
});
