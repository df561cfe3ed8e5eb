// npm run bench:operator [-- --subscriptions N --streams S --singles K]
//
// Creates N EventSubscriptions (default 1,000, over 10 EventStreams, or one per 500) at once against the
// Kubernetes API test server and one nats-server, with the operator running as its own
// process (so its memory can be measured), and measures:
//   - seconds until every subscription is Ready (Ready=True seen through a watch),
//   - p50/p99 of create → Ready for single applies on an idle operator,
//   - the operator's resident memory after all are Ready (and its peak),
//   - p50/p99 of create → Ready for single applies while the N exist,
//   - the operator's own API requests (counted at the API test server by User-Agent: count,
//     writes, peak requests/s over any 1 s window; its few watch connections, opened through
//     client-node, are not in it) while the N are created and during one full resync of all of
//     them once Ready, with the client-side QPS/burst in effect.
// The operator's resync period is BENCH_RESYNC_SECONDS (default 30, the operator's own default).
// Baseline measured in the same run: creating the same number of consumers directly with
// nats.js (the floor the operator's JetStream work cannot beat).
// Progress on stderr; one JSON line last on stdout.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePort, startKubeApiServer, startNats, toolPath, waitFor } from "@jetmesh/testing";
import { procCpuMs } from "./lib/proc.ts";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { parseConfig, type EventSubscription } from "@jetmesh/operator";
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
// nats-server (2.15) refuses a stream's 1001st consumer unless the stream sets max_consumers
// (EventStream spec.maxConsumers, left unset here): at least one stream per 500 subscriptions.
const S = arg("streams", "BENCH_STREAMS", Math.max(10, Math.ceil(N / 500)));
const SINGLES = arg("singles", "BENCH_SINGLES", 50);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const progress = (msg: string) => process.stderr.write(`[bench:operator] ${msg}\n`);

const SUBS = { group: "jetmesh.io", version: "v1alpha1", plural: "eventsubscriptions" };
const STREAMS = { group: "jetmesh.io", version: "v1alpha1", plural: "eventstreams" };
const NS = "bench";
const RESYNC_SECONDS = Number(process.env.BENCH_RESYNC_SECONDS ?? 30);
if (!(RESYNC_SECONDS >= 1)) throw new Error(`BENCH_RESYNC_SECONDS: expected a number ≥ 1, got ${process.env.BENCH_RESYNC_SECONDS}`);

/** The operator's requests as the API server saw them (ms on performance.now()). */
interface SeenRequest {
  at: number;
  method: string;
}

/** Count, writes and the most requests in any 1 s window, for requests in [from, to). */
function requestRate(all: SeenRequest[], from: number, to: number): { requests: number; writes: number; peak_per_second: number } {
  const at = all.filter((r) => r.at >= from && r.at < to);
  let peak = 0;
  let lo = 0;
  for (let hi = 0; hi < at.length; hi++) {
    while ((at[hi] as SeenRequest).at - (at[lo] as SeenRequest).at >= 1000) lo++;
    peak = Math.max(peak, hi - lo + 1);
  }
  return { requests: at.length, writes: at.filter((r) => r.method !== "GET").length, peak_per_second: peak };
}

/** Sum of a counter's (or a histogram's _sum/_count) series in a /metrics text, optionally filtered by a label text. */
function sumMetric(text: string, name: string, labelFilter = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name || !(m[2] ?? "").includes(labelFilter)) continue;
    sum += Number(m[3]);
  }
  return sum;
}

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
  const operatorRequests: SeenRequest[] = [];
  const kube = await startKubeApiServer({
    historyLimit: 20 * N,
    onRequest: (r) => {
      if (r.userAgent === "jetmesh-operator") operatorRequests.push({ at: performance.now(), method: r.method });
    },
  });
  const nats = await startNats();
  // Async: the API test server runs in this process and must keep answering kubectl.
  await promisify(execFile)(toolPath("kubectl"), ["--kubeconfig", kube.kubeconfigPath, "apply", "-f", `${ROOT}crds`]);
  const rest = KubeRest.fromFile(kube.kubeconfigPath);
  await rest.create({ group: "", version: "v1", plural: "namespaces" }, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });

  // Baseline: the same number of consumers created directly, 32 requests in flight.
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  for (let s = 0; s < S; s++) await jsm.streams.add({ name: `baseline${s}`, subjects: [`baseline${s}.>`] });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) {
        const i = next++;
        await jsm.consumers.add(`baseline${i % S}`, { durable_name: `c${i}`, ack_policy: "explicit", filter_subject: `baseline${i % S}.t${i}` });
      }
    }),
  );
  const baselineSeconds = (performance.now() - t0) / 1000;
  for (let s = 0; s < S; s++) await jsm.streams.delete(`baseline${s}`);
  await nc.close();
  progress(`baseline: ${N} consumers created directly in ${baselineSeconds.toFixed(2)} s`);

  const httpPort = await freePort();
  // The same V8 flag the chart's container command uses (docs/operator.md, "Resources").
  const nodeFlags = (process.env.BENCH_OPERATOR_NODE_FLAGS ?? "--max-semi-space-size=4").split(" ").filter(Boolean);
  const operatorEnv = {
    ...process.env,
    KUBECONFIG: kube.kubeconfigPath,
    NATS_URL: nats.url,
    HTTP_PORT: String(httpPort),
    HTTP_HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    LEADER_ELECTION: "false",
    RESYNC_SECONDS: String(RESYNC_SECONDS),
    ...(process.env.BENCH_WORKERS ? { WORKERS: process.env.BENCH_WORKERS } : {}),
  };
  // KUBE_API_QPS / KUBE_API_BURST pass through from the environment; what the operator uses:
  const { kubeApi } = parseConfig(operatorEnv);
  progress(`operator's client-side rate limit: ${kubeApi.qps} QPS, burst ${kubeApi.burst}; resync every ${RESYNC_SECONDS} s`);
  const op = spawn(process.execPath, [...nodeFlags, "--conditions=source", `${ROOT}operator/src/main.ts`], {
    env: operatorEnv,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const scrape = async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
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

    // Single applies, one after another, each waited for until Ready.
    const singleApplies = async (prefix: string): Promise<number[]> => {
      const took: number[] = [];
      for (let i = 0; i < SINGLES; i++) {
        const name = `${prefix}-${i}`;
        const seen = new Promise<void>((r) => waiters.set(name, r));
        const start = performance.now();
        await rest.create(SUBS, NS, subscription(name, i % S, `bench.s${i % S}.${prefix}${i}`));
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([seen, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`${name} not Ready in 10 s`)), 10_000)))]);
        clearTimeout(timer);
        took.push((readyAt.get(name) as number) - start);
      }
      return took.sort((a, b) => a - b);
    };
    const singles = await singleApplies("single");
    progress(`single applies (idle operator): p50 ${pct(singles, 50).toFixed(1)} ms, p99 ${pct(singles, 99).toFixed(1)} ms`);

    // N at once.
    const names = Array.from({ length: N }, (_, i) => `sub-${i}`);
    const createdAt = new Map<string, number>();
    const burstStart = performance.now();
    // Where the creation's CPU goes: nats-server, the operator, and this process (the API test
    // server, the watch that sees Ready, the creating clients).
    const cpuOf = () => ({ nats: procCpuMs(nats.node(0).pid as number), operator: procCpuMs(pid), bench: procCpuMs(process.pid) });
    const cpuBefore = cpuOf();
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
        // From readyAt's size, not a scan of 10,000 names every 50 ms (the bench's own CPU
        // competes with what it measures); the first single applies are in it too.
        const done = readyAt.size - SINGLES;
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
    const cpuAfter = cpuOf();
    const creationCpu = Object.fromEntries(Object.entries(cpuAfter).map(([k2, v]) => [k2, round((v - cpuBefore[k2 as keyof typeof cpuBefore]) / 1000)]));
    progress(
      `CPU until all Ready (s): ${Object.entries(creationCpu)
        .map(([k2, v]) => `${k2} ${v}`)
        .join(", ")} — ${round(Object.values(creationCpu).reduce((a, b) => a + b, 0) / secondsToAllReady)} cores busy on average`,
    );
    const mem = rssMb(pid);
    // Events (fire and forget) may trail Ready: the creation phase ends when the operator has
    // been quiet towards the API server for a second.
    await waitFor("operator quiet towards the API server", () => performance.now() - (operatorRequests.at(-1)?.at ?? 0) > 1000, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const creation = requestRate(operatorRequests, burstStart, performance.now());
    const m = await scrape();
    const limiterWaitSeconds = sumMetric(m, "rest_client_rate_limiter_duration_seconds_sum");
    progress(
      `creation: ${creation.requests} operator API requests (${creation.writes} writes), peak ${creation.peak_per_second}/s over 1 s; ${limiterWaitSeconds.toFixed(1)} s waited for the rate limiter in all`,
    );
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

    // Single applies while the N exist.
    const singlesAtScale = await singleApplies("late");
    progress(`single applies with ${N} present: p50 ${pct(singlesAtScale, 50).toFixed(1)} ms, p99 ${pct(singlesAtScale, 99).toFixed(1)} ms`);

    // One full resync of every subscription, all Ready and unchanged: it should read from the
    // cache and NATS, and write (almost) nothing to the API server. The resync timer fires within
    // RESYNC_SECONDS; the phase ends when the operator has reconciled every subscription once more.
    const total = N + 2 * SINGLES;
    const reconciles = async () => sumMetric(await scrape(), "controller_runtime_reconcile_total", 'controller="eventsubscription"');
    const resyncFrom = performance.now();
    const before = await reconciles();
    let resyncBegan = 0;
    await waitFor(
      "one full resync",
      async () => {
        const done = (await reconciles()) - before;
        if (done > 0 && !resyncBegan) resyncBegan = performance.now();
        return done >= total;
      },
      { timeoutMs: (RESYNC_SECONDS + 120) * 1000, intervalMs: 1000 },
    );
    const resyncSeconds = (performance.now() - resyncBegan) / 1000;
    const resync = requestRate(operatorRequests, resyncFrom, performance.now());
    progress(
      `resync of ${total}: ${resync.requests} operator API requests (${resync.writes} writes), peak ${resync.peak_per_second}/s over 1 s; reconciles done within ${resyncSeconds.toFixed(1)} s of the first`,
    );

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
      creation_cpu_seconds: creationCpu,
      create_requests_seconds: round(createdSeconds),
      baseline_direct_consumer_create_seconds: round(baselineSeconds),
      vs_baseline: round(secondsToAllReady / baselineSeconds),
      goals: { seconds_to_all_ready: 20, p50_ready_ms: 100, operator_rss_mb: 200 },
      p50_ready_ms_with_all: round(pct(singlesAtScale, 50)),
      p99_ready_ms_with_all: round(pct(singlesAtScale, 99)),
      kube_api_qps: kubeApi.qps,
      kube_api_burst: kubeApi.burst,
      creation_api_requests: creation.requests,
      creation_api_writes: creation.writes,
      creation_peak_requests_per_second: creation.peak_per_second,
      rate_limiter_wait_seconds: round(limiterWaitSeconds),
      resync_seconds: RESYNC_SECONDS,
      resync_api_requests: resync.requests,
      resync_api_writes: resync.writes,
      resync_peak_requests_per_second: resync.peak_per_second,
      resync_reconcile_seconds: round(resyncSeconds),
      goals_at_10000: { seconds_to_all_ready: 30, p99_ready_ms_with_all: 100, operator_rss_mb: 300 },
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
