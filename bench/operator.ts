// npm run bench:operator [-- --subscriptions N --streams S --singles K]
//
// Creates N EventSubscriptions (default 1,000, over 10 EventStreams) at once against the
// Kubernetes API test server and one nats-server, with the operator running as its own
// process (so its memory can be measured), and measures:
//   - seconds until every subscription is Ready (Ready=True seen through a watch),
//   - p50/p99 of create → Ready for single applies on an idle operator,
//   - the operator's resident memory after all are Ready (and its peak).
// Baseline measured in the same run: creating the same number of consumers directly with
// nats.js (the floor the operator's JetStream work cannot beat).
// Progress on stderr; one JSON line last on stdout.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePort, startKubeApiServer, startNats, toolPath, waitFor } from "@jetmesh/testing";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import type { EventSubscription } from "@jetmesh/operator";
import { Informer } from "@jetmesh/operator/kube/informer";
import { KubeRest } from "@jetmesh/operator/kube/rest";

function arg(name: string, env: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : process.env[env];
  const v = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} / ${env}: expected a positive integer, got ${raw}`);
  return v;
}
const N = arg("subscriptions", "BENCH_SUBSCRIPTIONS", 1000);
const S = arg("streams", "BENCH_STREAMS", 10);
const SINGLES = arg("singles", "BENCH_SINGLES", 50);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const progress = (msg: string) => process.stderr.write(`[bench:operator] ${msg}\n`);

const SUBS = { group: "jetmesh.io", version: "v1alpha1", plural: "eventsubscriptions" };
const STREAMS = { group: "jetmesh.io", version: "v1alpha1", plural: "eventstreams" };
const NS = "bench";

function rssMb(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const subscription = (name: string, stream: number, type: string) => ({
  apiVersion: "jetmesh.io/v1alpha1",
  kind: "EventSubscription",
  metadata: { name, namespace: NS },
  spec: { stream: `s${stream}`, types: [type] },
});

async function main(): Promise<void> {
  progress(`starting API test server and nats-server (${N} subscriptions over ${S} streams)`);
  const kube = await startKubeApiServer({ historyLimit: 20 * N });
  const nats = await startNats();
  // Async: the API test server runs in this process and must keep answering kubectl.
  await promisify(execFile)(toolPath("kubectl"), ["--kubeconfig", kube.kubeconfigPath, "apply", "-f", `${ROOT}crds`]);
  const rest = KubeRest.fromFile(kube.kubeconfigPath);
  await rest.create({ group: "", version: "v1", plural: "namespaces" }, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });

  // Baseline: the same number of consumers created directly, 32 requests in flight.
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "baseline", subjects: ["baseline.>"] });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) {
        const i = next++;
        await jsm.consumers.add("baseline", { durable_name: `c${i}`, ack_policy: "explicit", filter_subject: `baseline.t${i}` });
      }
    }),
  );
  const baselineSeconds = (performance.now() - t0) / 1000;
  await jsm.streams.delete("baseline");
  await nc.close();
  progress(`baseline: ${N} consumers created directly in ${baselineSeconds.toFixed(2)} s`);

  const httpPort = await freePort();
  // The same V8 flag the chart's container command uses (docs/operator.md, "Resources").
  const nodeFlags = (process.env.BENCH_OPERATOR_NODE_FLAGS ?? "--max-semi-space-size=4").split(" ").filter(Boolean);
  const op = spawn(process.execPath, [...nodeFlags, "--conditions=source", `${ROOT}operator/src/main.ts`], {
    env: {
      ...process.env,
      KUBECONFIG: kube.kubeconfigPath,
      NATS_URL: nats.url,
      HTTP_PORT: String(httpPort),
      HTTP_HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      LEADER_ELECTION: "false",
      ...(process.env.BENCH_WORKERS ? { WORKERS: process.env.BENCH_WORKERS } : {}),
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const pid = op.pid as number;
  try {
    await waitFor("operator /readyz", async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok, { timeoutMs: 30_000, intervalMs: 100 });

    // Watch Ready transitions from the outside, as `kubectl wait` would.
    const readyAt = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    const informer = new Informer<EventSubscription>(
      rest,
      SUBS,
      (_t, o) => {
        const ready = o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        if (ready && !readyAt.has(o.metadata.name)) {
          readyAt.set(o.metadata.name, performance.now());
          waiters.get(o.metadata.name)?.();
        }
      },
      { stallTimeoutMs: 60_000, watchTimeoutSeconds: 600 },
      pino({ level: "silent" }),
    );
    informer.start();
    await informer.synced;

    for (let s = 0; s < S; s++) {
      await rest.create(STREAMS, NS, {
        apiVersion: "jetmesh.io/v1alpha1",
        kind: "EventStream",
        metadata: { name: `s${s}`, namespace: NS },
        spec: { subjects: [`bench.s${s}.>`] },
      });
    }
    const streamInformerReady = async () => {
      const list = await rest.list<{ status?: { conditions?: { type: string; status: string }[] } }>(STREAMS, NS);
      return list.items.filter((x) => x.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length === S;
    };
    await waitFor("streams Ready", streamInformerReady, { timeoutMs: 30_000, intervalMs: 50 });
    const idleRss = rssMb(pid).rss;
    progress(`${S} EventStreams Ready; operator RSS ${idleRss.toFixed(0)} MB`);

    // Single applies on an idle operator.
    const singles: number[] = [];
    for (let i = 0; i < SINGLES; i++) {
      const name = `single-${i}`;
      const seen = new Promise<void>((r) => waiters.set(name, r));
      const start = performance.now();
      await rest.create(SUBS, NS, subscription(name, i % S, `bench.s${i % S}.single${i}`));
      await Promise.race([seen, new Promise((_, rej) => setTimeout(() => rej(new Error(`${name} not Ready in 10 s`)), 10_000))]);
      singles.push((readyAt.get(name) as number) - start);
    }
    singles.sort((a, b) => a - b);
    progress(`single applies: p50 ${pct(singles, 50).toFixed(1)} ms, p99 ${pct(singles, 99).toFixed(1)} ms`);

    // N at once.
    const names = Array.from({ length: N }, (_, i) => `sub-${i}`);
    const createdAt = new Map<string, number>();
    const burstStart = performance.now();
    let k = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (k < N) {
          const i = k++;
          const name = names[i] as string;
          createdAt.set(name, performance.now());
          await rest.create(SUBS, NS, subscription(name, i % S, `bench.s${i % S}.t${i}`));
        }
      }),
    );
    const createdSeconds = (performance.now() - burstStart) / 1000;
    progress(`${N} EventSubscriptions created in ${createdSeconds.toFixed(2)} s; waiting for Ready`);
    let lastReport = 0;
    let peakRss = 0;
    await waitFor(
      `all ${N} Ready`,
      () => {
        const done = names.filter((n) => readyAt.has(n)).length;
        peakRss = Math.max(peakRss, rssMb(pid).rss);
        if (performance.now() - lastReport > 2000) {
          lastReport = performance.now();
          progress(`${done}/${N} Ready after ${((performance.now() - burstStart) / 1000).toFixed(1)} s`);
        }
        return done === N;
      },
      { timeoutMs: 180_000, intervalMs: 50 },
    );
    const allReady = Math.max(...names.map((n) => readyAt.get(n) as number));
    const secondsToAllReady = (allReady - burstStart) / 1000;
    const mem = rssMb(pid);
    const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(m)?.[1] ?? NaN) / 1048576;
    progress(
      `operator heap used ${metric("nodejs_heap_size_used_bytes").toFixed(0)} MB of ${metric("nodejs_heap_size_total_bytes").toFixed(0)} MB; external ${metric("nodejs_external_memory_bytes").toFixed(0)} MB`,
    );
    progress(`all ${N} Ready in ${secondsToAllReady.toFixed(2)} s; operator RSS ${mem.rss.toFixed(0)} MB (peak ${Math.max(mem.peak, peakRss).toFixed(0)} MB)`);

    // Consumers really exist.
    const nc2 = await connect({ servers: nats.url });
    const jsm2 = await jetstreamManager(nc2);
    let consumers = 0;
    for (let s = 0; s < S; s++) consumers += (await jsm2.streams.info(`${NS}_s${s}`)).state.consumer_count;
    await nc2.close();
    if (consumers !== N + SINGLES) throw new Error(`expected ${N + SINGLES} consumers in JetStream, found ${consumers}`);

    await informer.stop();
    const result = {
      subscriptions: N,
      streams: S,
      seconds_to_all_ready: round(secondsToAllReady),
      p50_ready_ms: round(pct(singles, 50)),
      p99_ready_ms: round(pct(singles, 99)),
      operator_rss_mb: round(mem.rss),
      operator_idle_rss_mb: round(idleRss),
      operator_node_flags: nodeFlags.join(" "),
      operator_peak_rss_mb: round(Math.max(mem.peak, peakRss)),
      create_requests_seconds: round(createdSeconds),
      baseline_direct_consumer_create_seconds: round(baselineSeconds),
      vs_baseline: round(secondsToAllReady / baselineSeconds),
      goals: { seconds_to_all_ready: 20, p50_ready_ms: 100, operator_rss_mb: 200 },
    };
    process.stdout.write(JSON.stringify(result) + "\n");
  } finally {
    op.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    op.kill("SIGKILL");
    rest.close();
    await kube.stop();
    await nats.destroy();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`[bench:operator] failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
