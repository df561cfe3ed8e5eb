import { describe, expect, it } from "vitest";
import {
  INVENTORY_REJECTED,
  ORDER_CANCELLED,
  ORDER_CONFIRMED,
  PAYMENT_AUTHORIZED,
  PAYMENT_DECLINED,
  SHIPMENT_DISPATCHED,
  type OrderRecord,
  type OrderStatus,
} from "@jetmesh/shop";
import { applyEvent, unknownOrderAnswer } from "../src/saga.ts";

const T0 = "2026-01-01T00:00:00.000Z";
const T1 = "2026-01-01T00:00:01.000Z";

function order(status: OrderStatus, causes: { id: string; type: string; status: OrderStatus; reason?: string }[] = []): OrderRecord {
  return {
    id: "o1",
    status,
    items: [{ sku: "a", quantity: 1 }],
    customer: { id: "c1" },
    amount: 500,
    currency: "EUR",
    cardLast4: "4242",
    createdAt: T0,
    updatedAt: T0,
    history: [{ status: "placed", at: T0 }, ...causes.map((c) => ({ status: c.status, at: T0, cause: { id: c.id, type: c.type }, reason: c.reason }))],
  };
}

const ev = (id: string, type: string, data: unknown = {}) => ({ id, type, data });

describe("applyEvent", () => {
  it.each([
    {
      name: "authorized confirms a placed order",
      o: order("placed"),
      e: ev("e1", PAYMENT_AUTHORIZED),
      kind: "applied",
      status: "confirmed",
      follow: ORDER_CONFIRMED,
    },
    {
      name: "declined cancels and asks for release",
      o: order("placed"),
      e: ev("e1", PAYMENT_DECLINED),
      kind: "applied",
      status: "cancelled",
      follow: ORDER_CANCELLED,
      reserved: true,
      reason: "payment_declined",
    },
    {
      name: "rejected cancels, nothing to release",
      o: order("placed"),
      e: ev("e1", INVENTORY_REJECTED, { reason: "out_of_stock" }),
      kind: "applied",
      status: "cancelled",
      follow: ORDER_CANCELLED,
      reserved: false,
      reason: "out_of_stock",
    },
    {
      name: "dispatched ships a confirmed order",
      o: order("confirmed", [{ id: "e0", type: PAYMENT_AUTHORIZED, status: "confirmed" }]),
      e: ev("e1", SHIPMENT_DISPATCHED, { shipmentId: "s1" }),
      kind: "applied",
      status: "shipped",
    },
    { name: "dispatched before confirmation is ignored", o: order("placed"), e: ev("e1", SHIPMENT_DISPATCHED), kind: "ignored" },
    {
      name: "a second authorization (other id) is ignored",
      o: order("confirmed", [{ id: "e0", type: PAYMENT_AUTHORIZED, status: "confirmed" }]),
      e: ev("e9", PAYMENT_AUTHORIZED),
      kind: "ignored",
    },
    {
      name: "decline after cancel is ignored",
      o: order("cancelled", [{ id: "e0", type: INVENTORY_REJECTED, status: "cancelled", reason: "out_of_stock" }]),
      e: ev("e1", PAYMENT_DECLINED),
      kind: "ignored",
    },
    {
      name: "redelivered authorization republishes the confirmation",
      o: order("confirmed", [{ id: "e0", type: PAYMENT_AUTHORIZED, status: "confirmed" }]),
      e: ev("e0", PAYMENT_AUTHORIZED),
      kind: "duplicate",
      follow: ORDER_CONFIRMED,
    },
    {
      name: "redelivered decline republishes the cancellation",
      o: order("cancelled", [{ id: "e0", type: PAYMENT_DECLINED, status: "cancelled", reason: "payment_declined" }]),
      e: ev("e0", PAYMENT_DECLINED),
      kind: "duplicate",
      follow: ORDER_CANCELLED,
      reserved: true,
      reason: "payment_declined",
    },
    {
      name: "redelivered dispatch changes nothing",
      o: order("shipped", [
        { id: "e0", type: PAYMENT_AUTHORIZED, status: "confirmed" },
        { id: "e1", type: SHIPMENT_DISPATCHED, status: "shipped" },
      ]),
      e: ev("e1", SHIPMENT_DISPATCHED),
      kind: "duplicate",
    },
    { name: "unknown types are ignored", o: order("placed"), e: ev("e1", "shop.other.v1"), kind: "ignored" },
  ])("$name", ({ o, e, kind, status, follow, reserved, reason }) => {
    const t = applyEvent(o, e, T1);
    expect(t.kind).toBe(kind);
    if (t.kind === "applied") {
      expect(t.order.status).toBe(status);
      expect(t.order.history.at(-1)).toMatchObject({ status, at: T1, cause: { id: e.id, type: e.type } });
      expect(o.status).not.toBe(status); // input not mutated
    }
    if (t.kind !== "ignored") {
      expect(t.followUp?.type).toBe(follow);
      if (t.followUp?.type === ORDER_CANCELLED) expect(t.followUp.data).toEqual({ orderId: "o1", reason, stockReserved: reserved });
    }
  });

  it("republishes exactly the data of the first application", () => {
    const first = applyEvent(order("placed"), ev("e1", PAYMENT_AUTHORIZED), T1);
    if (first.kind !== "applied") throw new Error("not applied");
    const again = applyEvent(first.order, ev("e1", PAYMENT_AUTHORIZED), "2030-01-01T00:00:00.000Z");
    expect(again).toEqual({ kind: "duplicate", followUp: first.followUp });
  });
});

describe("unknownOrderAnswer", () => {
  it.each([
    { type: "shop.payment.authorized.v1", kind: "cancel" },
    { type: "shop.payment.declined.v1", kind: "cancel" },
    { type: "shop.inventory.rejected.v1", kind: "nothing-held" },
    { type: "shop.shipment.dispatched.v1", kind: "dead-letter" },
  ])("answers $type for an order it never took with $kind", ({ type, kind }) => {
    const a = unknownOrderAnswer("o-ghost", type);
    expect(a.kind).toBe(kind);
    // Stock was reserved before any payment outcome: the cancellation makes inventory release it.
    if (a.kind === "cancel") expect(a.data).toEqual({ orderId: "o-ghost", reason: "unknown_order", stockReserved: true });
  });
});
