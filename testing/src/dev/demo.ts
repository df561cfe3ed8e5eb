// `make demo`: drives orders against the running dev stack (open loop: requests start on a
// fixed schedule whether or not earlier ones finished) and prints one progress line per second
// — rate, latency, backlog per subscription, replicas per service — so lag growing, replicas
// scaling up and the backlog draining are visible. Ends with the shop invariant checker.
//   make demo DEMO_ARGS="--rate 200 --duration 60"
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as k8s from "@kubernetes/client-node";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { devPaths } from "./config.ts";
import { loadKubeconfig } from "./kubeconfig.ts";
import { SagaClock, drained, formatProgress } from "./progress.ts";
import type { DevEndpoints } from "./stack.ts";
import { DEMO_SKUS, orderBody } from "./orders.ts";
import { runShopVerify } from "./verify.ts";

const rootDir = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

interface DemoOptions {
  rate: number;
  durationS: number;
  drainTimeoutS: number;
  namespace: string;
}

function options(): DemoOptions {
  const { values } = parseArgs({
    options: {
      rate: { type: "string", default: process.env.DEMO_RATE ?? "150" },
      duration: { type: "string", default: process.env.DEMO_DURATION ?? "30" },
      "drain-timeout": { type: "string", default: "240" },
      namespace: { type: "string", default: "shop" },
    },
  });
  const num = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${v}`);
    return n;
  };
  return {
    rate: num("rate", values.rate, 0.1),
    durationS: num("duration", values.duration, 1),
    drainTimeoutS: num("drain-timeout", values["drain-timeout"], 1),
    namespace: values.namespace ?? "shop",
  };
}

interface Watched {
  subscription: string;
  stream: string;
  consumer: string;
  deployment: string | undefined;
}

async function watchedSubscriptions(kc: k8s.KubeConfig, ns: string): Promise<Watched[]> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({ group: "jetmesh.io", version: "v1alpha1", namespace: ns, plural: "eventsubscriptions" })) as {
    items?: { metadata?: { name?: string }; spec?: { stream?: string; subscriber?: { deployment?: string } } }[];
  };
  return (list.items ?? []).map((s) => ({
    subscription: s.metadata?.name ?? "",
    stream: `${ns}_${s.spec?.stream}`,
    consumer: `${ns}_${s.metadata?.name}`,
    deployment: s.spec?.subscriber?.deployment,
  }));
}

async function backlogs(jsm: JetStreamManager, subs: Watched[]): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  await Promise.all(
    subs.map(async (s) => {
      try {
        const ci = await jsm.consumers.info(s.stream, s.consumer);
        out[s.subscription] = ci.num_pending + ci.num_ack_pending;
      } catch {
        out[s.subscription] = undefined;
      }
    }),
  );
  return out;
}

async function replicaCounts(apps: k8s.AppsV1Api, ns: string, subs: Watched[]): Promise<Record<string, { ready: number; desired: number } | undefined>> {
  const out: Record<string, { ready: number; desired: number } | undefined> = {};
  const list = await apps.listNamespacedDeployment({ namespace: ns });
  for (const s of subs) {
    const d = list.items.find((x) => x.metadata?.name === s.deployment);
    out[s.subscription] = d ? { ready: d.status?.readyReplicas ?? 0, desired: d.spec?.replicas ?? 0 } : undefined;
  }
  return out;
}

async function main(): Promise<number> {
  const opts = options();
  const paths = devPaths(resolve(rootDir, process.env.JETMESH_DEV_DIR ?? ".dev"));
  if (!existsSync(paths.endpoints)) {
    process.stderr.write(`make demo: no running dev stack (${paths.endpoints} is missing). Start it first in another terminal: make dev\n`);
    return 1;
  }
  const ep = JSON.parse(readFileSync(paths.endpoints, "utf8")) as DevEndpoints;
  const kc = loadKubeconfig(ep.kubeconfig);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  let nc;
  try {
    nc = await connect({ servers: ep.natsUrl, timeout: 3_000, maxReconnectAttempts: 3 });
  } catch (err) {
    process.stderr.write(`make demo: cannot connect to NATS at ${ep.natsUrl} (${(err as Error).message}); is make dev still running?\n`);
    return 1;
  }
  const jsm = await jetstreamManager(nc);
  const subs = await watchedSubscriptions(kc, opts.namespace);
  process.stdout.write(
    `==> demo: ${opts.rate} orders/s for ${opts.durationS} s against ${ep.orderUrl} (SKUs ${DEMO_SKUS.join(", ")}), then waiting for the backlog to drain\n`,
  );

  let ok = 0;
  let failed = 0;
  let inFlight = 0;
  let startedInWindow = 0;
  let latencies: number[] = [];
  // Saga latency: the order service writes each order's record to the KV bucket shop_orders
  // (services/shop/src/state.ts); a core subscription on the bucket's subjects sees every
  // update without creating a consumer. A terminal status ends the order's saga.
  const saga = new SagaClock();
  const kvPrefix = "$KV.shop_orders.order.";
  const terminal = /"status":"(shipped|cancelled)"/;
  const kvSub = nc.subscribe(`${kvPrefix}>`, {
    callback: (err, m) => {
      if (err) return;
      const head = new TextDecoder().decode(m.data.subarray(0, 200));
      if (terminal.test(head)) saga.finish(m.subject.slice(kvPrefix.length), performance.now());
    },
  });
  const errors = new Map<string, number>();
  const maxReplicas: Record<string, number> = {};
  const t0 = Date.now();
  // The first order carries a traceparent of ours, so its trace can be linked at the end.
  const traced = { traceId: randomBytes(16).toString("hex"), orderId: undefined as string | undefined };
  let sent = 0;
  let loadDone = false;
  const send = () => {
    const i = sent++;
    startedInWindow++;
    inFlight++;
    const began = performance.now();
    void fetch(`${ep.orderUrl}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(i === 0 ? { traceparent: `00-${traced.traceId}-${randomBytes(8).toString("hex")}-01` } : {}) },
      body: JSON.stringify(orderBody(i)),
      signal: AbortSignal.timeout(15_000),
    })
      .then(async (res) => {
        if (res.ok) {
          ok++;
          const body = (await res.json().catch(() => ({}))) as { id?: string };
          if (body.id) saga.accept(body.id, performance.now());
          if (i === 0) traced.orderId = body.id;
        } else {
          await res.body?.cancel();
          failed++;
          errors.set(`HTTP ${res.status}`, (errors.get(`HTTP ${res.status}`) ?? 0) + 1);
        }
      })
      .catch((err: Error) => {
        failed++;
        errors.set(err.name, (errors.get(err.name) ?? 0) + 1);
      })
      .finally(() => {
        inFlight--;
        latencies.push(performance.now() - began);
      });
  };
  // Open loop: every 10 ms, start as many requests as the schedule says are due.
  const ticker = setInterval(() => {
    if (loadDone) return;
    const due = Math.floor(((Date.now() - t0) / 1000) * opts.rate);
    while (sent < due && inFlight < 5_000) send();
  }, 10);

  let quietSeconds = 0;
  let lastTick = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 1_000));
    const now = Date.now();
    const elapsedS = (now - t0) / 1000;
    if (!loadDone && elapsedS >= opts.durationS) {
      loadDone = true;
      clearInterval(ticker);
    }
    const [backlog, replicas] = await Promise.all([backlogs(jsm, subs), replicaCounts(apps, opts.namespace, subs).catch(() => ({}))]);
    for (const [name, r] of Object.entries(replicas)) if (r) maxReplicas[name] = Math.max(maxReplicas[name] ?? 0, r.desired);
    process.stdout.write(
      formatProgress({
        elapsedS,
        phase: loadDone ? "drain" : "load",
        rate: (startedInWindow * 1000) / (now - lastTick),
        ok,
        failed,
        latenciesMs: latencies,
        sagaMs: saga.take(),
        backlog,
        replicas,
      }) + "\n",
    );
    startedInWindow = 0;
    latencies = [];
    lastTick = now;
    if (loadDone) {
      quietSeconds = drained(backlog) && inFlight === 0 && saga.open === 0 ? quietSeconds + 1 : 0;
      if (quietSeconds >= 3) break;
      if (elapsedS > opts.durationS + opts.drainTimeoutS) {
        process.stdout.write(`==> not drained within ${opts.drainTimeoutS} s: ${saga.open} accepted orders unfinished\n`);
        break;
      }
    }
  }
  kvSub.unsubscribe();
  process.stdout.write(
    `==> sent ${sent} orders: ${ok} accepted, ${failed} failed${errors.size ? ` (${[...errors].map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""}\n`,
  );
  process.stdout.write(
    `==> most replicas per service: ${Object.entries(maxReplicas)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}\n`,
  );
  process.stdout.write("==> invariant check (every order terminal exactly once, stock conserved, no double charge):\n");
  const verdict = await runShopVerify(rootDir, ep.natsUrl, 60, (line) => process.stdout.write(`    ${line}\n`));
  process.stdout.write(verdict.text + "\n");
  if (ep.jaegerUrl && traced.orderId)
    process.stdout.write(
      `==> one order's trace (${traced.orderId}, through all four services): ${ep.jaegerUrl}/trace/${traced.traceId} (JSON: ${ep.jaegerUrl}/api/traces/${traced.traceId})\n`,
    );
  else if (!ep.jaegerUrl) process.stdout.write("==> traces: Jaeger is not running (tools/ensure.sh jaeger builds it; the next make dev starts it)\n");
  await nc.close();
  return verdict.ok && failed === 0 ? 0 : 1;
}

process.exitCode = await main();
