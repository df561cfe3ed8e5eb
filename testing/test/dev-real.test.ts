// `make dev KUBE=real`: the same dev stack on etcd + kube-apiserver from the tools cache instead
// of the embedded API test server. The process runner stays the stand-in for the Deployment
// controller and the kubelet (no kube-controller-manager: docs/dev.md says why), so Deployment
// status on the real apiserver is written by the runner; the shop runs end to end, and a second
// start reuses etcd's data.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { toolPath, waitFor } from "../src/index.ts";
import { parseDevConfig } from "../src/dev/config.ts";
import { devTestEnv } from "./dev-helpers.ts";
import { orderBody } from "../src/dev/orders.ts";
import { startDevStack, type DevStack } from "../src/dev/stack.ts";

const exec = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));

describe("make dev KUBE=real", () => {
  let dir: string;
  let stack: DevStack | undefined;
  const lines: string[] = [];
  const log = new PassThrough();
  log.on("data", (b: Buffer) => lines.push(...b.toString().split("\n").filter(Boolean).slice(-500)));
  const config = () => parseDevConfig(devTestEnv(join(dir, "state"), { JETMESH_DEV_KUBE: "real", JETMESH_DEV_GRACE_SECONDS: "5" }), root);
  const kubectl = (args: string[]) => exec(toolPath("kubectl"), ["--kubeconfig", stack!.endpoints.kubeconfig, ...args]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "jetmesh-dev-real-"));
    stack = await startDevStack(config(), log, (m) => lines.push(`==> ${m}`));
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the shop on kube-apiserver: Ready resources, runner-written Deployment status, an order shipped", async () => {
    onTestFailed(() => {
      process.stderr.write(`---- dev stack output ----\n${lines.slice(-120).join("\n")}\n`);
    });
    const version = JSON.parse((await kubectl(["version", "-o", "json"])).stdout) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.35\./);
    await kubectl(["-n", "shop", "wait", "--for=condition=Ready", "eventstreams,eventsubscriptions", "--all", "--timeout=90s"]);
    await waitFor(
      "the runner to report a ready replica of each shop Deployment on the real apiserver",
      async () => {
        const list = JSON.parse((await kubectl(["-n", "shop", "get", "deployments", "-o", "json"])).stdout) as {
          items: { metadata: { name: string }; status?: { readyReplicas?: number } }[];
        };
        return ["order", "inventory", "payment", "shipping"].every((n) => (list.items.find((d) => d.metadata.name === n)?.status?.readyReplicas ?? 0) >= 1);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const res = await fetch(`${stack!.endpoints.orderUrl}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(orderBody(1)),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await waitFor(
      `order ${id} shipped`,
      async () => ((await (await fetch(`${stack!.endpoints.orderUrl}/orders/${id}`)).json()) as { status: string }).status === "shipped",
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  });

  it("restarts on its state: etcd's data is reused", async () => {
    await kubectl(["-n", "shop", "label", "eventstream", "events", "kept=yes"]);
    await stack!.stop();
    stack = await startDevStack(config(), log, (m) => lines.push(`==> ${m}`));
    expect((await kubectl(["-n", "shop", "get", "eventstream", "events", "-o", "jsonpath={.metadata.labels.kept}"])).stdout).toBe("yes");
  }, 180_000);
});
