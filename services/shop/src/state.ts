// The shop's state in JetStream KV: one bucket per owning service, key helpers, and the
// records stored there. The services write them; the invariant checker reads them.
import type { CancelReason, Customer, DeclineReason, LineItem, RejectionReason } from "./events.ts";

export const ORDERS_BUCKET = "shop_orders";
export const STOCK_BUCKET = "shop_stock";
export const PAYMENTS_BUCKET = "shop_payments";
export const SHIPMENTS_BUCKET = "shop_shipments";
export const ALL_BUCKETS = [ORDERS_BUCKET, STOCK_BUCKET, PAYMENTS_BUCKET, SHIPMENTS_BUCKET];

// KV keys allow [-/_=.a-zA-Z0-9]; order ids and SKUs are restricted to [A-Za-z0-9_-] by the
// schemas, so they can be used in keys as they are.
export const orderKey = (orderId: string) => `order.${orderId}`;
export const idempotencyKey = (hash: string) => `idem.${hash}`;
export const stockKey = (sku: string) => `stock.${sku}`;
export const seedKey = (sku: string) => `seed.${sku}`;
export const reservationKey = (orderId: string) => `reservation.${orderId}`;
export const paymentKey = (orderId: string) => `payment.${orderId}`;
export const shipmentKey = (orderId: string) => `shipment.${orderId}`;

export type OrderStatus = "placed" | "confirmed" | "cancelled" | "shipped";
export const TERMINAL_ORDER_STATUSES: readonly OrderStatus[] = ["cancelled", "shipped"];

export interface OrderHistoryEntry {
  status: OrderStatus;
  at: string;
  /** The event that caused the transition (absent for the POST that placed the order). */
  cause?: { id: string; type: string };
  reason?: string;
}

export interface OrderRecord {
  id: string;
  status: OrderStatus;
  items: LineItem[];
  customer: Customer;
  amount: number;
  currency: string;
  /** Last four digits only: the card number itself is never stored. */
  cardLast4: string;
  createdAt: string;
  updatedAt: string;
  cancelReason?: CancelReason;
  shipmentId?: string;
  history: OrderHistoryEntry[];
}

export interface IdempotencyRecord {
  orderId: string;
  /** sha256 of the request body: the same key with another body is refused. */
  bodyHash: string;
}

/**
 * Stock of one SKU. `holds` maps order id → reserved quantity: the reservation marker lives in
 * the same record as the counters, so reserving, releasing and shipping are each one
 * compare-and-set that is either fully applied or not at all, and a redelivery can tell.
 * Invariant: reserved = sum(holds).
 */
export interface StockRecord {
  sku: string;
  available: number;
  reserved: number;
  shipped: number;
  holds: Record<string, number>;
}

/** The initial stock of a SKU as first seeded; never changed afterwards. */
export interface SeedRecord {
  sku: string;
  initial: number;
  seededAt: string;
}

export type ReservationStatus = "pending" | "reserved" | "rejected" | "released" | "shipped";

export interface ReservationRecord {
  orderId: string;
  status: ReservationStatus;
  items: LineItem[];
  reason?: RejectionReason;
  shortages?: { sku: string; requested: number; available: number }[];
  updatedAt: string;
}

export interface PaymentRecord {
  orderId: string;
  /** voided: authorized, then released because the order was cancelled (never charged). */
  outcome: "authorized" | "declined" | "voided";
  amount: number;
  currency: string;
  authorizationId?: string;
  reason?: DeclineReason;
  at: string;
  voidedAt?: string;
}

export interface ShipmentRecord {
  orderId: string;
  shipmentId: string;
  carrier: string;
  dispatchedAt: string;
}
