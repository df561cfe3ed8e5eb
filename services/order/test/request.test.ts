import { describe, expect, it } from "vitest";
import { newOrder, newOrderId, priceOrder, validateOrderRequest } from "../src/request.ts";

const valid = { items: [{ sku: "sku-1", quantity: 2 }], customer: { id: "c1", email: "a@example.com" }, payment: { card: "4242424242424242" } };
const pricing = { prices: new Map([["sku-1", 250]]), defaultPrice: 1000, currency: "EUR" };

describe("validateOrderRequest", () => {
  it("accepts a valid order", () => {
    expect(validateOrderRequest(valid).ok).toBe(true);
  });
  it.each([
    { name: "no items", body: { ...valid, items: [] }, field: "/items" },
    { name: "51 items", body: { ...valid, items: Array.from({ length: 51 }, () => ({ sku: "a", quantity: 1 })) }, field: "/items" },
    { name: "zero quantity", body: { ...valid, items: [{ sku: "a", quantity: 0 }] }, field: "/items/0/quantity" },
    { name: "fractional quantity", body: { ...valid, items: [{ sku: "a", quantity: 1.5 }] }, field: "/items/0/quantity" },
    { name: "SKU with a dot", body: { ...valid, items: [{ sku: "a.b", quantity: 1 }] }, field: "/items/0/sku" },
    { name: "missing customer", body: { items: valid.items, payment: valid.payment }, field: "(body)" },
    { name: "bad email", body: { ...valid, customer: { id: "c", email: "nope" } }, field: "/customer/email" },
    { name: "card with letters", body: { ...valid, payment: { card: "4242x" } }, field: "/payment/card" },
    { name: "unknown property", body: { ...valid, coupon: "x" }, field: "(body)" },
    { name: "not an object", body: [1], field: "(body)" },
  ])("refuses $name", ({ body, field }) => {
    const v = validateOrderRequest(body);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map((e) => e.field)).toContain(field);
  });
});

describe("pricing and order creation", () => {
  it.each([
    { name: "price list", items: [{ sku: "sku-1", quantity: 2 }], amount: undefined, want: 500 },
    {
      name: "default price for unlisted SKUs",
      items: [
        { sku: "sku-1", quantity: 1 },
        { sku: "x", quantity: 3 },
      ],
      amount: undefined,
      want: 3250,
    },
    { name: "client amount wins", items: [{ sku: "sku-1", quantity: 2 }], amount: 99, want: 99 },
  ])("$name", ({ items, amount, want }) => {
    expect(priceOrder({ ...valid, items, payment: { card: "4242424242424242", amount } }, pricing)).toBe(want);
  });

  it("stores only the card's last four digits, and carries the card in the event", () => {
    const { record, placed } = newOrder("o1", valid, pricing, "2026-01-01T00:00:00.000Z");
    expect(record).toMatchObject({ id: "o1", status: "placed", amount: 500, currency: "EUR", cardLast4: "4242" });
    expect(JSON.stringify(record)).not.toContain("4242424242424242");
    expect(placed.payment).toEqual({ card: "4242424242424242", amount: 500, currency: "EUR" });
  });

  it("makes ids that sort by creation time", () => {
    const a = newOrderId(1_700_000_000_000);
    const b = newOrderId(1_700_000_000_001);
    expect(a < b).toBe(true);
    expect(a).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });
});
