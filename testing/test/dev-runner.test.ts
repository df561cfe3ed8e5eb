// The dev process runner against the real API test server: Deployments become local
// processes, with status, restarts, graceful scale-down, env changes and deletion.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { startKubeApiServer, waitFor } from "../src/index.ts";
import { ProcessRunner, type RunnerSnapshot } from "../src/dev/runner.ts";
import { pidAlive } from "../src/dev/proc.ts";
import { loadKubeconfig } from "../src/dev/kubeconfig.ts";
import { clientApply, retryUntilKnown } from "../src/dev/apply.ts";
import { readManifests } from "../src/dev/manifests.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

function deployment(name: string, replicas: number, env: Record<string, string> = {}): k8s.V1Deployment {
  const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "jetmesh" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default", labels, annotations: { "jetmesh.io/dev-command": "testing/src/dev/fixtures/echo-service.ts" } },
    spec: {
      replicas,
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: {
        metadata: { labels },
        spec: { containers: [{ name, image: "x", env: Object.entries({ GREETING: "hello", ...env }).map(([n, value]) => ({ name: n, value })) }] },
      },
    },
  };
}

describe("ProcessRunner", () => {
  let dir: string;
  let kube: Awaited<ReturnType<typeof startKubeApiServer>>;
  let runner: ProcessRunner;
  let apps: k8s.AppsV1Api;
  const log = new PassThrough();
  let logText = "";
  log.on("data", (b: Buffer) => (logText += b.toString()));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "jetmesh-runner-"));
    kube = await startKubeApiServer({ kubeconfigPath: join(dir, "kubeconfig") });
    const kc = loadKubeconfig(kube.kubeconfigPath);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    runner = new ProcessRunner({
      kubeconfigPath: kube.kubeconfigPath,
      rootDir: root,
      log,
      stateFile: join(dir, "processes.json"),
      graceMs: 1_500,
      resyncMs: 300,
    });
    await runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const replicas = (name: string) => runner.snapshot().workloads.find((w) => w.name === name)?.replicas ?? [];
  const alivePids = (name: string) =>
    replicas(name)
      .filter((r) => r.alive)
      .map((r) => r.pid as number);

  it("runs, restarts, scales, re-configures and removes a Deployment's processes", async () => {
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("echo", 2) });

    // Two ready processes, each with the Deployment's env and its own port; status written.
    await waitFor("2 ready replicas", () => replicas("echo").filter((r) => r.ready).length === 2, { timeoutMs: 20_000 });
    const [r0, r1] = replicas("echo");
    expect(r0?.port).not.toBe(r1?.port);
    const env = (await (await fetch(`http://127.0.0.1:${r0?.port}/env`)).json()) as { env: Record<string, string> };
    expect(env.env).toMatchObject({ GREETING: "hello", HTTP_PORT: String(r0?.port), JETMESH_REPLICA: "echo-0", PATH: process.env.PATH });
    // Like a container: the runner's own environment (here vitest's) does not leak in.
    expect(process.env.VITEST).toBeDefined();
    expect(env.env.VITEST).toBeUndefined();
    await waitFor("status readyReplicas=2", async () => {
      const d = await apps.readNamespacedDeployment({ name: "echo", namespace: "default" });
      return d.status?.readyReplicas === 2 && d.status?.replicas === 2 && d.status?.availableReplicas === 2;
    });
    expect(logText).toMatch(/^echo-0\s+\| listening on \d+ as echo-0$/m);
    const state = JSON.parse(readFileSync(join(dir, "processes.json"), "utf8")) as RunnerSnapshot;
    expect(state.workloads[0]?.replicas.map((r) => r.port)).toEqual([r0?.port, r1?.port]);

    // A crashed process is started again, on the same port.
    const victim = r1?.pid as number;
    process.kill(victim, "SIGKILL");
    await waitFor(
      "echo-1 restarted",
      () => {
        const r = replicas("echo")[1];
        return r?.alive && r.ready && r.pid !== victim && r.restarts === 1;
      },
      { timeoutMs: 15_000 },
    );
    expect(replicas("echo")[1]?.port).toBe(r1?.port);

    // Scaling through the scale subresource (as the operator does): the extra gets SIGTERM.
    await apps.patchNamespacedDeploymentScale(
      { name: "echo", namespace: "default", body: { spec: { replicas: 1 } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const extraPid = replicas("echo")[1]?.pid as number;
    await waitFor("scaled down to 1", () => replicas("echo").length === 1 && !pidAlive(extraPid), { timeoutMs: 10_000 });
    expect(logText).toMatch(/^echo-1\s+\| got SIGTERM, draining$/m);
    await waitFor("status replicas=1", async () => (await apps.readNamespacedDeployment({ name: "echo", namespace: "default" })).status?.replicas === 1);

    // A changed env replaces the process with one that has the new env.
    const before = alivePids("echo")[0] as number;
    await apps.replaceNamespacedDeployment({
      name: "echo",
      namespace: "default",
      body: { ...deployment("echo", 1, { GREETING: "hi" }), metadata: { ...deployment("echo", 1).metadata, resourceVersion: undefined } },
    });
    await waitFor(
      "replaced with the new env",
      async () => {
        const r = replicas("echo")[0];
        if (!r?.ready || r.pid === before) return false;
        const e = (await (await fetch(`http://127.0.0.1:${r.port}/env`)).json()) as { env: Record<string, string> };
        return e.env.GREETING === "hi";
      },
      { timeoutMs: 15_000 },
    );
    expect(pidAlive(before)).toBe(false);

    // Deleting the Deployment stops its processes.
    const last = alivePids("echo");
    await apps.deleteNamespacedDeployment({ name: "echo", namespace: "default" });
    await waitFor("processes of a deleted Deployment stopped", () => last.every((p) => !pidAlive(p)) && replicas("echo").length === 0, { timeoutMs: 10_000 });
  });

  it("reports a Deployment it cannot run and ignores unlabelled ones", async () => {
    const bad = deployment("nocommand", 1);
    bad.metadata!.annotations = {};
    await apps.createNamespacedDeployment({ namespace: "default", body: bad });
    const other = deployment("unlabelled", 1);
    other.metadata!.labels = { "app.kubernetes.io/name": "unlabelled" };
    await apps.createNamespacedDeployment({ namespace: "default", body: other });
    const missing = deployment("missing", 1);
    missing.metadata!.annotations = { "jetmesh.io/dev-command": "services/nope/src/main.ts" };
    await apps.createNamespacedDeployment({ namespace: "default", body: missing });
    const error = (name: string) => runner.snapshot().workloads.find((w) => w.name === name)?.error;
    await waitFor("errors recorded", () => error("nocommand") && error("missing"));
    expect(error("nocommand")).toMatch(/no jetmesh.io\/dev-command annotation/);
    expect(error("missing")).toMatch(/services\/nope\/src\/main.ts .* does not exist/);
    expect(replicas("missing")).toEqual([]);
    expect(runner.snapshot().workloads.find((w) => w.name === "unlabelled")).toBeUndefined();
  });

  it("keeps following Deployments after the API server refused requests and dropped its watch", async () => {
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("resilient", 1) });
    await waitFor("resilient ready", () => replicas("resilient").some((r) => r.ready), { timeoutMs: 20_000 });
    kube.faults.refuseRequests(true);
    kube.faults.dropWatches();
    // The outage lasts until the runner has run into it.
    await waitFor("the runner's re-watch refused", () => /^runner\s+\| deployment watch failed/m.test(logText), { timeoutMs: 15_000 });
    kube.faults.refuseRequests(false);
    await apps.patchNamespacedDeploymentScale(
      { name: "resilient", namespace: "default", body: { spec: { replicas: 2 } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await waitFor("resilient scaled to 2 after the outage", () => replicas("resilient").filter((r) => r.ready).length === 2, { timeoutMs: 15_000 });
    await waitFor(
      "status written again",
      async () => (await apps.readNamespacedDeployment({ name: "resilient", namespace: "default" })).status?.readyReplicas === 2,
    );
    expect(logText).toMatch(/^runner\s+\| deployment watch failed \(.*\); retrying in \d+ ms$/m);
  });

  it("takes a replica out of readyReplicas after repeated failed /readyz probes, and back", async () => {
    const flag = join(dir, "not-ready");
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("probed", 1, { NOT_READY_FILE: flag }) });
    const readyReplicas = async () => (await apps.readNamespacedDeployment({ name: "probed", namespace: "default" })).status?.readyReplicas;
    await waitFor("probed ready", async () => (await readyReplicas()) === 1, { timeoutMs: 20_000 });
    writeFileSync(flag, "");
    await waitFor("probed unready", async () => (await readyReplicas()) === 0 && replicas("probed")[0]?.alive, { timeoutMs: 10_000 });
    rmSync(flag);
    await waitFor("probed ready again", async () => (await readyReplicas()) === 1, { timeoutMs: 10_000 });
    expect(replicas("probed")[0]?.restarts).toBe(0);
  });

  it("applies crds/ and examples/ with client-node when kubectl is absent, then patches on re-apply", async () => {
    const kc = loadKubeconfig(kube.kubeconfigPath);
    expect(await clientApply(kc, readManifests(join(root, "crds")))).toEqual([
      "customresourcedefinition/eventstreams.jetmesh.io created",
      "customresourcedefinition/eventsubscriptions.jetmesh.io created",
    ]);
    const examples = readManifests(join(root, "examples"));
    const first = await retryUntilKnown("examples", () => clientApply(kc, examples));
    expect(first).toContain("eventsubscription/payment created");
    expect(await clientApply(kc, examples)).toContain("eventsubscription/payment configured");
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const sub = (await custom.getNamespacedCustomObject({
      group: "jetmesh.io",
      version: "v1alpha1",
      namespace: "shop",
      plural: "eventsubscriptions",
      name: "payment",
    })) as {
      spec: { subscriber: { deployment: string } };
    };
    expect(sub.spec.subscriber.deployment).toBe("payment");
  });

  it("stops every process when the runner stops, escalating to SIGKILL", async () => {
    await apps.createNamespacedDeployment({ namespace: "default", body: deployment("stubborn", 2, { IGNORE_SIGTERM: "1" }) });
    await waitFor("2 stubborn replicas ready", () => replicas("stubborn").filter((r) => r.ready).length === 2, { timeoutMs: 20_000 });
    const pids = alivePids("stubborn");
    await runner.stop();
    // Each got SIGTERM first (and ignored it); gone now, so the SIGKILL came after.
    expect(logText).toMatch(/^stubborn-0\s+\| got SIGTERM, draining$/m);
    expect(logText).toMatch(/^stubborn-1\s+\| got SIGTERM, draining$/m);
    expect(pids.every((p) => !pidAlive(p))).toBe(true);
  });
});
