// The order's state machine: how each incoming event changes an order and which event the
// order service publishes in response. Pure: the handler loads the record, calls `applyEvent`,
// writes the result with compare-and-set, then publishes.
import {
  INVENTORY_REJECTED,
  ORDER_CANCELLED,
  ORDER_CONFIRMED,
  PAYMENT_AUTHORIZED,
  PAYMENT_DECLINED,
  SHIPMENT_DISPATCHED,
  type CancelReason,
  type InventoryRejected,
  type OrderCancelled,
  type OrderConfirmed,
  type OrderHistoryEntry,
  type OrderRecord,
  type OrderStatus,
  type ShipmentDispatched,
} from "@jetmesh/shop";

export interface IncomingEvent {
  id: string;
  type: string;
  data: unknown;
}

export type FollowUp = { type: typeof ORDER_CONFIRMED; data: OrderConfirmed } | { type: typeof ORDER_CANCELLED; data: OrderCancelled };

export type Transition =
  /** The event changes the order; write `order`, then publish `followUp` if any. */
  | { kind: "applied"; order: OrderRecord; followUp?: FollowUp }
  /** The event was applied before (redelivery): write nothing, republish the same follow-up. */
  | { kind: "duplicate"; followUp?: FollowUp }
  /** The event does not apply to the order in its current state. */
  | { kind: "ignored"; reason: string };

export function applyEvent(order: OrderRecord, event: IncomingEvent, now: string): Transition {
  const seen = order.history.find((h) => h.cause?.id === event.id);
  if (seen) return { kind: "duplicate", followUp: followUpFor(order, seen) };

  switch (event.type) {
    case INVENTORY_REJECTED: {
      if (order.status !== "placed") return ignored(order, event);
      const reason = (event.data as InventoryRejected).reason;
      return cancel(order, event, reason, now);
    }
    case PAYMENT_DECLINED:
      if (order.status !== "placed") return ignored(order, event);
      return cancel(order, event, "payment_declined", now);
    case PAYMENT_AUTHORIZED: {
      if (order.status !== "placed") return ignored(order, event);
      const entry: OrderHistoryEntry = { status: "confirmed", at: now, cause: { id: event.id, type: event.type } };
      const next = advance(order, entry);
      return { kind: "applied", order: next, followUp: followUpFor(next, entry) };
    }
    case SHIPMENT_DISPATCHED: {
      if (order.status !== "confirmed") return ignored(order, event);
      const entry: OrderHistoryEntry = { status: "shipped", at: now, cause: { id: event.id, type: event.type } };
      return { kind: "applied", order: { ...advance(order, entry), shipmentId: (event.data as ShipmentDispatched).shipmentId } };
    }
    default:
      return { kind: "ignored", reason: `order service does not handle ${event.type}` };
  }
}

function cancel(order: OrderRecord, event: IncomingEvent, reason: CancelReason, now: string): Transition {
  const entry: OrderHistoryEntry = { status: "cancelled", at: now, cause: { id: event.id, type: event.type }, reason };
  const next: OrderRecord = { ...advance(order, entry), cancelReason: reason };
  return { kind: "applied", order: next, followUp: followUpFor(next, entry) };
}

function advance(order: OrderRecord, entry: OrderHistoryEntry): OrderRecord {
  return { ...order, status: entry.status, updatedAt: entry.at, history: [...order.history, entry] };
}

function ignored(order: OrderRecord, event: IncomingEvent): Transition {
  return { kind: "ignored", reason: `${event.type} does not apply to an order that is ${order.status}` };
}

/** The event published for a history entry (the same data on every redelivery). */
function followUpFor(order: OrderRecord, entry: OrderHistoryEntry): FollowUp | undefined {
  if (entry.status === "confirmed") {
    return {
      type: ORDER_CONFIRMED,
      data: { orderId: order.id, items: order.items, customer: order.customer, amount: order.amount, currency: order.currency },
    };
  }
  if (entry.status === "cancelled") {
    const reason = (entry.reason ?? "payment_declined") as CancelReason;
    return { type: ORDER_CANCELLED, data: { orderId: order.id, reason, stockReserved: entry.cause?.type === PAYMENT_DECLINED } };
  }
  return undefined;
}

export function isTerminal(status: OrderStatus): boolean {
  return status === "cancelled" || status === "shipped";
}

/**
 * What the order service answers to a saga event for an order it has no record of (a
 * forged or lost `placed` event). By the time a payment outcome arrives, inventory holds
 * stock for it and payment may hold an authorization: a cancellation makes both give them
 * back (inventory releases, payment voids). A rejection held nothing; a dispatch cannot
 * happen without a confirmation from this service, so it is dead-lettered for a person.
 */
export function unknownOrderAnswer(
  orderId: string,
  type: string,
): { kind: "cancel"; data: OrderCancelled } | { kind: "nothing-held" } | { kind: "dead-letter"; reason: string } {
  if (type === PAYMENT_AUTHORIZED || type === PAYMENT_DECLINED) {
    return { kind: "cancel", data: { orderId, reason: "unknown_order", stockReserved: true } };
  }
  if (type === INVENTORY_REJECTED) return { kind: "nothing-held" };
  return { kind: "dead-letter", reason: `no order ${orderId}` };
}
