// The inventory service: reserves stock for placed orders (all lines or none), releases it
// when an order is cancelled, and moves it to shipped on dispatch. GET /stock/:sku.
import type { IncomingMessage, ServerResponse } from "node:http";
import { followUpEvent, meshMetrics, type Handler } from "@jetmesh/mesh";
import {
  INVENTORY_REJECTED,
  INVENTORY_RESERVED,
  ORDER_CANCELLED,
  ORDER_PLACED,
  SCHEMAS_DIR,
  SHIPMENT_DISPATCHED,
  STOCK_BUCKET,
  HttpError,
  sendJson,
  sendProblem,
  type InventoryRejected,
  type InventoryReserved,
  type OrderCancelled,
  type OrderPlaced,
  type ShipmentDispatched,
  type ShopSetupContext,
  openBucket,
} from "@jetmesh/shop";
import { inventoryConfig, type InventoryConfig } from "./config.ts";
import { Inventory } from "./inventory.ts";

const SOURCE = "/shop/inventory";
const STOCK_ROUTE = /^\/stock\/([A-Za-z0-9_-]{1,64})$/;

export const inventoryService = {
  name: "inventory",
  config: inventoryConfig,
  schemasDir: SCHEMAS_DIR,
  async setup(ctx: ShopSetupContext<InventoryConfig>) {
    const kv = await openBucket(ctx.js, STOCK_BUCKET, ctx.config.buckets, ctx.tracer);
    const inventory = new Inventory(kv);
    const { seeded, kept } = await inventory.seed(ctx.config.seed, new Date().toISOString());
    ctx.log.info({ seeded, kept }, "stock seeded (existing SKUs kept as they are)");
    const httpRequests = meshMetrics(ctx.registry).httpRequests;

    const onPlaced: Handler = async (event, hctx) => {
      const data = event.data as OrderPlaced;
      const r = await inventory.reserve(data.orderId, data.items, new Date().toISOString());
      if (r.outcome === "reserved") {
        // The order's own lines, not the per-SKU totals held: a total may exceed what one line
        // of the event may carry (1,000), and an event that fails its schema would leave the
        // order stuck with its stock held.
        const reserved: InventoryReserved = { orderId: data.orderId, items: data.items, payment: data.payment, reservedAt: r.at };
        await hctx.publish(followUpEvent(event, { type: INVENTORY_RESERVED, source: SOURCE, data: reserved }));
      } else if (r.outcome === "rejected") {
        const rejected: InventoryRejected = { orderId: data.orderId, reason: r.reason, shortages: r.shortages };
        await hctx.publish(followUpEvent(event, { type: INVENTORY_REJECTED, source: SOURCE, data: rejected }));
      } else {
        hctx.log.info({ orderId: data.orderId, status: r.status }, "reservation already settled; nothing to do");
      }
    };
    const onCancelled: Handler = async (event) => {
      await inventory.release((event.data as OrderCancelled).orderId, new Date().toISOString());
    };
    const onDispatched: Handler = async (event) => {
      await inventory.ship((event.data as ShipmentDispatched).orderId, new Date().toISOString());
    };

    return {
      handlers: { [ORDER_PLACED]: onPlaced, [ORDER_CANCELLED]: onCancelled, [SHIPMENT_DISPATCHED]: onDispatched },
      async http(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
        const path = (req.url ?? "/").split("?")[0]!;
        if (!path.startsWith("/stock/")) return false;
        const m = STOCK_ROUTE.exec(path);
        try {
          if (req.method !== "GET") throw new HttpError(405, "Method Not Allowed", "only GET is supported here");
          if (!m) throw new HttpError(404, "Not Found", "no such SKU");
          const sku = m[1]!;
          const [stock, initial] = await Promise.all([inventory.stock(sku), inventory.initial(sku)]);
          if (!stock) throw new HttpError(404, "Not Found", `no stock record for ${sku}`);
          sendJson(res, 200, {
            sku,
            available: stock.available,
            reserved: stock.reserved,
            shipped: stock.shipped,
            initial,
            openReservations: Object.keys(stock.holds).length,
          });
        } catch (err) {
          const e = err instanceof HttpError ? err : new HttpError(503, "Service Unavailable", "stock cannot be read right now");
          if (!(err instanceof HttpError)) ctx.log.error({ err }, "GET /stock failed");
          sendProblem(res, e, path, e.status === 405 ? { allow: "GET" } : {});
        }
        httpRequests.labels("inventory", "/stock/:sku", String(res.statusCode)).inc();
        return true;
      },
    };
  },
};
