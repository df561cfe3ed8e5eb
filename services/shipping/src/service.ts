// The shipping service: dispatches every confirmed order once. The shipment record (created
// only if absent) is the dispatch; a redelivery republishes the same shipment event.
import { followUpEvent, type Handler } from "@jetmesh/mesh";
import {
  ORDER_CONFIRMED,
  SCHEMAS_DIR,
  SHIPMENTS_BUCKET,
  SHIPMENT_DISPATCHED,
  shipmentKey,
  type OrderConfirmed,
  type ShipmentDispatched,
  type ShipmentRecord,
  type ShopSetupContext,
  KvCache,
  openBucket,
} from "@jetmesh/shop";
import { shippingConfig, type ShippingConfig } from "./config.ts";
import { planShipment } from "./shipment.ts";

const SOURCE = "/shop/shipping";

export const shippingService = {
  name: "shipping",
  config: shippingConfig,
  schemasDir: SCHEMAS_DIR,
  async setup(ctx: ShopSetupContext<ShippingConfig>) {
    const kv = await openBucket(ctx.js, SHIPMENTS_BUCKET, ctx.config.buckets, ctx.tracer);
    const records = new KvCache<ShipmentRecord>(kv, { maxEntries: 1000 });

    const onConfirmed: Handler = async (event, hctx) => {
      const data = event.data as OrderConfirmed;
      const key = shipmentKey(data.orderId);
      // The plan is pure, so create-if-absent needs no read: a redelivery finds the first
      // record and republishes exactly that shipment.
      const plan = planShipment(data.orderId, ctx.config.carriers);
      const fresh: ShipmentRecord = { orderId: data.orderId, ...plan, dispatchedAt: new Date().toISOString() };
      const record = (await records.insert(key, fresh)).value!;
      records.forget(key);
      const dispatched: ShipmentDispatched = {
        orderId: record.orderId,
        shipmentId: record.shipmentId,
        carrier: record.carrier,
        items: data.items,
        dispatchedAt: record.dispatchedAt,
      };
      await hctx.publish(followUpEvent(event, { type: SHIPMENT_DISPATCHED, source: SOURCE, data: dispatched }));
    };

    return { handlers: { [ORDER_CONFIRMED]: onConfirmed } };
  },
};
