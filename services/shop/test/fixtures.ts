// Test fixtures: the shop's streams and consumers created directly (no operator), and the
// four services started in-process against a harness nats-server.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { Registry } from "prom-client";
import { ConsumerRunner, Publisher, SchemaRegistry, type Handlers } from "@jetmesh/mesh";
import { provisionShop, serviceEnv, subscriptionOf, type ProvisionOptions, type ShopService, type ShopSetupContext } from "../src/index.ts";
import { orderService } from "../../order/src/service.ts";
import { inventoryService } from "../../inventory/src/service.ts";
import { paymentService } from "../../payment/src/service.ts";
import { shippingService } from "../../shipping/src/service.ts";

export const TEST_PROVISION: ProvisionOptions = { backoffMs: [2000, 2000, 4000, 8000], maxDeliver: 5 };

export async function provision(natsUrl: string, opts: ProvisionOptions = TEST_PROVISION): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    await provisionShop(await jetstreamManager(nc), { ...opts, serverVersion: nc.info?.version });
  } finally {
    await nc.close();
  }
}

interface Definition<C> {
  name: string;
  config(env: Record<string, string | undefined>): C;
  schemasDir?: string;
  setup(ctx: ShopSetupContext<C>): Promise<{ handlers?: Handlers; http?(req: IncomingMessage, res: ServerResponse): Promise<boolean> | boolean; close?(): void | Promise<void> }>;
}

export interface RunningService {
  name: ShopService;
  port: number;
  url: string;
  stop(): Promise<void>;
}

// Stands in for the runtime's service shell (runService): connect, setup, consume, serve.
async function runInProcess<C>(def: Definition<C>, env: Record<string, string>): Promise<RunningService> {
  const nc: NatsConnection = await connect({ servers: env.NATS_URL!.split(",") });
  const js = jetstream(nc);
  const registry = new Registry();
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }).child({ service: def.name });
  const publisher = new Publisher(js, { registry, service: def.name });
  const svc = await def.setup({ config: def.config(env), js, publisher, log, registry });
  let runner: ConsumerRunner | undefined;
  if (svc.handlers) {
    runner = new ConsumerRunner({
      js,
      stream: env.JETMESH_STREAM!,
      consumer: env.JETMESH_CONSUMER!,
      handlers: svc.handlers,
      publisher,
      deadLetterSubject: env.JETMESH_DEAD_LETTER_SUBJECT!,
      types: env.JETMESH_TYPES!.split(","),
      ...(def.schemasDir ? { schemas: SchemaRegistry.fromDir(def.schemasDir) } : {}),
      log,
      registry,
      service: def.name,
      concurrency: 32,
    });
    await runner.start();
  }
  const server = createServer((req, res) => {
    void (async () => {
      if (svc.http && (await svc.http(req, res))) return;
      res.writeHead(404).end();
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    name: def.name as ShopService,
    port,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await runner?.stop(5000);
      await svc.close?.();
      await new Promise((r) => server.close(r));
      server.closeAllConnections();
      await nc.drain().catch(() => undefined);
    },
  };
}

export const DEFINITIONS = { order: orderService, inventory: inventoryService, payment: paymentService, shipping: shippingService } as const;

export interface Shop {
  services: Partial<Record<ShopService, RunningService>>;
  orderUrl: string;
  inventoryUrl: string;
  stop(): Promise<void>;
}

/** Starts the given services (default all four) in this process. */
export async function startShop(
  natsUrl: string,
  opts: { env?: Record<string, string>; only?: ShopService[] } = {},
): Promise<Shop> {
  const services: Shop["services"] = {};
  for (const name of opts.only ?? (["inventory", "payment", "shipping", "order"] as ShopService[])) {
    const env = { ...serviceEnv(name, natsUrl, 0), ...opts.env };
    services[name] = await runInProcess(DEFINITIONS[name] as Definition<unknown>, env);
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
