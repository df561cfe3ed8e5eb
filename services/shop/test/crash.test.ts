// A service killed with SIGKILL in the middle of a stream of orders and restarted loses
// nothing and applies nothing twice: every order finishes and the checker is clean.
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, startNats, type NatsCluster } from "@jetmesh/testing";
import { INVENTORY_RESERVED, SHOP_STREAM, runLoad, serviceEnv, spawnService, verifyShop, type ServiceProcess } from "../src/index.ts";
import { provision, startShop, type Shop } from "./fixtures.ts";
import { stockOf } from "./helpers.ts";

const SKUS = ["k1", "k2", "k3", "k4"];
const SEED = SKUS.map((s) => `${s}=150`).join(",");

describe("crash: inventory killed with SIGKILL mid-stream, payment failing transiently", () => {
  let nats: NatsCluster;
  let shop: Shop;
  let inventory: ServiceProcess | undefined;
  afterAll(async () => {
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
      items: [{ sku: SKUS[i % SKUS.length]!, quantity: 1 + (i % 3) }, { sku: SKUS[(i + 1) % SKUS.length]!, quantity: 1 }],
      customer: { id: `c${i}` },
      payment: { card: i % 10 === 3 ? "4000000000000002" : "4242424242424242" },
    });
    const load = runLoad({ orderUrl: shop.orderUrl, natsUrl: nats.url, ratePerSec: 80, durationMs: 3000, settleMs: 25_000, makeOrder });
    await new Promise((r) => setTimeout(r, 1200));
    const oldPid = inventory.pid;
    await inventory.kill();
    await new Promise((r) => setTimeout(r, 300));
    inventory = spawnService("inventory", env);
    await inventory.waitReady();
    expect(inventory.pid).not.toBe(oldPid);
    const result = await load;

    expect(result.accepted).toBe(240);
    expect(result.unfinished).toBe(0);
    expect(result.shipped).toBeGreaterThan(0);
    expect(result.cancelled).toBeGreaterThan(0);

    const nc = await connect({ servers: nats.url });
    const report = await verifyShop(nc, { settleMs: 20_000 });
    const jsm = await jetstreamManager(nc);
    // Payment retried: more deliveries than reserved events.
    const reserved = (await jsm.streams.info(SHOP_STREAM, { subjects_filter: INVENTORY_RESERVED })).state.subjects?.[INVENTORY_RESERVED] ?? 0;
    expect((await jsm.consumers.info(SHOP_STREAM, "shop_payment")).delivered.consumer_seq).toBeGreaterThan(reserved);
    const ci = await jsm.consumers.info(SHOP_STREAM, "shop_inventory");
    if (!ci.config.filter_subject && !ci.config.filter_subjects?.length) {
      // Unfiltered consumer (nats-server 2.9): more deliveries than messages means the killed
      // process really had events in flight that the server delivered again.
      expect(ci.delivered.consumer_seq).toBeGreaterThan(ci.delivered.stream_seq);
    }
    await nc.close();
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
