// Test fixtures: the shop's streams and consumers created directly (no operator), and the
// four services started in-process against a harness nats-server.
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { runService, type ServiceDefinition } from "@jetmesh/mesh";
import { waitFor } from "@jetmesh/testing";
import { serviceEnv, subscriptionOf, type ShopService } from "@jetmesh/shop";
import { provisionShop, type ProvisionOptions } from "../src/index.ts";
import { orderService } from "../../order/src/service.ts";
import { inventoryService } from "../../inventory/src/service.ts";
import { paymentService } from "../../payment/src/service.ts";
import { shippingService } from "../../shipping/src/service.ts";

export const TEST_PROVISION: ProvisionOptions = { ackWaitMs: 2000, backoffMs: [2000, 2000, 4000, 8000], maxDeliver: 5 };

export async function provision(natsUrl: string, opts: ProvisionOptions = TEST_PROVISION): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    await provisionShop(await jetstreamManager(nc), opts);
  } finally {
    await nc.close();
  }
}

export interface RunningService {
  name: ShopService;
  port: number;
  url: string;
  stop(): Promise<void>;
}

async function runInProcess(name: ShopService, env: Record<string, string>): Promise<RunningService> {
  const h = await runService(DEFINITIONS[name] as ServiceDefinition<unknown>, env);
  // Ready = consuming: events published from now on are handled.
  await waitFor(`${name} ready`, () => h.ready, { timeoutMs: 15_000 });
  return { name, port: h.port, url: h.url, stop: () => h.stop() };
}

export const DEFINITIONS = { order: orderService, inventory: inventoryService, payment: paymentService, shipping: shippingService } as const;

export interface Shop {
  services: Partial<Record<ShopService, RunningService>>;
  orderUrl: string;
  inventoryUrl: string;
  stop(): Promise<void>;
}

/** Starts the given services (default all four) in this process. */
export async function startShop(natsUrl: string, opts: { env?: Record<string, string>; only?: ShopService[] } = {}): Promise<Shop> {
  const services: Shop["services"] = {};
  for (const name of opts.only ?? (["inventory", "payment", "shipping", "order"] as ShopService[])) {
    const env = { ...serviceEnv(name, natsUrl, 0), HTTP_HOST: "127.0.0.1", LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent", CONCURRENCY: "32", ...opts.env };
    services[name] = await runInProcess(name, env);
  }
  return {
    services,
    orderUrl: services.order?.url ?? "",
    inventoryUrl: services.inventory?.url ?? "",
    async stop() {
      for (const s of Object.values(services)) await s.stop();
    },
  };
}

export { subscriptionOf };
