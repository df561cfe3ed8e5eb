// The real control plane harness (testing/src/controlplane): kube-apiserver v1.35 built from Go
// modules answers with its version, enforces RBAC on a ServiceAccount token, the controller
// manager turns a Deployment into a ReplicaSet, and a restart keeps what etcd stored.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane, waitFor, type ControlPlane } from "@jetmesh/testing";
import { kubectlFor } from "./kube-helpers.ts";

const VERSION = /^KUBERNETES_VERSION=(\S+)$/m.exec(readFileSync(new URL("../../tools/versions.env", import.meta.url), "utf8"))![1]!;

let cp: ControlPlane;
let kubectl: ReturnType<typeof kubectlFor>;
const startLines: string[] = [];

beforeAll(async () => {
  cp = await startControlPlane({ controllerManager: true, progress: (l) => startLines.push(l) });
  kubectl = kubectlFor(cp.kubeconfigPath);
}, 180_000);
afterAll(async () => cp?.stop());

describe("the real control plane", () => {
  it("reports the pinned Kubernetes version and every component's start", async () => {
    const v = await cp.rest<{ gitVersion: string }>("GET", "/version");
    expect(v.body.gitVersion).toBe(VERSION);
    expect(startLines.map((l) => l.split(" ")[0])).toEqual(["etcd", "kube-apiserver", "kube-controller-manager"]);
    console.log(`control plane start: ${startLines.join(", ")}`);
  });

  it("enforces RBAC: a ServiceAccount without a binding is Forbidden, with one it is allowed", async () => {
    await kubectl.ok(["create", "namespace", "rbac-check"]);
    await kubectl.ok(["-n", "rbac-check", "create", "serviceaccount", "reader"]);
    const saConfig = await cp.serviceAccountKubeconfig("rbac-check", "reader", join(cp.dir, "reader.kubeconfig"));
    const asReader = kubectlFor(saConfig);
    const denied = await asReader.run(["-n", "rbac-check", "get", "configmaps"]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('configmaps is forbidden: User "system:serviceaccount:rbac-check:reader" cannot list resource "configmaps"');
    expect((await asReader.run(["auth", "can-i", "list", "configmaps", "-n", "rbac-check"])).stdout.trim()).toBe("no");

    await kubectl.ok(["-n", "rbac-check", "create", "role", "read-cm", "--verb=get,list", "--resource=configmaps"]);
    await kubectl.ok(["-n", "rbac-check", "create", "rolebinding", "read-cm", "--role=read-cm", "--serviceaccount=rbac-check:reader"]);
    await waitFor("the new RoleBinding to take effect", async () => (await asReader.run(["-n", "rbac-check", "get", "configmaps"])).code === 0, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    expect((await asReader.run(["auth", "can-i", "delete", "configmaps", "-n", "rbac-check"])).stdout.trim()).toBe("no");
  });

  it("runs the controllers: a Deployment gets a ReplicaSet, and garbage collection removes it with the Deployment", async () => {
    await kubectl.ok(["create", "namespace", "controllers"]);
    await kubectl.ok(["-n", "controllers", "create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=2"]);
    const rs = await waitFor(
      "a ReplicaSet for deployment web",
      async () => {
        const out = JSON.parse(await kubectl.ok(["-n", "controllers", "get", "replicasets", "-l", "app=web", "-o", "json"])) as {
          items: { spec: { replicas: number } }[];
        };
        return out.items[0];
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(rs.spec.replicas).toBe(2);
    await kubectl.ok(["-n", "controllers", "delete", "deployment", "web", "--wait=true", "--timeout=60s"]);
    await waitFor(
      "the ReplicaSet to be garbage-collected",
      async () => (JSON.parse(await kubectl.ok(["-n", "controllers", "get", "replicasets", "-o", "json"])) as { items: unknown[] }).items.length === 0,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  });

  it("keeps what it stored across a kube-apiserver restart", async () => {
    await kubectl.ok(["create", "namespace", "survives"]);
    await kubectl.ok(["-n", "survives", "create", "configmap", "c", "--from-literal=k=v"]);
    await cp.restartApiServer();
    expect(await kubectl.ok(["-n", "survives", "get", "configmap", "c", "-o", "jsonpath={.data.k}"])).toBe("v");
  });
});
