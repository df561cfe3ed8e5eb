// The fault-injection harness: the shop as separate service processes (so a replica can be
// SIGKILLed), open-loop load from the shop's load generator, a recovery probe, and the
// end-of-scenario accounting (invariant checker + every accepted order found finished).
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { mkdirSync, writeFileSync } from "node:fs";
import { freePort, waitFor } from "@jetmesh/testing";
import { ORDERS_BUCKET, serviceEnv, type ShopService } from "@jetmesh/shop";
import {
  provisionShop,
  readBucket,
  runLoad,
  spawnService,
  verifyShop,
  type LoadProgress,
  type LoadResult,
  type ProvisionOptions,
  type ServiceProcess,
} from "../src/index.ts";

/** Seconds each scenario's load runs: short in `make test`, longer in `npm run test:chaos`. */
export const CHAOS_DURATION_S = Number(process.env.CHAOS_DURATION_S ?? 8);
export const CHAOS_RATE = Number(process.env.CHAOS_RATE ?? 40);
export const SKUS = ["k1", "k2", "k3", "k4", "k5"];
const SEED = SKUS.map((s) => `${s}=100000`).join(",");
/** Short redelivery delays: what a killed replica had in flight comes back after 1 s. */
export const CHAOS_PROVISION: ProvisionOptions = { backoffMs: [1000, 1000, 2000, 4000], maxDeliver: 20 };

export class ChaosShop {
  readonly natsUrl: string;
  readonly procs: ServiceProcess[] = [];
  private readonly envs = new Map<ServiceProcess, Record<string, string>>();
  constructor(natsUrl: string) {
    this.natsUrl = natsUrl;
  }

  static async start(natsUrl: string, replicas: Partial<Record<ShopService, number>> = {}): Promise<ChaosShop> {
    const shop = new ChaosShop(natsUrl);
    const starts: Promise<ServiceProcess>[] = [];
    for (const name of ["inventory", "payment", "shipping", "order"] as ShopService[]) {
      for (let i = 0; i < (replicas[name] ?? 1); i++) starts.push(shop.spawn(name));
    }
    await Promise.all(starts);
    return shop;
  }

  async spawn(name: ShopService, env?: Record<string, string>): Promise<ServiceProcess> {
    const e = env ?? {
      ...serviceEnv(name, this.natsUrl, await freePort()),
      HTTP_HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      INVENTORY_SEED: SEED,
      CONCURRENCY: "32",
    };
    const p = spawnService(name, e);
    this.procs.push(p);
    this.envs.set(p, e);
    await p.waitReady(30_000);
    return p;
  }

  /** SIGKILL one replica (resolves once it exited) and start a new one with the same env; resolves when it is ready. */
  async killAndReplace(p: ServiceProcess): Promise<ServiceProcess> {
    await p.kill();
    this.procs.splice(this.procs.indexOf(p), 1);
    const env = this.envs.get(p)!;
    this.envs.delete(p);
    return this.spawn(p.name, env);
  }

  /** Waits until no service reports a NATS connection on /readyz (they all noticed an outage). */
  async waitNatsLost(): Promise<void> {
    await waitFor(
      "every service reports NATS disconnected",
      async () => {
        for (const p of this.procs) {
          const body = (await (await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(5000) })).json()) as { natsConnected?: boolean };
          if (body.natsConnected !== false) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  get orderUrl(): string {
    return this.procs.find((p) => p.name === "order")!.url;
  }

  async stop(): Promise<void> {
    for (const p of [...this.procs].reverse()) await p.stop().catch(() => p.kill());
  }
}

export async function provisionChaos(natsUrl: string, opts: ProvisionOptions = CHAOS_PROVISION): Promise<void> {
  const nc = await connect({ servers: natsUrl.split(",") });
  try {
    await provisionShop(await jetstreamManager(nc), opts);
  } finally {
    await nc.close();
  }
}

/** A running load: its result, and its progress so that faults can be timed by what the shop did. */
export interface ChaosLoad {
  /** Resolves once every accepted order finished (or `settleMs` after the sending window). */
  result: Promise<LoadResult>;
  /** The load's latest progress report (it reports once a second). */
  progress(): LoadProgress;
  /** True once every order of the scenario has been sent. */
  sendingDone(): boolean;
  /** True once `result` resolved. */
  done(): boolean;
  /** Waits until `orders` more orders have finished their saga than when called (or the load is done). */
  waitFinished(orders: number, why: string): Promise<void>;
}

/** Open-loop load over the scenario's duration, then up to `settleMs` for orders to finish. */
export function chaosLoad(shop: ChaosShop, settleMs = 60_000): ChaosLoad {
  const total = Math.floor(CHAOS_DURATION_S * CHAOS_RATE);
  let latest: LoadProgress = { elapsedMs: 0, sent: 0, accepted: 0, finished: 0, inFlightPosts: 0, unfinished: 0 };
  let done = false;
  const result = runLoad({
    orderUrl: shop.orderUrl,
    natsUrl: shop.natsUrl,
    ratePerSec: CHAOS_RATE,
    durationMs: CHAOS_DURATION_S * 1000,
    settleMs,
    skus: SKUS,
    maxInFlight: 2000,
    onProgress: (p) => (latest = p),
  }).finally(() => (done = true));
  return {
    result,
    progress: () => latest,
    sendingDone: () => done || latest.sent >= total,
    done: () => done,
    async waitFinished(orders, why) {
      const from = latest.finished;
      // Generous: the load's own settle bound; a shop that finishes nothing fails here with the reason.
      await waitFor(`${orders} more orders finished (${why})`, () => done || latest.finished >= from + orders, {
        timeoutMs: settleMs + CHAOS_DURATION_S * 1000,
        intervalMs: 100,
      });
    },
  };
}

/**
 * Recovery time after a fault: from `since` until a fresh order placed now has finished its
 * whole saga (POST retried until accepted, then polled until shipped/cancelled).
 */
export async function probeRecovery(orderUrl: () => string, since: number, timeoutMs = 60_000): Promise<number> {
  let id: string | undefined;
  // The order service may be down or restarting: errors are retried until the deadline.
  return waitFor(
    "a probe order placed after the fault to finish its saga",
    async () => {
      if (id === undefined) {
        const res = await fetch(`${orderUrl()}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ items: [{ sku: "k1", quantity: 1 }], customer: { id: "probe" }, payment: { card: "4242424242424242" } }),
          signal: AbortSignal.timeout(5000),
        });
        if (res.status === 202) id = ((await res.json()) as { id: string }).id;
        return undefined;
      }
      const res = await fetch(`${orderUrl()}/orders/${id}`, { signal: AbortSignal.timeout(5000) });
      return res.ok && /"status":"(shipped|cancelled)"/.test(await res.text()) ? Date.now() - since : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

export interface ScenarioSummary {
  scenario: string;
  duration_s: number;
  rate: number;
  faults: number;
  accepted: number;
  completed: number;
  lost: number;
  duplicated_effects: number;
  violations: number;
  /** POSTs refused while the fault lasted (the client saw an error; nothing was accepted). */
  refused_posts: number;
  recovery_ms: number[];
}

/**
 * The invariant checker after the shop settled, plus the lost-order count: an accepted order
 * is lost when the orders bucket does not have it or it never reached a final state.
 */
export async function account(
  natsUrl: string,
  scenario: string,
  load: LoadResult,
  faults: number,
  recoveryMs: number[],
): Promise<ScenarioSummary & { violationList: unknown[] }> {
  const nc: NatsConnection = await connect({ servers: natsUrl.split(",") });
  try {
    const report = await verifyShop(nc, { settleMs: 60_000 });
    const orders = await readBucket(jetstream(nc), await new Kvm(nc).open(ORDERS_BUCKET));
    const final = new Map<string, string>();
    for (const [k, v] of orders) {
      const o = v as { id?: string; status?: string };
      if (o && typeof o === "object" && o.id) final.set(o.id, o.status ?? "");
      else final.set(k.replace(/^order\./, ""), "");
    }
    let completed = 0;
    let lost = 0;
    for (const id of load.order_ids) {
      const st = final.get(id);
      if (st === "shipped" || st === "cancelled") completed++;
      else lost++;
    }
    const duplicated = report.violations.filter((v) => v.kind === "double_charge" || v.kind === "terminal_state" || v.kind === "stock_conservation").length;
    return {
      scenario,
      duration_s: CHAOS_DURATION_S,
      rate: CHAOS_RATE,
      faults,
      accepted: load.accepted,
      completed,
      lost,
      duplicated_effects: duplicated,
      violations: report.violations.length,
      refused_posts: load.failed,
      recovery_ms: recoveryMs.map((x) => Math.round(x)),
      violationList: report.violations.slice(0, 10),
    };
  } finally {
    await nc.close();
  }
}

/** Appends a scenario summary to $CHAOS_SUMMARY_FILE (JSON lines) and prints it. */
export function record(summary: ScenarioSummary): void {
  const { violationList: _v, ...line } = summary as ScenarioSummary & { violationList?: unknown };
  const text = JSON.stringify(line);
  console.log(`CHAOS ${text}`);
  const file = process.env.CHAOS_SUMMARY_FILE;
  if (file) {
    mkdirSync(new URL(".", `file://${file}`).pathname, { recursive: true });
    writeFileSync(file, text + "\n", { flag: "a" });
  }
}
