// The chart installed for real: helm 4 and helm 3 against kube-apiserver v1.35 (etcd and the
// controller manager beside it), with an external NATS. Every object must pass the real
// apiserver's validation; `helm upgrade` applies changed values; `helm uninstall` leaves only
// the CRDs; two releases in two namespaces live side by side. No kubelet runs here, so the
// Pods stay Pending: the operator itself is run against this cluster in
// operator/test/real-cluster.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane, waitFor, type ControlPlane } from "@jetmesh/testing";
import { chartDir } from "./chart.ts";
import { helm, offlineChart, type HelmVersion } from "./helm.ts";
import { parseManifest, type Obj } from "./rendered.ts";
import { kubectlFor } from "../../../testing/test/kube-helpers.ts";

let cp: ControlPlane;
let kubectl: ReturnType<typeof kubectlFor>;
const NATS_URL = "nats://nats.messaging.svc:4222";
const externalNats = join(chartDir, "examples", "external-nats.yaml");

beforeAll(async () => {
  cp = await startControlPlane({ controllerManager: true });
  kubectl = kubectlFor(cp.kubeconfigPath);
}, 180_000);
afterAll(async () => cp?.stop());

async function helmOk(version: HelmVersion, args: string[]): Promise<string> {
  const r = await helm(args, { version, kubeconfig: cp.kubeconfigPath });
  if (r.code !== 0) throw new Error(`helm ${version} ${args.join(" ")} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The objects of a release as helm recorded them. */
async function releaseObjects(version: HelmVersion, release: string, namespace: string): Promise<Obj[]> {
  return parseManifest(await helmOk(version, ["get", "manifest", release, "-n", namespace]));
}

/** `kind/name` of every object that exists on the server, of the given manifest objects. */
async function existing(objects: Obj[]): Promise<string[]> {
  const found: string[] = [];
  for (const o of objects) {
    const ns = o.metadata.namespace ? ["-n", o.metadata.namespace] : [];
    const r = await kubectl.run(["get", o.kind, o.metadata.name, ...ns, "-o", "name", "--ignore-not-found"]);
    if (r.code !== 0) throw new Error(`kubectl get ${o.kind} ${o.metadata.name}: ${r.stderr}`);
    if (r.stdout.trim()) found.push(`${o.kind}/${o.metadata.name}`);
  }
  return found;
}

const names = (objects: Obj[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);

for (const version of [4, 3] as const) {
  describe(`helm ${version}: install, upgrade and uninstall on the real apiserver`, () => {
    const ns = `helm${version}`;
    const release = `jm${version}`;

    it("installs every object, accepted by the apiserver's validation", async () => {
      await helmOk(version, ["install", release, offlineChart(), "-n", ns, "--create-namespace", "-f", externalNats, "--set", `natsConnection.url=${NATS_URL}`]);
      const objects = await releaseObjects(version, release, ns);
      expect(names(objects)).toEqual(expect.arrayContaining(["Deployment/order", "ClusterRole/jm" + version + "-jetmesh-operator", "EventStream/events", "EventSubscription/payment"]));
      expect(await existing(objects)).toEqual(names(objects));
      // The CRDs came from the chart's crds/ folder.
      await kubectl.ok(["get", "crd", "eventstreams.jetmesh.io", "eventsubscriptions.jetmesh.io"]);
      expect(await helmOk(version, ["status", release, "-n", ns])).toMatch(/STATUS: deployed/);
    });

    it("upgrades with changed values", async () => {
      await helmOk(version, [
        "upgrade", release, offlineChart(), "-n", ns, "-f", externalNats,
        "--set", `natsConnection.url=${NATS_URL}`, "--set", "operator.replicas=3", "--set", "services.shipping.enabled=false",
      ]);
      const operator = JSON.parse(await kubectl.ok(["-n", ns, "get", "deployment", `${release}-jetmesh-operator`, "-o", "json"])) as Obj;
      expect(operator.spec.replicas).toBe(3);
      expect(await kubectl.ok(["-n", ns, "get", "deployment", "shipping", "--ignore-not-found", "-o", "name"])).toBe("");
      expect(await helmOk(version, ["history", release, "-n", ns])).toMatch(/2\s+.*deployed\s+jetmesh-0\.1\.0/);
    });

    it("uninstalls everything but the CRDs", async () => {
      const objects = await releaseObjects(version, release, ns);
      await helmOk(version, ["uninstall", release, "-n", ns, "--wait", "--timeout", "120s"]);
      await waitFor("every object of the release to be gone", async () => (await existing(objects)).length === 0, { timeoutMs: 60_000, intervalMs: 500 });
      await kubectl.ok(["get", "crd", "eventstreams.jetmesh.io", "eventsubscriptions.jetmesh.io"]);
      // Garbage collection removed what the Deployments had made.
      await waitFor("ReplicaSets of the release to be collected", async () => (await kubectl.ok(["-n", ns, "get", "replicasets", "-o", "name"])).trim() === "", { timeoutMs: 60_000, intervalMs: 500 });
    });
  });
}

describe("two releases side by side", () => {
  it("install into two namespaces without a name collision", async () => {
    const values = join(cp.dir, "operator-only.yaml");
    writeFileSync(values, `nats: {enabled: false}\nnatsConnection: {url: "${NATS_URL}"}\n`);
    await helmOk(4, ["install", "team-a", offlineChart(), "-n", "team-a", "--create-namespace", "-f", values]);
    await helmOk(4, ["install", "team-b", offlineChart(), "-n", "team-b", "--create-namespace", "-f", values]);
    const a = names(await releaseObjects(4, "team-a", "team-a"));
    const b = names(await releaseObjects(4, "team-b", "team-b"));
    // Cluster-scoped objects carry the release's full name, so they cannot collide.
    const clusterScoped = (list: string[]) => list.filter((n) => n.startsWith("ClusterRole"));
    expect(clusterScoped(a)).toEqual(["ClusterRole/team-a-jetmesh-operator", "ClusterRoleBinding/team-a-jetmesh-operator"]);
    expect(clusterScoped(b)).toEqual(["ClusterRole/team-b-jetmesh-operator", "ClusterRoleBinding/team-b-jetmesh-operator"]);
    const list = await helmOk(4, ["list", "-A", "-o", "json"]);
    const releases = (JSON.parse(list) as { name: string; namespace: string; status: string }[]).filter((r) => r.name.startsWith("team-"));
    expect(releases.map((r) => `${r.namespace}/${r.name}:${r.status}`).sort()).toEqual(["team-a/team-a:deployed", "team-b/team-b:deployed"]);
  });
});
