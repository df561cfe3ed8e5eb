// The payment service: authorizes the payment of every reserved order exactly once, and
// voids the authorization of an order that is cancelled. The payment record (keyed by order
// id, created only if absent) is the charge: a redelivered request finds it and republishes
// the same outcome instead of charging again.
import { setTimeout as sleep } from "node:timers/promises";
import { TransientError, followUpEvent, type CloudEvent, type Handler } from "@jetmesh/mesh";
import {
  INVENTORY_RESERVED,
  ORDER_CANCELLED,
  PAYMENTS_BUCKET,
  PAYMENT_AUTHORIZED,
  PAYMENT_DECLINED,
  SCHEMAS_DIR,
  paymentKey,
  type InventoryReserved,
  type OrderCancelled,
  type PaymentAuthorized,
  type PaymentDeclined,
  type PaymentRecord,
  type ShopSetupContext,
  KvCache,
  openBucket,
} from "@jetmesh/shop";
import { paymentConfig, type PaymentConfig } from "./config.ts";
import { decide, transientFailure } from "./processor.ts";

const SOURCE = "/shop/payment";

export const paymentService = {
  name: "payment",
  config: paymentConfig,
  schemasDir: SCHEMAS_DIR,
  async setup(ctx: ShopSetupContext<PaymentConfig>) {
    const cfg = ctx.config;
    const kv = await openBucket(ctx.js, PAYMENTS_BUCKET, cfg.buckets, ctx.tracer);
    const records = new KvCache<PaymentRecord>(kv, { maxEntries: 1000 });

    const onReserved: Handler = async (event, hctx) => {
      const data = event.data as InventoryReserved;
      const key = paymentKey(data.orderId);
      // The processor is called with the order id as its idempotency key (deterministic
      // answer), so calling it again on a redelivery is harmless; the record, created only if
      // absent, is the charge — a second delivery finds the first record and republishes it.
      if (cfg.latencyMs > 0) await sleep(cfg.latencyMs);
      if (transientFailure(data.orderId, hctx.deliveryCount, cfg.failureRate)) {
        throw new TransientError("simulated processor timeout", { delayMs: cfg.retryDelayMs });
      }
      const d = decide(data.orderId, data.payment, cfg.rules);
      const fresh: PaymentRecord = {
        orderId: data.orderId,
        outcome: d.outcome,
        amount: data.payment.amount,
        currency: data.payment.currency,
        ...(d.outcome === "authorized" ? { authorizationId: d.authorizationId } : { reason: d.reason }),
        at: new Date().toISOString(),
      };
      const record = (await records.insert(key, fresh)).value!;
      records.forget(key);
      if (record.outcome === "voided") {
        hctx.log.info({ orderId: data.orderId }, "authorization was voided already (order cancelled); nothing to announce");
        return;
      }
      await hctx.publish(outcomeEvent(event, record));
    };

    // Compensation: an authorization whose order was cancelled is released at the processor
    // (here: the record says voided, so it is never charged). Normally no authorized order is
    // cancelled; the order service does so for an order it never took.
    const onCancelled: Handler = async (event, hctx) => {
      const { orderId } = event.data as OrderCancelled;
      const key = paymentKey(orderId);
      const r = await records.update(key, (cur) =>
        cur?.outcome === "authorized" ? { ...cur, outcome: "voided", voidedAt: new Date().toISOString() } : undefined,
      );
      records.forget(key);
      if (r.changed) hctx.log.warn({ orderId }, "authorization voided: the order was cancelled");
    };

    return { handlers: { [INVENTORY_RESERVED]: onReserved, [ORDER_CANCELLED]: onCancelled } };
  },
};

function outcomeEvent(cause: CloudEvent, r: PaymentRecord): CloudEvent {
  if (r.outcome === "authorized") {
    const data: PaymentAuthorized = { orderId: r.orderId, authorizationId: r.authorizationId!, amount: r.amount, currency: r.currency, authorizedAt: r.at };
    return followUpEvent(cause, { type: PAYMENT_AUTHORIZED, source: SOURCE, data });
  }
  const data: PaymentDeclined = { orderId: r.orderId, reason: r.reason!, amount: r.amount, currency: r.currency };
  return followUpEvent(cause, { type: PAYMENT_DECLINED, source: SOURCE, data });
}
