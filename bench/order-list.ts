// npm run bench:order-list — does listing orders by status slow down placing them?
//
// Starts one nats-server and the order service (a child process, so the load generator does
// not share its CPU), fills the orders bucket (LIST_ORDERS, default 3,700 — the size at which
// an unbounded status scan took 0.8 s), then places orders open loop at LIST_POST_RATE/s
// (default 50) for LIST_SECONDS (default 8) twice: alone, and while GET /orders?status=shipped
// is asked LIST_RATE times a second (default 40, open loop too; a status no order has: the
// worst case for a scan). Only the order service runs, so orders stay placed.
// Progress on stderr; one JSON line last on stdout.
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, startNats } from "@jetmesh/testing";
import { serviceEnv } from "@jetmesh/shop";
import { percentile, provisionShop, spawnService } from "@jetmesh/shop-tools";

const env = process.env;
const fill = Number(env.LIST_ORDERS ?? 3700);
const rate = Number(env.LIST_POST_RATE ?? 50);
const seconds = Number(env.LIST_SECONDS ?? 8);
const listRate = Number(env.LIST_RATE ?? 40);
const log = (msg: string) => process.stderr.write(`[order-list] ${msg}\n`);
const round = (x: number) => Math.round(x * 10) / 10;

const body = JSON.stringify({ items: [{ sku: "sku-1", quantity: 1 }], customer: { id: "bench" }, payment: { card: "4242424242424242" } });

const nats = await startNats();
const nc = await connect({ servers: nats.url });
await provisionShop(await jetstreamManager(nc));
const order = spawnService("order", { ...serviceEnv("order", nats.url, await freePort()), HTTP_HOST: "127.0.0.1", LOG_LEVEL: "warn" });
await order.waitReady(30_000);

async function post(): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${order.url}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`POST /orders: ${res.status}`);
  return performance.now() - t0;
}

/** Starts `request` `perSecond` times a second for `seconds`, on schedule (open loop). */
async function openLoop(perSecond: number, request: () => Promise<number>): Promise<number[]> {
  const lat: number[] = [];
  const inflight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < perSecond * seconds; i++) {
    const due = t0 + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(request().then((ms) => void lat.push(ms)));
  }
  await Promise.all(inflight);
  return lat.sort((a, b) => a - b);
}

async function listShipped(): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${order.url}/orders?status=shipped&limit=20`);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`GET /orders?status=shipped: ${res.status}`);
  return performance.now() - t0;
}

try {
  log(`filling ${fill} orders`);
  for (let done = 0; done < fill;) {
    const n = Math.min(32, fill - done);
    await Promise.all(Array.from({ length: n }, () => post()));
    done += n;
  }

  log(`POST ${rate}/s for ${seconds} s alone`);
  const alone = await openLoop(rate, post);

  log(`POST ${rate}/s for ${seconds} s while listing by status ${listRate}/s`);
  const [withList, listLat] = await Promise.all([openLoop(rate, post), openLoop(listRate, listShipped)]);

  const summary = {
    bench: "order-list",
    orders_in_bucket: fill + alone.length + withList.length,
    post_rate: rate,
    seconds,
    list_rate: listRate,
    post_alone: { n: alone.length, p50_ms: round(percentile(alone, 50)), p99_ms: round(percentile(alone, 99)) },
    post_while_listing: { n: withList.length, p50_ms: round(percentile(withList, 50)), p99_ms: round(percentile(withList, 99)) },
    list: { n: listLat.length, p50_ms: round(percentile(listLat, 50)), p99_ms: round(percentile(listLat, 99)) },
  };
  process.stdout.write(JSON.stringify(summary) + "\n");
} catch (err) {
  log(`failed: ${(err as Error).message}\n${order.output.slice(-3000)}`);
  process.exitCode = 1;
} finally {
  await order.stop();
  await nc.close();
  await nats.destroy();
}
