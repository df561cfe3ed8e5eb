import { describe, expect, it } from "vitest";
import { type OrderRecord, type OrderStatus } from "@jetmesh/shop";
import { checkInvariants, type ShopSnapshot } from "../src/index.ts";

const T = "2026-01-01T00:00:00.000Z";
function order(id: string, statuses: OrderStatus[]): OrderRecord {
  return {
    id,
    status: statuses.at(-1)!,
    items: [{ sku: "a", quantity: 1 }],
    customer: { id: "c" },
    amount: 100,
    currency: "EUR",
    cardLast4: "4242",
    createdAt: T,
    updatedAt: T,
    history: statuses.map((status, i) => ({ status, at: T, ...(i > 0 ? { cause: { id: `${id}-e${i}`, type: "x" } } : {}) })),
  };
}

// A consistent shop: o1 shipped, o2 cancelled (declined, released), o3 in flight (holds 1).
function consistent(): ShopSnapshot {
  return {
    orders: [order("o1", ["placed", "confirmed", "shipped"]), order("o2", ["placed", "cancelled"]), order("o3", ["placed"])],
    seeds: [{ sku: "a", initial: 10, seededAt: T }],
    stock: [{ sku: "a", available: 8, reserved: 1, shipped: 1, holds: { o3: 1 } }],
    reservations: [
      { orderId: "o1", status: "shipped", items: [{ sku: "a", quantity: 1 }], updatedAt: T },
      { orderId: "o2", status: "released", items: [{ sku: "a", quantity: 1 }], updatedAt: T },
      { orderId: "o3", status: "reserved", items: [{ sku: "a", quantity: 1 }], updatedAt: T },
    ],
    payments: [
      { orderId: "o1", outcome: "authorized", amount: 100, currency: "EUR", authorizationId: "auth-1", at: T },
      { orderId: "o2", outcome: "declined", amount: 100, currency: "EUR", reason: "card_declined", at: T },
    ],
    shipments: [{ orderId: "o1", shipmentId: "s1", carrier: "dhl", dispatchedAt: T }],
    authorizations: [{ orderId: "o1", eventId: "e1", authorizationId: "auth-1" }],
  };
}

describe("checkInvariants", () => {
  it("finds nothing wrong in a consistent shop and reports in-flight orders", () => {
    const r = checkInvariants(consistent());
    expect(r.violations).toEqual([]);
    expect(r.inFlight).toEqual(["o3"]);
    expect(r.byStatus).toEqual({ placed: 1, confirmed: 0, cancelled: 1, shipped: 1 });
    expect(r.stock).toEqual([{ sku: "a", initial: 10, available: 8, reserved: 1, shipped: 1 }]);
  });

  it.each<{ name: string; kind: string; subject: string; mutate: (s: ShopSnapshot) => void }>([
    { name: "stock created from nothing", kind: "stock_conservation", subject: "a", mutate: (s) => void (s.stock[0]!.available = 9) },
    {
      name: "reserved not matching holds",
      kind: "stock_conservation",
      subject: "a",
      mutate: (s) => void (s.stock[0]! = { ...s.stock[0]!, reserved: 2, available: 7 }),
    },
    {
      name: "stock without a seed",
      kind: "stock_conservation",
      subject: "b",
      mutate: (s) => void s.stock.push({ sku: "b", available: 1, reserved: 0, shipped: 0, holds: {} }),
    },
    {
      name: "the same order charged twice",
      kind: "double_charge",
      subject: "o1",
      mutate: (s) => void s.authorizations.push({ orderId: "o1", eventId: "e2", authorizationId: "auth-2" }),
    },
    {
      name: "stock held by an unknown order",
      kind: "reservation_left",
      subject: "ghost",
      mutate: (s) => void (s.stock[0] = { ...s.stock[0]!, available: 7, reserved: 2, holds: { o3: 1, ghost: 1 } }),
    },
    {
      name: "an unknown order's payment left authorized",
      kind: "inconsistent",
      subject: "ghost",
      mutate: (s) => {
        s.payments.push({ orderId: "ghost", outcome: "authorized", amount: 1, currency: "EUR", authorizationId: "auth-g", at: T });
        s.authorizations.push({ orderId: "ghost", eventId: "eg", authorizationId: "auth-g" });
      },
    },
    { name: "a cancelled order that was charged", kind: "double_charge", subject: "o2", mutate: (s) => void (s.payments[1]!.outcome = "authorized") },
    { name: "two terminal states", kind: "terminal_state", subject: "o1", mutate: (s) => void s.orders[0]!.history.push({ status: "shipped", at: T }) },
    { name: "shipped without confirmation", kind: "terminal_state", subject: "x", mutate: (s) => void s.orders.push(order("x", ["placed", "shipped"])) },
    { name: "a cancelled order still reserved", kind: "reservation_left", subject: "o2", mutate: (s) => void (s.reservations[1]!.status = "reserved") },
    {
      name: "a cancelled order still holding stock",
      kind: "reservation_left",
      subject: "o3",
      mutate: (s) => {
        s.orders[2] = order("o3", ["placed", "cancelled"]);
        s.reservations[2]!.status = "released";
      },
    },
    { name: "shipped without a shipment", kind: "inconsistent", subject: "o1", mutate: (s) => void s.shipments.pop() },
  ])("reports $name", ({ kind, subject, mutate }) => {
    const s = consistent();
    mutate(s);
    const r = checkInvariants(s);
    expect(r.violations.map((v) => [v.kind, v.subject])).toContainEqual([kind, subject]);
  });

  it("counts charges, not events: an authorization republished under a new event id is one charge", () => {
    const s = consistent();
    s.authorizations.push({ orderId: "o1", eventId: "e1-again", authorizationId: "auth-1" }, { orderId: "o1", eventId: "e1-third", authorizationId: "auth-1" });
    expect(checkInvariants(s).violations).toEqual([]);
  });

  it("accepts an unknown order whose stock was released and whose authorization was voided", () => {
    const s = consistent();
    s.payments.push({ orderId: "ghost", outcome: "voided", amount: 1, currency: "EUR", authorizationId: "auth-g", at: T, voidedAt: T });
    s.authorizations.push({ orderId: "ghost", eventId: "eg", authorizationId: "auth-g" });
    expect(checkInvariants(s).violations).toEqual([]);
  });

  it("reports an order unfinished past the stuck time as stuck, with the stock it holds", () => {
    const s = consistent();
    const now = Date.parse(T) + 60_000;
    expect(checkInvariants(s, { now, stuckAfterMs: 120_000 }).violations).toEqual([]);
    const r = checkInvariants(s, { now, stuckAfterMs: 30_000 });
    expect(r.violations).toEqual([{ kind: "stuck", subject: "o3", message: "still placed after 60 s without a change; holds 1 of a" }]);
    expect(r.inFlight).toEqual(["o3"]);
  });
});

describe("checkInvariants: notifications (every shipped order notified exactly once)", () => {
  const withNotifications = (n: ShopSnapshot["notifications"]): ShopSnapshot => ({ ...consistent(), notifications: n });

  it("is not checked when notifications are not deployed, and passes with one per shipped order", () => {
    expect(checkInvariants(consistent()).violations).toEqual([]);
    const r = checkInvariants(withNotifications([{ orderId: "o1", eventId: "n1" }]));
    expect(r.violations).toEqual([]);
    expect(r.inFlight).toEqual(["o3"]);
  });

  it("a shipped order not yet notified is in flight, and a violation once stuck", () => {
    const now = Date.parse(T) + 60_000;
    expect(checkInvariants(withNotifications([]), { now, stuckAfterMs: 120_000 }).inFlight).toEqual(["o1", "o3"]);
    const stuck = checkInvariants(withNotifications([]), { now, stuckAfterMs: 30_000 }).violations.filter((v) => v.kind === "notification");
    expect(stuck).toEqual([{ kind: "notification", subject: "o1", message: "shipped 60 s ago but never notified" }]);
  });

  it.each<{ name: string; notifications: { orderId: string; eventId: string }[]; subject: string; message: RegExp }>([
    {
      name: "notified twice",
      notifications: [
        { orderId: "o1", eventId: "n1" },
        { orderId: "o1", eventId: "n2" },
      ],
      subject: "o1",
      message: /notified 2 times \(events n1, n2\)/,
    },
    {
      name: "a cancelled order notified",
      notifications: [
        { orderId: "o1", eventId: "n1" },
        { orderId: "o2", eventId: "n2" },
      ],
      subject: "o2",
      message: /the order is cancelled, not shipped/,
    },
    {
      name: "an unknown order notified",
      notifications: [
        { orderId: "o1", eventId: "n1" },
        { orderId: "ghost", eventId: "n2" },
      ],
      subject: "ghost",
      message: /the order is unknown/,
    },
  ])("finds $name", ({ notifications, subject, message }) => {
    const found = checkInvariants(withNotifications(notifications)).violations;
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: "notification", subject });
    expect(found[0]!.message).toMatch(message);
  });
});
