// A service killed with SIGKILL in the middle of a stream of orders and restarted loses
// nothing and applies nothing twice: every order finishes and the checker is clean.
import { afterAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { INVENTORY_RESERVED, SHOP_STREAM, serviceEnv } from "@jetmesh/shop";
import { runLoad, spawnService, verifyShop, type ServiceProcess } from "../src/index.ts";
import { provision, startShop, type Shop } from "./fixtures.ts";
import { stockOf } from "./helpers.ts";

const SKUS = ["k1", "k2", "k3", "k4"];
const SEED = SKUS.map((s) => `${s}=150`).join(",");

describe("crash: inventory killed with SIGKILL mid-stream, payment failing transiently", () => {
  let nats: NatsCluster;
  let shop: Shop;
  let inventory: ServiceProcess | undefined;
  let nc: NatsConnection | undefined;
  afterAll(async () => {
    await nc?.close();
    await inventory?.kill();
    await shop?.stop();
    await nats?.destroy();
  });

  it("restarts, redelivers what was in flight, and ends consistent", async () => {
    nats = await startNats();
    // Short ack wait: what the killed process had in flight comes back after 1 s.
    await provision(nats.url, { ackWaitMs: 1000, backoffMs: [1000, 1000, 2000, 4000], maxDeliver: 10 });
    const port = await freePort();
    const env = { ...serviceEnv("inventory", nats.url, port), HTTP_HOST: "127.0.0.1", LOG_LEVEL: "warn", INVENTORY_SEED: SEED };
    inventory = spawnService("inventory", env);
    await inventory.waitReady();
    // The payment processor also fails a third of its attempts transiently (retried).
    shop = await startShop(nats.url, { only: ["order", "payment", "shipping"], env: { PAYMENT_FAILURE_RATE: "0.3", PAYMENT_RETRY_DELAY_MS: "50" } });

    // Orders over few SKUs with limited stock (some run out), one in ten declined.
    const makeOrder = (i: number) => ({
      items: [
        { sku: SKUS[i % SKUS.length]!, quantity: 1 + (i % 3) },
        { sku: SKUS[(i + 1) % SKUS.length]!, quantity: 1 },
      ],
      customer: { id: `c${i}` },
      payment: { card: i % 10 === 3 ? "4000000000000002" : "4242424242424242" },
    });
    const load = runLoad({ orderUrl: shop.orderUrl, natsUrl: nats.url, ratePerSec: 80, durationMs: 3000, settleMs: 25_000, makeOrder });
    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    const inventoryInfo = () => jsm.consumers.info(SHOP_STREAM, "shop_inventory");
    // Kill only with events surely in flight: once orders flow, freeze the process (SIGSTOP:
    // it can ack nothing more), wait until the server has delivered it events it has not
    // acknowledged, then SIGKILL. A kill at a fixed time could land between two events.
    await waitFor("inventory receiving orders", async () => (await inventoryInfo()).delivered.stream_seq > 0, { timeoutMs: 20_000 });
    inventory.freeze();
    const inFlight = await waitFor(
      "events delivered to the frozen inventory and not acknowledged",
      async () => {
        const n = (await inventoryInfo()).num_ack_pending;
        return n > 0 ? n : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(inFlight).toBeGreaterThan(0);
    const oldPid = inventory.pid;
    await inventory.kill();
    inventory = spawnService("inventory", env);
    await inventory.waitReady();
    expect(inventory.pid).not.toBe(oldPid);
    const result = await load;

    expect(result.accepted).toBe(240);
    expect(result.unfinished).toBe(0);
    expect(result.shipped).toBeGreaterThan(0);
    expect(result.cancelled).toBeGreaterThan(0);

    const report = await verifyShop(nc, { settleMs: 20_000 });
    // Payment retried: more deliveries than reserved events.
    const subjects = (await jsm.streams.info(SHOP_STREAM, { subjects_filter: ">" })).state.subjects ?? {};
    expect((await jsm.consumers.info(SHOP_STREAM, "shop_payment")).delivered.consumer_seq).toBeGreaterThan(subjects[INVENTORY_RESERVED] ?? 0);
    // What the killed process had in flight was delivered again: more deliveries than events
    // for the consumer (its filtered subjects, or the whole stream when unfiltered).
    const ci = await inventoryInfo();
    const filters = ci.config.filter_subjects?.length ? ci.config.filter_subjects : ci.config.filter_subject ? [ci.config.filter_subject] : [];
    const events = filters.length ? filters.reduce((n, f) => n + (subjects[f] ?? 0), 0) : ci.delivered.stream_seq;
    expect(ci.delivered.consumer_seq).toBeGreaterThan(events);
    expect(report.violations).toEqual([]);
    expect(report.settled).toBe(true);
    expect(report.orders).toBe(240);
    // The restart did not re-seed: stock is still conserved against the first seed.
    const k1 = await stockOf(inventory.url, "k1");
    expect(k1.initial).toBe(150);
    expect(k1.available + k1.reserved + k1.shipped).toBe(150);
    expect(k1.shipped).toBeGreaterThan(0);
  });
});
