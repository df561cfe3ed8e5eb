// The shop's CloudEvent types (type == NATS subject, the version is part of the type) and
// the TypeScript shape of each event's data. The JSON Schemas in ../schemas are the
// contract on the wire; these types mirror them for the code.

export const ORDER_PLACED = "shop.order.placed.v1";
export const ORDER_CONFIRMED = "shop.order.confirmed.v1";
export const ORDER_CANCELLED = "shop.order.cancelled.v1";
export const INVENTORY_RESERVED = "shop.inventory.reserved.v1";
export const INVENTORY_REJECTED = "shop.inventory.rejected.v1";
export const PAYMENT_AUTHORIZED = "shop.payment.authorized.v1";
export const PAYMENT_DECLINED = "shop.payment.declined.v1";
export const SHIPMENT_DISPATCHED = "shop.shipment.dispatched.v1";

export const EVENT_TYPES = [
  ORDER_PLACED,
  INVENTORY_RESERVED,
  INVENTORY_REJECTED,
  PAYMENT_AUTHORIZED,
  PAYMENT_DECLINED,
  ORDER_CONFIRMED,
  ORDER_CANCELLED,
  SHIPMENT_DISPATCHED,
] as const;
export type ShopEventType = (typeof EVENT_TYPES)[number];

export interface LineItem {
  sku: string;
  quantity: number;
}

export interface Customer {
  id: string;
  email?: string;
}

/** Payment details carried along the saga to the payment service (amount in minor units). */
export interface PaymentDetails {
  /** Test card number; a real shop would carry a processor token instead. */
  card: string;
  amount: number;
  currency: string;
}

export interface OrderPlaced {
  orderId: string;
  items: LineItem[];
  customer: Customer;
  payment: PaymentDetails;
  placedAt: string;
}

export interface InventoryReserved {
  orderId: string;
  items: LineItem[];
  payment: PaymentDetails;
  reservedAt: string;
}

export type RejectionReason = "out_of_stock" | "unknown_sku";

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export interface InventoryRejected {
  orderId: string;
  reason: RejectionReason;
  shortages: Shortage[];
}

export interface PaymentAuthorized {
  orderId: string;
  authorizationId: string;
  amount: number;
  currency: string;
  authorizedAt: string;
}

export type DeclineReason = "amount_limit" | "card_declined" | "insufficient_funds";

export interface PaymentDeclined {
  orderId: string;
  reason: DeclineReason;
  amount: number;
  currency: string;
}

export interface OrderConfirmed {
  orderId: string;
  items: LineItem[];
  customer: Customer;
  amount: number;
  currency: string;
}

/**
 * unknown_order: the saga reached the order service for an order it never took (a forged or
 * lost `placed` event); the cancellation makes inventory release and payment void it.
 */
export type CancelReason = "out_of_stock" | "unknown_sku" | "payment_declined" | "unknown_order";

export interface OrderCancelled {
  orderId: string;
  reason: CancelReason;
  /** Whether stock was reserved for the order (inventory must release it). */
  stockReserved: boolean;
}

export interface ShipmentDispatched {
  orderId: string;
  shipmentId: string;
  carrier: string;
  items: LineItem[];
  dispatchedAt: string;
}

export interface EventDataByType {
  [ORDER_PLACED]: OrderPlaced;
  [INVENTORY_RESERVED]: InventoryReserved;
  [INVENTORY_REJECTED]: InventoryRejected;
  [PAYMENT_AUTHORIZED]: PaymentAuthorized;
  [PAYMENT_DECLINED]: PaymentDeclined;
  [ORDER_CONFIRMED]: OrderConfirmed;
  [ORDER_CANCELLED]: OrderCancelled;
  [SHIPMENT_DISPATCHED]: ShipmentDispatched;
}
