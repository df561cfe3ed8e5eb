// `jetmesh status` against the real API test server, in-process and as a real kubectl plugin.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { freePort, startKubeApiServer, toolPath, type KubeApiServer } from "@jetmesh/testing";
import { runCli } from "@jetmesh/cli";

// The pinned kubectl (tools/ensure.sh), never one the machine happens to have.
const KUBECTL = toolPath("kubectl");

const root = fileURLToPath(new URL("../../..", import.meta.url));
const bin = join(root, "services/cli/bin/jetmesh.js");
const exec = promisify(execFile);

const run = async (argv: string[], env: Record<string, string | undefined> = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
};

describe("jetmesh status", () => {
  let dir: string;
  let kube: KubeApiServer;
  let custom: k8s.CustomObjectsApi;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "jetmesh-cli-"));
    kube = await startKubeApiServer({ kubeconfigPath: join(dir, "kubeconfig") });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    kc.clusters = kc.clusters.map((c) => ({ ...c, skipTLSVerify: true }));
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
  });

  afterAll(async () => {
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("says the CRDs are missing, then shows streams and subscriptions from their status", async () => {
    const before = await run(["status", "--kubeconfig", kube.kubeconfigPath]);
    expect(before.code).toBe(1);
    expect(before.err).toMatch(/does not know the JetMesh resources.*CRDs/);

    await exec(KUBECTL, ["--kubeconfig", kube.kubeconfigPath, "apply", "-f", join(root, "crds")]);
    await exec(KUBECTL, ["--kubeconfig", kube.kubeconfigPath, "wait", "--for=condition=Established", "--timeout=30s", "-f", join(root, "crds")]);
    await exec(KUBECTL, ["--kubeconfig", kube.kubeconfigPath, "apply", "-f", join(root, "examples")]);
    const status = (plural: string, name: string, body: object) =>
      custom.patchNamespacedCustomObjectStatus(
        { group: "jetmesh.io", version: "v1alpha1", namespace: "shop", plural, name, body: { status: body } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
    const now = new Date().toISOString();
    await status("eventstreams", "events", {
      conditions: [{ type: "Ready", status: "True", reason: "StreamReady", message: "ok", lastTransitionTime: now }],
      streamName: "shop_events",
      messages: 1234,
      lastSequence: 1240,
    });
    await status("eventsubscriptions", "payment", {
      conditions: [
        { type: "Ready", status: "True", reason: "Ready", message: "ok", lastTransitionTime: now },
        {
          type: "DeliveryFailing",
          status: "True",
          reason: "Retrying",
          message: "3 retried since t0; last at t1 by payment, retried: processor down",
          lastTransitionTime: now,
        },
      ],
      consumerName: "shop_payment",
      lag: { pending: 812, ackPending: 100, redelivered: 3 },
      replicas: { current: 3, desired: 4 },
      lastScaleTime: new Date(Date.now() - 90_000).toISOString(),
      lastScaleReason: "lag 912 over 3 replicas exceeds 100 per replica",
    });
    await status("eventsubscriptions", "shipping", {
      conditions: [{ type: "Ready", status: "False", reason: "StreamNotFound", message: "EventStream shop/events is not ready", lastTransitionTime: now }],
    });

    const r = await run(["status", "-n", "shop"], { KUBECONFIG: kube.kubeconfigPath });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^shop\s+events\s+True\s+StreamReady\s+shop_events\s+1234\s+1240$/m);
    expect(r.out).toMatch(/^shop\s+dead-letters\s+Unknown\s+NotReconciled\s+-\s+-\s+-$/m);
    expect(r.out).toMatch(/^shop\s+payment\s+events\s+True\s+Ready\s+812\s+100\s+3\s+3\/4\s+payment$/m);
    expect(r.out).toMatch(/^shop\/shipping: StreamNotFound: EventStream shop\/events is not ready$/m);
    expect(r.out).toMatch(/^LAST SCALE\nshop\/payment: (89|90|91)s ago: lag 912 over 3 replicas exceeds 100 per replica$/m);
    expect(r.out).toMatch(/^FAILING DELIVERIES \(last minute\)\nshop\/payment: 3 retried since t0; last at t1 by payment, retried: processor down$/m);

    const json = await run(["status", "-A", "-o", "json", "--kubeconfig", kube.kubeconfigPath]);
    const report = JSON.parse(json.out) as { subscriptions: { metadata: { name: string } }[] };
    expect(report.subscriptions.map((s) => s.metadata.name)).toEqual(["inventory", "notifications", "order", "payment", "shipping"]);

    // The same through kubectl's plugin mechanism: kubectl finds kubectl-jetmesh on PATH.
    const pluginDir = join(dir, "bin");
    rmSync(pluginDir, { recursive: true, force: true });
    mkdirSync(pluginDir);
    symlinkSync(bin, join(pluginDir, "kubectl-jetmesh"));
    const env = { ...process.env, KUBECONFIG: kube.kubeconfigPath, PATH: `${pluginDir}:${dirname(process.execPath)}:${process.env.PATH}` };
    const plugin = await exec(KUBECTL, ["jetmesh", "status", "-n", "shop"], { env });
    expect(plugin.stdout).toMatch(/^shop\s+payment\s+events\s+True\s+Ready\s+812\s+100\s+3\s+3\/4\s+payment$/m);

    // With the machine's older Node first on PATH, the shim still runs the CLI with the pinned Node.
    if (existsSync("/usr/bin/node")) {
      const old = await exec(KUBECTL, ["jetmesh", "status", "-n", "shop"], { env: { ...env, PATH: `${pluginDir}:/usr/bin:${process.env.PATH}` } });
      expect(old.stdout).toMatch(/^shop\s+events\s+True\s+StreamReady/m);
    }
  });

  it("exits 3 when the API server cannot be reached or the kubeconfig is unusable", async () => {
    const port = await freePort();
    const cfg = join(dir, "dead-kubeconfig");
    writeFileSync(
      cfg,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const r = await run(["status"], { KUBECONFIG: cfg });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(new RegExp(`cannot reach the Kubernetes API server at http://127.0.0.1:${port}`));

    const missing = await run(["status", "--kubeconfig", join(dir, "nope")]);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/cannot read kubeconfig/);

    // Through the bin script: the exit code survives the shim.
    const viaBin = await exec(process.execPath, [bin, "status"], { env: { ...process.env, KUBECONFIG: cfg } }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((viaBin as { code: number }).code).toBe(3);
  });
});
