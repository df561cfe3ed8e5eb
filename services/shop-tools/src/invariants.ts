// The shop's invariants, checked on a snapshot of its state (pure, so every rule has a
// table test). verify.ts takes the snapshot from NATS.
import type { OrderRecord, OrderStatus, PaymentRecord, ReservationRecord, SeedRecord, ShipmentRecord, StockRecord } from "@jetmesh/shop";

export interface ShopSnapshot {
  orders: OrderRecord[];
  seeds: SeedRecord[];
  stock: StockRecord[];
  reservations: ReservationRecord[];
  payments: PaymentRecord[];
  shipments: ShipmentRecord[];
  /**
   * Every payment.authorized event in the stream: (order, CloudEvent id, the processor's
   * authorization id). A redelivered request republishes the same authorization under a new
   * event id, so charges are counted by authorization id, not by event.
   */
  authorizations: { orderId: string; eventId: string; authorizationId: string }[];
  /**
   * Every shop.notification.sent.v1 event in the stream (the Python notifications service's
   * replies, docs/http.md). Undefined when notifications are not deployed: not checked.
   */
  notifications?: { orderId: string; eventId: string }[];
}

export interface CheckOptions {
  /** The checker's clock (ms since the epoch). */
  now?: number;
  /**
   * An order not finished and unchanged for this long is stuck: a violation, listed with
   * the stock it holds. Unset: unfinished orders are only reported as in flight.
   */
  stuckAfterMs?: number;
}

export type ViolationKind =
  | "terminal_state" // an order in more than one terminal state, or an impossible history
  | "stock_conservation" // initial ≠ available + reserved + shipped, or negative counts
  | "double_charge" // an order authorized more than once, or charged and cancelled
  | "reservation_left" // a finished (or unknown) order still holds stock
  | "stuck" // an order unfinished for longer than the settle time
  | "inconsistent" // services disagree about an order's outcome
  | "notification"; // a shipped order not notified exactly once, or a notification without a shipment

export interface Violation {
  kind: ViolationKind;
  /** The order id or SKU concerned. */
  subject: string;
  message: string;
}

export interface InvariantReport {
  orders: number;
  byStatus: Record<OrderStatus, number>;
  /** Orders not finished yet (placed or confirmed): not a violation, but not settled either. */
  inFlight: string[];
  violations: Violation[];
  stock: { sku: string; initial: number; available: number; reserved: number; shipped: number }[];
}

const TERMINAL = new Set<OrderStatus>(["cancelled", "shipped"]);

export function checkInvariants(s: ShopSnapshot, opts: CheckOptions = {}): InvariantReport {
  const violations: Violation[] = [];
  const v = (kind: ViolationKind, subject: string, message: string) => violations.push({ kind, subject, message });
  const byStatus: Record<OrderStatus, number> = { placed: 0, confirmed: 0, cancelled: 0, shipped: 0 };
  const inFlight: string[] = [];
  const orders = new Map(s.orders.map((o) => [o.id, o]));
  const reservations = new Map(s.reservations.map((r) => [r.orderId, r]));
  const payments = new Map(s.payments.map((p) => [p.orderId, p]));
  const shipments = new Map(s.shipments.map((x) => [x.orderId, x]));
  const notified = new Map<string, string[]>();
  for (const n of s.notifications ?? []) notified.set(n.orderId, [...(notified.get(n.orderId) ?? []), n.eventId]);

  for (const o of s.orders) {
    byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
    const terminals = o.history.filter((h) => TERMINAL.has(h.status));
    if (terminals.length > 1) v("terminal_state", o.id, `reached ${terminals.length} terminal states (${terminals.map((h) => h.status).join(", ")})`);
    const last = o.history.at(-1);
    if (last?.status !== o.status) v("terminal_state", o.id, `status ${o.status} but last history entry is ${last?.status ?? "none"}`);
    if (!TERMINAL.has(o.status)) {
      inFlight.push(o.id);
      const idleMs = (opts.now ?? Date.now()) - Date.parse(o.updatedAt);
      if (opts.stuckAfterMs !== undefined && idleMs >= opts.stuckAfterMs) {
        const held = heldBy(s.stock, o.id);
        const holds = held.length > 0 ? `; holds ${held.map((h) => `${h.quantity} of ${h.sku}`).join(", ")}` : "; holds no stock";
        v("stuck", o.id, `still ${o.status} after ${Math.round(idleMs / 1000)} s without a change${holds}`);
      }
      continue;
    }
    const pay = payments.get(o.id);
    const res = reservations.get(o.id);
    if (o.status === "shipped") {
      if (!o.history.some((h) => h.status === "confirmed")) v("terminal_state", o.id, "shipped without being confirmed");
      if (pay?.outcome !== "authorized") v("inconsistent", o.id, "shipped without an authorized payment");
      if (!shipments.has(o.id)) v("inconsistent", o.id, "shipped without a shipment record");
      if (res && res.status !== "shipped") v("reservation_left", o.id, `shipped but its reservation is ${res.status}`);
      if (s.notifications) {
        const ids = notified.get(o.id) ?? [];
        if (ids.length > 1) v("notification", o.id, `notified ${ids.length} times (events ${ids.join(", ")})`);
        if (ids.length === 0) {
          // Not finished from the customer's side until notified: in flight, stuck after a while.
          inFlight.push(o.id);
          const idleMs = (opts.now ?? Date.now()) - Date.parse(o.updatedAt);
          if (opts.stuckAfterMs !== undefined && idleMs >= opts.stuckAfterMs)
            v("notification", o.id, `shipped ${Math.round(idleMs / 1000)} s ago but never notified`);
        }
      }
    } else {
      if (pay?.outcome === "authorized") v("double_charge", o.id, "cancelled but its payment is authorized, not voided (charged without goods)");
      if (shipments.has(o.id)) v("inconsistent", o.id, "cancelled but a shipment was dispatched");
      if (res && (res.status === "reserved" || res.status === "pending")) v("reservation_left", o.id, `cancelled but its reservation is still ${res.status}`);
    }
  }

  const charges = new Map<string, Map<string, string[]>>();
  for (const a of s.authorizations) {
    const byAuth = charges.get(a.orderId) ?? new Map<string, string[]>();
    byAuth.set(a.authorizationId, [...(byAuth.get(a.authorizationId) ?? []), a.eventId]);
    charges.set(a.orderId, byAuth);
  }
  for (const [orderId, byAuth] of charges) {
    if (byAuth.size > 1) v("double_charge", orderId, `charged ${byAuth.size} times (authorizations ${[...byAuth.keys()].join(", ")})`);
    // A voided authorization of an unknown order is the compensation having worked.
    if (!orders.has(orderId) && payments.get(orderId)?.outcome !== "voided")
      v("inconsistent", orderId, "payment authorized for an unknown order and not voided");
  }
  for (const p of s.payments) {
    if (p.outcome === "authorized" && !orders.has(p.orderId) && !charges.has(p.orderId))
      v("inconsistent", p.orderId, "payment authorized for an unknown order and not voided");
  }

  for (const [orderId] of notified) {
    if (orders.get(orderId)?.status !== "shipped")
      v("notification", orderId, `notified, but the order is ${orders.get(orderId)?.status ?? "unknown"}, not shipped`);
  }

  const stockBySku = new Map(s.stock.map((x) => [x.sku, x]));
  const stock: InvariantReport["stock"] = [];
  for (const seed of s.seeds) {
    const st = stockBySku.get(seed.sku);
    if (!st) {
      v("stock_conservation", seed.sku, "seeded but has no stock record");
      continue;
    }
    stock.push({ sku: seed.sku, initial: seed.initial, available: st.available, reserved: st.reserved, shipped: st.shipped });
    const total = st.available + st.reserved + st.shipped;
    if (total !== seed.initial)
      v("stock_conservation", seed.sku, `initial ${seed.initial} ≠ available ${st.available} + reserved ${st.reserved} + shipped ${st.shipped} (= ${total})`);
    if (st.available < 0 || st.reserved < 0 || st.shipped < 0) v("stock_conservation", seed.sku, "negative stock count");
    const held = Object.values(st.holds).reduce((a, b) => a + b, 0);
    if (held !== st.reserved) v("stock_conservation", seed.sku, `reserved ${st.reserved} but holds add up to ${held}`);
    for (const orderId of Object.keys(st.holds)) {
      const o = orders.get(orderId);
      if (!o) v("reservation_left", orderId, `unknown order, yet holds ${st.holds[orderId]} of ${seed.sku}`);
      else if (TERMINAL.has(o.status)) v("reservation_left", orderId, `${o.status} but still holds ${st.holds[orderId]} of ${seed.sku}`);
    }
  }
  for (const st of s.stock) if (!s.seeds.some((x) => x.sku === st.sku)) v("stock_conservation", st.sku, "stock record without a seed record");

  inFlight.sort();
  return { orders: s.orders.length, byStatus, inFlight, violations, stock };
}

function heldBy(stock: StockRecord[], orderId: string): { sku: string; quantity: number }[] {
  return stock.filter((st) => st.holds[orderId] !== undefined).map((st) => ({ sku: st.sku, quantity: st.holds[orderId]! }));
}
