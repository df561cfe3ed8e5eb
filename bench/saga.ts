// npm run bench:saga — the shop saga under open-loop load.
//
// Starts one nats-server and the four services (child processes by default), ramps the
// order rate step by step (SAGA_STEP_SECONDS each, default 20) until a step is no longer
// sustained, then runs a step at half the highest sustained rate. Latency = POST accepted →
// order shipped. The baseline is a light-load step (SAGA_BASELINE_RATE, default 50/s) in the
// same run. At the end the invariant checker must find 0 violations. Every step reports CPU ms
// per order per process (nats-server's share of it), the kernel's share, read/write system
// calls per order, and nats-server's messages per order (docs/performance.md reads them).
// Progress on stderr; one JSON line last on stdout.
//
// Env: SAGA_STEP_SECONDS, SAGA_RATES (e.g. "250,500,1000,1500"), SAGA_MODE (processes |
// in-process), SAGA_STORAGE (file | memory), SAGA_CONCURRENCY (per service), SAGA_SKUS,
// SAGA_PROFILE_DIR (a V8 CPU profile per service process, written when the bench ends).
import { cpus } from "node:os";
import { connect } from "@nats-io/transport-node";
import { runLoad, verifyShop, type LoadResult } from "@jetmesh/shop-tools";
import { startStack } from "./lib/saga-stack.ts";

const env = process.env;
const stepSeconds = Number(env.SAGA_STEP_SECONDS ?? 20);
const rates = (env.SAGA_RATES ?? "250,500,600,700,800,1000,1250,1500").split(",").map(Number);
const mode = env.SAGA_MODE === "in-process" ? "in-process" : "processes";
const storage = env.SAGA_STORAGE === "memory" ? "memory" : "file";
const baselineRate = Number(env.SAGA_BASELINE_RATE ?? 50);
const skus = Array.from({ length: Number(env.SAGA_SKUS ?? 200) }, (_, i) => `sku-${i}`);
const log = (msg: string) => process.stderr.write(`[saga] ${msg}\n`);

type Step = Omit<LoadResult, "order_ids"> & {
  sustained: boolean;
  cpu_ms_per_order: Record<string, number>;
  /** nats-server's part of an order's CPU (what the services cannot save). */
  nats_server_share: number;
  /** The share of each process's CPU spent in the kernel (socket reads/writes, file I/O, scheduling). */
  sys_share: Record<string, number>;
  /** Read/write system calls per accepted order, per process (how well I/O is batched). */
  syscalls_per_order: Record<string, number>;
  /** What nats-server handled per accepted order: messages in and out, JetStream API requests. */
  server_per_order: { in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number; js_api: number };
};

/** A step is sustained when every order was accepted and finished, at the offered rate. */
function sustained(r: LoadResult): boolean {
  return r.failed === 0 && r.dropped === 0 && r.unfinished === 0 && r.finished_per_s >= 0.95 * r.target_rate && r.p99_ms < 2000;
}

const stack = await startStack({
  mode,
  storage,
  skus,
  stockPerSku: 1_000_000_000,
  env: { CONCURRENCY: env.SAGA_CONCURRENCY ?? "64", PUBLISH_MAX_IN_FLIGHT: "1024" },
});
log(`stack up (${mode}, ${storage} storage, nats ${stack.natsUrl}, order ${stack.orderUrl}, ${cpus().length} cores)`);

let orders = 0;
async function step(rate: number, seconds: number, label: string): Promise<Step> {
  log(`${label}: ${rate} orders/s for ${seconds} s`);
  const cpuBefore = stack.cpuMs();
  const sysBefore = stack.sysMs();
  const callsBefore = stack.syscalls();
  const serverBefore = await stack.serverCounters();
  const r = await runLoad({
    orderUrl: stack.orderUrl,
    natsUrl: stack.natsUrl,
    ratePerSec: rate,
    durationMs: seconds * 1000,
    settleMs: 15_000,
    maxInFlight: 1024,
    skus,
    onProgress: (p) =>
      log(
        `  t=${(p.elapsedMs / 1000).toFixed(0)}s sent ${p.sent} accepted ${p.accepted} finished ${p.finished} posts in flight ${p.inFlightPosts} unfinished ${p.unfinished}`,
      ),
  });
  orders += r.accepted;
  const cpuAfter = stack.cpuMs();
  const sysAfter = stack.sysMs();
  const callsAfter = stack.syscalls();
  const serverAfter = await stack.serverCounters();
  const perOrder = (n: number) => Math.round((n / Math.max(1, r.accepted)) * 100) / 100;
  const cpu: Record<string, number> = {};
  const sys: Record<string, number> = {};
  for (const k of Object.keys(cpuAfter)) {
    const used = cpuAfter[k]! - (cpuBefore[k] ?? 0);
    cpu[k] = perOrder(used);
    sys[k] = used > 0 ? Math.round(((sysAfter[k]! - (sysBefore[k] ?? 0)) / used) * 100) / 100 : 0;
  }
  const calls: Record<string, number> = {};
  for (const k of Object.keys(callsAfter)) calls[k] = perOrder(callsAfter[k]! - (callsBefore[k] ?? 0));
  cpu.total = perOrder(Object.values(cpuAfter).reduce((a, b) => a + b, 0) - Object.values(cpuBefore).reduce((a, b) => a + b, 0));
  const server = Object.fromEntries(
    Object.entries(serverAfter).map(([k, v]) => [k, perOrder(v - serverBefore[k as keyof typeof serverBefore])]),
  ) as Step["server_per_order"];
  const { order_ids: _ids, ...rest } = r;
  const natsShare = Math.round(((cpu.nats ?? 0) / Math.max(0.01, cpu.total)) * 100) / 100;
  const s: Step = {
    ...rest,
    sustained: sustained(r),
    cpu_ms_per_order: cpu,
    nats_server_share: natsShare,
    sys_share: sys,
    syscalls_per_order: calls,
    server_per_order: server,
  };
  log(
    `  → accepted ${s.accepted}/s=${s.accepted_per_s} finished/s ${s.finished_per_s} p50 ${s.p50_ms} ms p99 ${s.p99_ms} ms dropped ${s.dropped} failed ${s.failed}${s.failed ? ` ${JSON.stringify(s.errors)}` : ""} unfinished ${s.unfinished} ${s.sustained ? "SUSTAINED" : "not sustained"}`,
  );
  log(`  CPU ms per order: ${JSON.stringify(cpu)} (nats-server's own share ${Math.round(100 * natsShare)} %); kernel share ${JSON.stringify(sys)}`);
  log(`  nats-server per order: ${JSON.stringify(server)}; read/write syscalls per order ${JSON.stringify(calls)}`);
  await stack.waitIdle(60_000).catch((err) => log(`  consumers not idle: ${(err as Error).message}`));
  return s;
}

let result: Record<string, unknown>;
try {
  // Warm-up (JIT, connections), not reported.
  await step(baselineRate, 3, "warm-up");
  const baseline = await step(baselineRate, Math.min(10, stepSeconds), "baseline");
  const steps: Step[] = [];
  let best: Step | undefined;
  for (const rate of rates) {
    const s = await step(rate, stepSeconds, "step");
    steps.push(s);
    if (!s.sustained) break;
    best = s;
  }
  const maxRate = best?.target_rate ?? 0;
  const half = maxRate > 0 ? await step(Math.max(1, Math.round(maxRate / 2)), stepSeconds, "half load") : undefined;

  log("checking invariants");
  const nc = await connect({ servers: stack.natsUrl });
  const report = await verifyShop(nc, { settleMs: 60_000 });
  await nc.close();
  log(`checker: ${report.orders} orders, ${report.violations.length} violations, ${report.inFlight.length} in flight`);
  const kinds: Record<string, number> = {};
  for (const v of report.violations) kinds[v.kind] = (kinds[v.kind] ?? 0) + 1;
  if (report.violations.length > 0) log(`  by kind: ${JSON.stringify(kinds)}`);
  for (const v of report.violations.slice(0, 10)) log(`  [${v.kind}] ${v.subject}: ${v.message}`);

  result = {
    bench: "saga",
    mode,
    storage,
    cores: cpus().length,
    orders_per_s: best?.finished_per_s ?? 0,
    max_sustained_rate: maxRate,
    p50_ms: half?.p50_ms ?? null,
    p99_ms: half?.p99_ms ?? null,
    half_load_rate: half?.target_rate ?? null,
    orders,
    violations: report.violations.length,
    unsettled_orders: report.inFlight.length,
    goal: { orders_per_s: 2500, cpu_ms_per_order: 0.8, p99_ms_at_half_load: 50 },
    baseline: { rate: baseline.target_rate, p50_ms: baseline.p50_ms, p99_ms: baseline.p99_ms },
    at_max: best
      ? {
          rate: best.target_rate,
          p50_ms: best.p50_ms,
          p99_ms: best.p99_ms,
          post_p99_ms: best.post_p99_ms,
          cpu_ms_per_order: best.cpu_ms_per_order,
          nats_server_share: best.nats_server_share,
          sys_share: best.sys_share,
          syscalls_per_order: best.syscalls_per_order,
          server_per_order: best.server_per_order,
        }
      : null,
    steps: steps.map((s) => ({
      rate: s.target_rate,
      finished_per_s: s.finished_per_s,
      p50_ms: s.p50_ms,
      p99_ms: s.p99_ms,
      dropped: s.dropped,
      failed: s.failed,
      errors: s.errors,
      unfinished: s.unfinished,
      sustained: s.sustained,
      cpu_ms_per_order: s.cpu_ms_per_order,
      server_per_order: s.server_per_order,
    })),
  };
} finally {
  await stack.stop();
}
console.log(JSON.stringify(result));
