// The shop stack for the saga bench: one nats-server, the streams and consumers, and the
// four services — as child processes (default: the load generator does not share their
// CPU) or in the bench's own process (for comparison).
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { procCpuMs, procSyscalls } from "./proc.ts";
import { runService, type ServiceDefinition } from "@jetmesh/mesh";
import { SHOP_SERVICES, SHOP_STREAM, SUBSCRIPTIONS, serviceEnv, type ShopService } from "@jetmesh/shop";
import { provisionShop, spawnService } from "@jetmesh/shop-tools";
import { orderService } from "@jetmesh/order";
import { inventoryService } from "@jetmesh/inventory";
import { paymentService } from "@jetmesh/payment";
import { shippingService } from "@jetmesh/shipping";

export interface StackOptions {
  mode: "processes" | "in-process";
  storage: "file" | "memory";
  skus: string[];
  stockPerSku: number;
  /** Extra env for every service (CONCURRENCY, ...). */
  env: Record<string, string>;
}

export interface Stack {
  /** CPU time (ms, user + system) used so far by nats-server and each service process. */
  cpuMs(): Record<string, number>;
  /** The same, system (kernel) time only. */
  sysMs(): Record<string, number>;
  /** Read and write system calls so far (socket and file I/O), per process. */
  syscalls(): Record<string, number>;
  /** nats-server's message and JetStream API counters so far (from its monitoring endpoint). */
  serverCounters(): Promise<{ in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number; js_api: number }>;
  natsUrl: string;
  orderUrl: string;
  nats: NatsCluster;
  /** Waits until every shop consumer has delivered and settled everything. */
  waitIdle(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

const DEFINITIONS: Record<ShopService, ServiceDefinition<never>> = {
  order: orderService as unknown as ServiceDefinition<never>,
  inventory: inventoryService as unknown as ServiceDefinition<never>,
  payment: paymentService as unknown as ServiceDefinition<never>,
  shipping: shippingService as unknown as ServiceDefinition<never>,
};

export async function startStack(opts: StackOptions): Promise<Stack> {
  const nats = await startNats();
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  // The examples' delivery settings (ack wait 30 s, retries after 1 s, 5 s, 30 s), as the
  // operator maps them: events waiting in a client's pull buffer past saturation are not
  // redelivered before 30 s, so overload does not feed itself.
  await provisionShop(jsm, { storage: opts.storage, maxAckPending: 4000 });
  const stops: (() => Promise<void>)[] = [];
  const pids: Record<string, number | undefined> = { nats: nats.node(0).pid };
  let orderUrl = "";
  const common = {
    HTTP_HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    SHOP_KV_STORAGE: opts.storage,
    INVENTORY_SEED: opts.skus.map((s) => `${s}=${opts.stockPerSku}`).join(","),
    // Tracing as the caller's env says (OTEL_EXPORTER_OTLP_ENDPOINT...; off without it).
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith("OTEL_") && e[1] !== undefined)),
    ...opts.env,
  };
  for (const name of SHOP_SERVICES) {
    const port = await freePort();
    const env = { ...serviceEnv(name, nats.url, port), ...common };
    if (opts.mode === "processes") {
      // SAGA_PROFILE_DIR: write a V8 CPU profile of every service (to find where time goes).
      const prof = process.env.SAGA_PROFILE_DIR;
      const p = spawnService(name, env, prof ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${prof}/${name}`] } : {});
      await p.waitReady(30_000);
      stops.push(() => p.stop());
      pids[name] = p.pid;
      if (name === "order") orderUrl = p.url;
    } else {
      const h = await runService(DEFINITIONS[name], env);
      await waitFor(`${name} ready`, () => h.ready, { timeoutMs: 30_000 });
      stops.push(() => h.stop());
      if (name === "order") orderUrl = h.url;
    }
  }
  // One reading per process: nats-server, each service, and the bench itself (in-process
  // services share it).
  const perProcess = (read: (pid: number) => number): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) if (pid !== undefined) out[name] = read(pid);
    out.bench = read(process.pid);
    return out;
  };
  return {
    cpuMs: () => perProcess((pid) => procCpuMs(pid)),
    sysMs: () => perProcess((pid) => procCpuMs(pid, "system")),
    syscalls: () => perProcess(procSyscalls),
    async serverCounters() {
      const base = nats.node(0).monitorUrl;
      const varz = (await (await fetch(`${base}/varz`)).json()) as { in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number };
      const jsz = (await (await fetch(`${base}/jsz`)).json()) as { api?: { total?: number } };
      return { in_msgs: varz.in_msgs, out_msgs: varz.out_msgs, in_bytes: varz.in_bytes, out_bytes: varz.out_bytes, js_api: jsz.api?.total ?? 0 };
    },
    natsUrl: nats.url,
    orderUrl,
    nats,
    async waitIdle(timeoutMs) {
      await waitFor(
        "shop consumers idle",
        async () => {
          for (const s of SUBSCRIPTIONS) {
            const ci = await jsm.consumers.info(SHOP_STREAM, s.consumer);
            if (ci.num_pending + ci.num_ack_pending > 0) return false;
          }
          return true;
        },
        { timeoutMs, intervalMs: 250 },
      );
    },
    async stop() {
      for (const s of stops.reverse()) await s().catch(() => undefined);
      await nc.close();
      await nats.destroy();
    },
  };
}
