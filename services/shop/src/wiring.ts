// The shop's wiring (docs/contracts.md): one stream, one dead-letter stream, one subscription
// per service. The event catalog, the test fixtures and the bench all read it from here.
import {
  INVENTORY_REJECTED,
  INVENTORY_RESERVED,
  ORDER_CANCELLED,
  ORDER_CONFIRMED,
  ORDER_PLACED,
  PAYMENT_AUTHORIZED,
  PAYMENT_DECLINED,
  SHIPMENT_DISPATCHED,
  type ShopEventType,
} from "./events.ts";

export const SHOP_NAMESPACE = "shop";
export const SHOP_STREAM = "shop_events";
export const SHOP_SUBJECTS = ["shop.>"];
export const DEAD_LETTER_STREAM = "shop_dead-letters";
export const DEAD_LETTER_SUBJECTS = ["jetmesh.dlq.>"];

export type ShopService = "order" | "inventory" | "payment" | "shipping";
export const SHOP_SERVICES: readonly ShopService[] = ["order", "inventory", "payment", "shipping"];

export interface Subscription {
  /** EventSubscription name (and the subscriber Deployment). */
  service: ShopService;
  consumer: string;
  types: ShopEventType[];
  deadLetterSubject: string;
}

function subscription(service: ShopService, types: ShopEventType[]): Subscription {
  return {
    service,
    consumer: `${SHOP_NAMESPACE}_${service}`,
    types,
    deadLetterSubject: `jetmesh.dlq.${SHOP_NAMESPACE}.${service}`,
  };
}

export const SUBSCRIPTIONS: readonly Subscription[] = [
  subscription("inventory", [ORDER_PLACED, ORDER_CANCELLED, SHIPMENT_DISPATCHED]),
  // Cancellations too: an authorization for an order that is then cancelled is voided.
  subscription("payment", [INVENTORY_RESERVED, ORDER_CANCELLED]),
  subscription("order", [INVENTORY_REJECTED, PAYMENT_AUTHORIZED, PAYMENT_DECLINED, SHIPMENT_DISPATCHED]),
  subscription("shipping", [ORDER_CONFIRMED]),
];

/** Which service publishes each type. */
export const PRODUCERS: Record<ShopEventType, ShopService> = {
  [ORDER_PLACED]: "order",
  [INVENTORY_RESERVED]: "inventory",
  [INVENTORY_REJECTED]: "inventory",
  [PAYMENT_AUTHORIZED]: "payment",
  [PAYMENT_DECLINED]: "payment",
  [ORDER_CONFIRMED]: "order",
  [ORDER_CANCELLED]: "order",
  [SHIPMENT_DISPATCHED]: "shipping",
};

export function subscriptionOf(service: ShopService): Subscription {
  const s = SUBSCRIPTIONS.find((x) => x.service === service);
  if (!s) throw new Error(`no subscription for ${service}`);
  return s;
}

export function consumersOf(type: ShopEventType): ShopService[] {
  return SUBSCRIPTIONS.filter((s) => s.types.includes(type)).map((s) => s.service);
}

/** The base env a service process gets (what the chart and `make dev` set). */
export function serviceEnv(service: ShopService, natsUrl: string, httpPort: number): Record<string, string> {
  const s = subscriptionOf(service);
  return {
    NATS_URL: natsUrl,
    JETMESH_STREAM: SHOP_STREAM,
    JETMESH_CONSUMER: s.consumer,
    JETMESH_TYPES: s.types.join(","),
    JETMESH_DEAD_LETTER_SUBJECT: s.deadLetterSubject,
    HTTP_PORT: String(httpPort),
  };
}
