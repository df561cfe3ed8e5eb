// The order service: the HTTP API that starts the saga, and the handlers that confirm,
// cancel and mark orders shipped as the other services answer.
import { Counter, Histogram } from "prom-client";
import { TerminalError, deriveEventId, followUpEvent, meshMetrics, newEvent, type Handler } from "@jetmesh/mesh";
import {
  INVENTORY_REJECTED,
  ORDERS_BUCKET,
  ORDER_CANCELLED,
  ORDER_PLACED,
  PAYMENT_AUTHORIZED,
  PAYMENT_DECLINED,
  SCHEMAS_DIR,
  SHIPMENT_DISPATCHED,
  type OrderPlaced,
  type OrderRecord,
  type ShopSetupContext,
  openBucket,
} from "@jetmesh/shop";
import { orderApi } from "./api.ts";
import { orderConfig, type OrderConfig } from "./config.ts";
import { isTerminal, unknownOrderAnswer } from "./saga.ts";
import { OrderIndex, watchOrders } from "./order-index.ts";
import { OrderStore } from "./store.ts";
import { PlacedRetry } from "./placed-retry.ts";

const SOURCE = "/shop/order";
// The first list requests wait this long for the index to load, then get a 503 (retry).
const INDEX_READY_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const orderService = {
  name: "order",
  config: orderConfig,
  schemasDir: SCHEMAS_DIR,
  async setup(ctx: ShopSetupContext<OrderConfig>) {
    const kv = await openBucket(ctx.js, ORDERS_BUCKET, ctx.config.buckets, ctx.tracer);
    const store = new OrderStore(kv);
    // Started by the first list request: a replica nobody lists orders from does not pay for
    // watching every order write.
    const index = new OrderIndex();
    let watch: ReturnType<typeof watchOrders> | undefined;
    if (ctx.config.apiToken === undefined) {
      ctx.log.warn("the order API is open: ORDER_API_TOKEN is not set (customer emails are masked in answers); set it anywhere but a loopback dev setup");
    }
    const mesh = meshMetrics(ctx.registry);
    const ordersTotal = new Counter({
      name: "jetmesh_orders_total",
      help: "Orders reaching each status (placed, confirmed, cancelled, shipped).",
      labelNames: ["status"],
      registers: [ctx.registry],
    });
    const sagaSeconds = new Histogram({
      name: "jetmesh_saga_duration_seconds",
      help: "Time from POST accepted to the order's final state, by outcome (shipped, cancelled).",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [ctx.registry],
    });

    const placedRetry = new PlacedRetry({
      onPublished: (orderId, attempts) => ctx.log.info({ orderId, attempts }, "placed event published after a failed attempt"),
      onGiveUp: (orderId) =>
        ctx.log.error({ orderId }, "too many orders waiting for their placed event: gave this one up (it stays placed until the client retries)"),
    });

    const onSagaEvent: Handler = async (event, hctx) => {
      const orderId = (event.data as { orderId: string }).orderId;
      const t = await store.apply(orderId, { id: event.id, type: event.type, data: event.data }, () => new Date().toISOString());
      if (!t) {
        const answer = unknownOrderAnswer(orderId, event.type);
        if (answer.kind === "dead-letter") throw new TerminalError(answer.reason);
        hctx.log.warn({ orderId, type: event.type, answer: answer.kind }, "event for an order this service never took");
        // Derived from the cause's id like every follow-up: a redelivery is deduplicated.
        if (answer.kind === "cancel") await hctx.publish(followUpEvent(event, { type: ORDER_CANCELLED, source: SOURCE, data: answer.data }));
        return;
      }
      if (t.kind === "ignored") {
        hctx.log.warn({ orderId, type: event.type, reason: t.reason }, "event ignored");
        return;
      }
      if (t.kind === "applied") {
        ordersTotal.labels(t.order.status).inc();
        if (isTerminal(t.order.status)) {
          sagaSeconds.labels(t.order.status).observe(Math.max(0, Date.now() - Date.parse(t.order.createdAt)) / 1000);
        }
      }
      if (t.followUp) await hctx.publish(followUpEvent(event, { type: t.followUp.type, source: SOURCE, data: t.followUp.data }));
    };

    const http = orderApi({
      config: ctx.config,
      store,
      async listOrders(opts) {
        watch ??= watchOrders(kv, index);
        const w = watch;
        // A watch that could not start is retried by the next request.
        w.catch(() => (watch === w ? (watch = undefined) : undefined));
        await withTimeout(
          w.then((x) => x.ready),
          INDEX_READY_TIMEOUT_MS,
          "the order index is still loading",
        );
        return store.list(index, opts);
      },
      log: ctx.log,
      async publishPlaced(record: OrderRecord, request, traceparent) {
        const data: OrderPlaced = {
          orderId: record.id,
          items: record.items,
          customer: record.customer,
          payment: { card: request.payment.card, amount: record.amount, currency: record.currency },
          placedAt: record.createdAt,
        };
        const id = deriveEventId(`order/${record.id}`, ORDER_PLACED);
        const event = newEvent({
          id,
          type: ORDER_PLACED,
          source: SOURCE,
          subject: record.id,
          data,
          time: record.createdAt,
          ...(traceparent ? { traceparent } : {}),
        });
        // A background retry publishes the same event, in the request's trace.
        const publish = () => ctx.publisher.publish(event).then(() => undefined);
        try {
          await publish();
        } catch (err) {
          // Stored but not announced: keep trying in the background (placed-retry.ts), and
          // answer the client with the error (it may retry with its Idempotency-Key).
          ctx.log.warn({ orderId: record.id, err: (err as Error).message }, "placed event not published; retrying in the background");
          placedRetry.add(record.id, publish);
          throw err;
        }
      },
      onPlaced: () => ordersTotal.labels("placed").inc(),
      countRequest: (route, code) => mesh.httpRequests.labels("order", route, String(code)).inc(),
      countRejected: (reason) => mesh.httpRejected.labels("order", reason).inc(),
    });

    return {
      handlers: {
        [INVENTORY_REJECTED]: onSagaEvent,
        [PAYMENT_AUTHORIZED]: onSagaEvent,
        [PAYMENT_DECLINED]: onSagaEvent,
        [SHIPMENT_DISPATCHED]: onSagaEvent,
      },
      http,
      close: async () => {
        placedRetry.stop();
        (await watch?.catch(() => undefined))?.stop();
      },
    };
  },
};
