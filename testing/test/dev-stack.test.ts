// Acceptance test of `make dev` (issue 7): the whole stack on free ports in a temporary state
// directory — a subscription applied with real kubectl, orders shipped, a killed service
// restarted, a backlog scaled away with the runner following the operator, a dead letter
// replayed, and nothing left running after stop.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { toolPath, waitFor } from "../src/index.ts";
import { devTestEnv } from "./dev-helpers.ts";
import { parseDevConfig } from "../src/dev/config.ts";
import { loadKubeconfig } from "../src/dev/kubeconfig.ts";
import { orderBody } from "../src/dev/orders.ts";
import { pidAlive } from "../src/dev/proc.ts";
import { isOurs, readPidFile, reapLeftovers, writePidFile } from "../src/dev/pids.ts";
import { startDevStack, type DevStack } from "../src/dev/stack.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const exec = promisify(execFile);

// The jetmesh CLI as a user runs it next to `make dev` (its executable, not its module).
const cli = (argv: string[], env: Record<string, string | undefined>) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, "services/cli/bin/jetmesh.js"), ...argv], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out: out.trimEnd(), err: err.trimEnd() }));
  });

describe("make dev", () => {
  let dir: string;
  let stack: DevStack;
  let config: ReturnType<typeof parseDevConfig>;
  let nc: NatsConnection;
  let apps: k8s.AppsV1Api;
  const lines: string[] = [];
  const log = new PassThrough();
  log.on("data", (b: Buffer) => {
    lines.push(...b.toString().split("\n").filter(Boolean));
    if (lines.length > 2000) lines.splice(0, lines.length - 2000);
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "jetmesh-dev-"));
    config = parseDevConfig(
      // A slower processor than the default, so a burst surely outlasts an autoscaler poll.
      devTestEnv(join(dir, "state"), { JETMESH_DEV_GRACE_SECONDS: "5", JETMESH_DEV_PAYMENT_LATENCY_MS: "100" }),
      root,
    );
    stack = await startDevStack(config, log, (m) => lines.push(`==> ${m}`));
    nc = await connect({ servers: stack.endpoints.natsUrl });
    apps = loadKubeconfig(stack.endpoints.kubeconfig).makeApiClient(k8s.AppsV1Api);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const workload = (name: string) => stack.runner.snapshot().workloads.find((w) => w.name === name);
  const alive = (name: string) => workload(name)?.replicas.filter((r) => r.alive) ?? [];

  it("refuses to start on a taken port, naming its variable, before starting anything", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const taken = (blocker.address() as { port: number }).port;
    const state = join(dir, "clash");
    try {
      const clash = parseDevConfig(
        {
          JETMESH_DEV_DIR: state,
          JETMESH_DEV_KUBE_PORT: String(taken),
          JETMESH_DEV_NATS_PORT: "0",
          JETMESH_DEV_NATS_MONITOR_PORT: "0",
          JETMESH_DEV_ORDER_PORT: "0",
          JETMESH_DEV_OPERATOR_PORT: "0",
          JETMESH_DEV_PROMETHEUS: "off",
        },
        root,
      );
      await expect(startDevStack(clash, log, () => {})).rejects.toThrow(`ports in use: 127.0.0.1:${taken} (JETMESH_DEV_KUBE_PORT)`);
      expect(existsSync(join(state, "pids.json"))).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it("refuses to start next to a running stack, and reaps what a killed one left behind", async () => {
    const state = join(dir, "pids");
    mkdirSync(state, { recursive: true });
    const running = spawn("sleep", ["30"], { stdio: "ignore" });
    const leftover = spawn("sleep", ["31"], { stdio: "ignore" });
    try {
      const cfg = parseDevConfig({ JETMESH_DEV_DIR: state, JETMESH_DEV_PROMETHEUS: "off" }, root);
      writePidFile(join(state, "pids.json"), { main: running.pid as number, mainMatch: "sleep 30", children: [] });
      await expect(startDevStack(cfg, log, () => {})).rejects.toThrow(`a dev stack is already running (pid ${running.pid}`);
      // A dead main: its children are stopped, but only those whose command line still matches.
      writePidFile(join(state, "pids.json"), {
        main: 999_999_999,
        children: [
          { name: "leftover", pid: leftover.pid as number, match: "sleep 31" },
          { name: "recycled", pid: running.pid as number, match: "nats-server" },
        ],
      });
      expect(await reapLeftovers(join(state, "pids.json"), 2_000)).toEqual([`leftover (pid ${leftover.pid})`]);
      expect(pidAlive(leftover.pid as number)).toBe(false);
      expect(pidAlive(running.pid as number)).toBe(true);
    } finally {
      running.kill("SIGKILL");
      leftover.kill("SIGKILL");
    }
  });

  it("make dev's entry point: prints what runs where, is recognised by a second start, stops on SIGTERM", async () => {
    const state = join(dir, "entry");
    const env = {
      ...process.env,
      JETMESH_DEV_DIR: state,
      JETMESH_DEV_NATS_PORT: "0",
      JETMESH_DEV_NATS_MONITOR_PORT: "0",
      JETMESH_DEV_KUBE_PORT: "0",
      JETMESH_DEV_ORDER_PORT: "0",
      JETMESH_DEV_OPERATOR_PORT: "0",
      JETMESH_DEV_PROMETHEUS: "off",
      JETMESH_DEV_GRACE_SECONDS: "3",
    };
    // Started as the Makefile does: a relative script path.
    const main = spawn(process.execPath, ["--conditions=source", "testing/src/dev/main.ts"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    main.stdout.on("data", (b: Buffer) => (out += b.toString()));
    main.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => main.once("exit", (code) => r(code)));
    try {
      await waitFor("the summary", () => out.includes("JetMesh dev stack is running"), { timeoutMs: 40_000, intervalMs: 100 });
      expect(out).toMatch(/order API\s+http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toContain(`export KUBECONFIG=${join(state, "kubeconfig")}`);
      const cfg = parseDevConfig({ JETMESH_DEV_DIR: state, JETMESH_DEV_PROMETHEUS: "off" }, root);
      await expect(startDevStack(cfg, log, () => {})).rejects.toThrow(`a dev stack is already running (pid ${main.pid}`);
      const children = (readPidFile(join(state, "pids.json"))?.children ?? []).map((c) => c.pid);
      expect(children.length).toBeGreaterThanOrEqual(2);
      main.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(out).toMatch(/==> stopped; state kept in/);
      expect(children.filter((p) => pidAlive(p))).toEqual([]);
    } finally {
      main.kill("SIGKILL");
    }
  });

  // Each wait below is for a condition; its deadline only bounds a hang, so it is generous (three
  // times what a quiet 2-core machine needs: the flake hunt runs with the machine loaded).
  it("runs the shop end to end, heals, scales, replays, stops cleanly and restarts on its state", async () => {
    onTestFailed(() => {
      process.stderr.write(`---- last dev stack output ----\n${lines.slice(-150).join("\n")}\n`);
    });
    const ep = stack.endpoints;
    const env = { KUBECONFIG: ep.kubeconfig, NATS_URL: ep.natsUrl };

    // The pid file identifies this process by its own command line, so a second `make dev`
    // recognises it as running (and does not take it for leftovers to reap).
    const pf = readPidFile(join(config.stateDir, "pids.json"));
    expect(pf?.main).toBe(process.pid);
    expect(isOurs(process.pid, pf?.mainMatch ?? "")).toBe(true);

    // Every shop service runs one ready replica.
    await waitFor("4 services ready", () => ["inventory", "payment", "order", "shipping"].every((n) => workload(n)?.replicas.some((r) => r.ready)), {
      timeoutMs: 90_000,
      intervalMs: 200,
    });

    // An extra subscription, applied with the real kubectl, becomes a consumer.
    const extra = join(dir, "audit.yaml");
    writeFileSync(
      extra,
      [
        "apiVersion: jetmesh.io/v1alpha1",
        "kind: EventSubscription",
        "metadata: { name: audit, namespace: shop }",
        "spec:",
        "  stream: events",
        '  types: ["shop.shipment.dispatched.v1"]',
        "  delivery: { startFrom: all }",
        "",
      ].join("\n"),
    );
    const applied = await exec(toolPath("kubectl"), ["apply", "-f", extra], { env: { ...process.env, ...env } });
    expect(applied.stdout).toMatch(/eventsubscription.jetmesh.io\/audit created/);
    const jsm = await jetstreamManager(nc);
    await waitFor("consumer shop_audit", () => jsm.consumers.info("shop_events", "shop_audit").then(() => true), { timeoutMs: 60_000, intervalMs: 200 });

    // Orders through the order API (the proxy) are shipped.
    const post = async (i: number) => {
      const res = await fetch(`${ep.orderUrl}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(orderBody(i)) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const first = await Promise.all([0, 1, 2].map(post));
    await waitFor(
      "first orders shipped",
      async () => {
        const states = await Promise.all(first.map(async (id) => ((await (await fetch(`${ep.orderUrl}/orders/${id}`)).json()) as { status: string }).status));
        return states.every((s) => s === "shipped");
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );

    // The Python notifications service, pushed to by its dispatcher, notifies shipped orders.
    await waitFor(
      "notifications of the first orders",
      async () => {
        const i = await jsm.streams.info("shop_events", { subjects_filter: "shop.notification.sent.v1" });
        return (i.state.subjects?.["shop.notification.sent.v1"] ?? 0) >= first.length;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // The HTTP ingress takes an event with the dev producer's token.
    const token = (JSON.parse(readFileSync(ep.ingressTokensFile, "utf8")) as { producers: { token: string }[] }).producers[0]!.token;
    const ingressAnswer = await fetch(`${ep.ingressUrl}/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/cloudevents+json" },
      body: JSON.stringify({ specversion: "1.0", id: "dev-ingress-1", source: "/dev-test", type: "shop.dev.ping.v1", data: { ok: true } }),
    });
    expect(ingressAnswer.status).toBe(202);

    // A killed service process is started again by the runner.
    const victim = alive("shipping")[0];
    expect(victim?.pid).toBeDefined();
    process.kill(victim?.pid as number, "SIGKILL");
    await waitFor(
      "shipping-0 restarted",
      () => {
        const r = workload("shipping")?.replicas[0];
        return r?.alive && r.ready && r.pid !== victim?.pid && r.restarts >= 1;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    // A backlog on payment (slow processor): the operator raises replicas, the runner follows.
    const burst: string[] = [];
    for (let b = 0; b < 8; b++) burst.push(...(await Promise.all(Array.from({ length: 50 }, (_, k) => post(100 + b * 50 + k)))));
    const scaled = await waitFor(
      "payment scaled up by the operator",
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "payment", namespace: "shop" });
        return (d.spec?.replicas ?? 1) > 1 ? d.spec?.replicas : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    await waitFor(
      "runner runs as many payment processes as the operator asked",
      async () => {
        const d = await apps.readNamespacedDeployment({ name: "payment", namespace: "shop" });
        const want = d.spec?.replicas ?? 0;
        return want >= scaled && alive("payment").length === want && workload("payment")?.replicas.filter((r) => r.ready).length === want;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await waitFor(
      "backlog drained",
      async () => {
        const ci = await jsm.consumers.info("shop_events", "shop_payment");
        return ci.num_pending + ci.num_ack_pending === 0;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

    // A dead letter (an event failing its schema) is replayed as a fresh delivery.
    const h = headers();
    h.set("ce-id", "dev-acceptance-bad-1");
    h.set("ce-type", "shop.order.placed.v1");
    h.set("ce-source", "/dev-acceptance");
    h.set("ce-specversion", "1.0");
    h.set("ce-datacontenttype", "application/json");
    await jetstream(nc).publish("shop.order.placed.v1", JSON.stringify({ bogus: true }), { msgID: "dev-acceptance-bad-1", headers: h });
    const dlqSeq = await waitFor(
      "the bad event dead-lettered",
      async () => {
        const r = await cli(["dlq", "list", "-n", "shop", "-o", "json"], env);
        const hit = (JSON.parse(r.out || "[]") as { seq: number; ceId: string; reason: string }[]).find((d) => d.ceId === "dev-acceptance-bad-1");
        return hit?.seq;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    const replay = await cli(["dlq", "replay", String(dlqSeq), "-n", "shop"], env);
    expect(replay.err).toBe("");
    expect(replay.out).toMatch(/ce-id dev-acceptance-bad-1 → stream seq \d+, dead letter deleted/);
    // Delivered again (not dropped as a duplicate), so the subscriber dead-letters it again:
    // a new entry with the same CloudEvent id.
    await waitFor(
      "the replayed event delivered and dead-lettered again",
      async () => {
        const r = await cli(["dlq", "list", "-n", "shop", "-o", "json"], env);
        const hits = (JSON.parse(r.out || "[]") as { seq: number; ceId: string }[]).filter((d) => d.ceId === "dev-acceptance-bad-1");
        return hits.length === 1 && hits[0]!.seq > dlqSeq;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );

    // The shop's invariants hold over everything above, and status reads the live resources.
    const verify = await cli(["shop", "verify", "--settle", "30"], env);
    expect(verify.out).toMatch(/OK: no invariant violated/);
    expect(verify.code).toBe(0);
    const status = await cli(["status", "-n", "shop"], env);
    expect(status.out).toMatch(/^shop\s+audit\s+events\s+True/m);

    // Stop: every process the stack started is gone, and so are its servers.
    const pids = stack.livePids();
    expect(pids.length).toBeGreaterThanOrEqual(6); // nats, operator, 4+ service replicas
    await stack.stop();
    expect(pids.filter((p) => pidAlive(p))).toEqual([]);
    await expect(fetch(`${ep.kubeUrl}/version`)).rejects.toThrow();
    await expect(fetch(`${ep.orderUrl}/orders/x`)).rejects.toThrow();

    // A second start reuses the state directory: orders, streams and resources are still there.
    const again = await startDevStack(config, log, (m) => lines.push(`==> ${m}`));
    let againPids: number[] = [];
    try {
      const url = `${again.endpoints.orderUrl}/orders/${first[0]}`;
      const order = await waitFor(
        "the first order through the new stack",
        async () => {
          const res = await fetch(url);
          return res.ok ? ((await res.json()) as { status: string }) : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );
      expect(order.status).toBe("shipped");
      const st = await cli(["status", "-n", "shop"], { KUBECONFIG: again.endpoints.kubeconfig });
      expect(st.out).toMatch(/^shop\s+audit\s+events\s/m);
      againPids = again.livePids();
    } finally {
      await again.stop();
    }
    expect(againPids.filter((p) => pidAlive(p))).toEqual([]);
  }, 600_000);
});
