import { describe, expect, it } from "vitest";
import type { StockRecord } from "@jetmesh/shop";
import { emptyStock, holdStock, normalizeItems, releaseHold, shipHold } from "../src/stock.ts";
import { SeedError, parseSeed } from "../src/seed.ts";

const stock = (available: number, holds: Record<string, number> = {}, shipped = 0): StockRecord => {
  const reserved = Object.values(holds).reduce((a, b) => a + b, 0);
  return { sku: "s", available, reserved, shipped, holds };
};

describe("holdStock", () => {
  it.each([
    { name: "enough stock", s: stock(5), qty: 2, outcome: "held", after: stock(3, { o1: 2 }) },
    { name: "exactly the last units", s: stock(2), qty: 2, outcome: "held", after: stock(0, { o1: 2 }) },
    { name: "not enough", s: stock(1), qty: 2, outcome: "insufficient", after: undefined },
    { name: "already held by the order (redelivery)", s: stock(3, { o1: 2 }), qty: 2, outcome: "already-held", after: undefined },
  ])("$name", ({ s, qty, outcome, after }) => {
    const r = holdStock(s, "o1", qty);
    expect(r.outcome).toBe(outcome);
    if (r.outcome === "held") expect(r.next).toEqual(after);
    if (r.outcome === "insufficient") expect(r.available).toBe(s.available);
  });
});

describe("releaseHold and shipHold conserve stock and apply once", () => {
  it.each([
    { name: "release a hold", fn: releaseHold, s: stock(3, { o1: 2, o2: 1 }), after: stock(5, { o2: 1 }) },
    { name: "release without a hold", fn: releaseHold, s: stock(3, { o2: 1 }), after: undefined },
    { name: "ship a hold", fn: shipHold, s: stock(3, { o1: 2 }), after: stock(3, {}, 2) },
    { name: "ship without a hold", fn: shipHold, s: stock(3, {}, 2), after: undefined },
  ])("$name", ({ fn, s, after }) => {
    const next = fn(s, "o1");
    expect(next).toEqual(after);
    if (next) {
      expect(next.available + next.reserved + next.shipped).toBe(s.available + s.reserved + s.shipped);
      expect(fn(next, "o1")).toBeUndefined();
    }
  });
});

describe("normalizeItems", () => {
  it("adds up repeated SKUs and sorts by SKU", () => {
    expect(
      normalizeItems([
        { sku: "b", quantity: 1 },
        { sku: "a", quantity: 2 },
        { sku: "b", quantity: 3 },
      ]),
    ).toEqual([
      { sku: "a", quantity: 2 },
      { sku: "b", quantity: 4 },
    ]);
  });
  it("starts empty stock with nothing reserved", () => {
    expect(emptyStock("x", 7)).toEqual({ sku: "x", available: 7, reserved: 0, shipped: 0, holds: {} });
  });
});

describe("parseSeed", () => {
  it.each([
    { text: "sku-1=100,sku-2=5", want: { "sku-1": 100, "sku-2": 5 } },
    { text: " a = 1 , b=0 ", want: { a: 1, b: 0 } },
    { text: "", want: {} },
    { text: '{"a": 3}', want: { a: 3 } },
    { text: "/etc/seed.json", want: { f: 9 }, file: '{"f": 9}' },
  ])("parses $text", ({ text, want, file }) => {
    expect(Object.fromEntries(parseSeed(text, () => file ?? ""))).toEqual(want);
  });
  it.each([
    { text: "a", msg: /not sku=quantity/ },
    { text: "a=-1", msg: /non-negative integer/ },
    { text: "a=1.5", msg: /non-negative integer/ },
    { text: "a=x", msg: /non-negative integer/ },
    { text: "a b=1", msg: /invalid SKU/ },
    { text: "a=1,a=2", msg: /twice/ },
    { text: "[1]", msg: /not sku=quantity/ },
    { text: '{"a": "1"}', msg: /non-negative integer/ },
    { text: "{nope", msg: /cannot read JSON/ },
  ])("refuses $text", ({ text, msg }) => {
    expect(() => parseSeed(text, () => "")).toThrow(SeedError);
    expect(() => parseSeed(text, () => "")).toThrow(msg);
  });
});
