import { describe, expect, it } from "vitest";
import { OrderIndex } from "../src/order-index.ts";

function indexOf(entries: [string, "placed" | "confirmed" | "cancelled" | "shipped" | undefined][]): OrderIndex {
  const ix = new OrderIndex();
  for (const [id, status] of entries) ix.set(id, status);
  return ix;
}

describe("OrderIndex", () => {
  const ix = indexOf([
    ["o3", "placed"],
    ["o1", "placed"],
    ["o2", "placed"],
    ["o4", "placed"],
    ["o2", "shipped"],
    ["o4", "shipped"],
    ["o5", "cancelled"],
    ["o5", undefined],
  ]);

  it.each([
    { name: "everything, first page", opts: { limit: 2 }, ids: ["o1", "o2"], more: true },
    { name: "everything after a cursor", opts: { limit: 10, cursor: "o2" }, ids: ["o3", "o4"], more: false },
    { name: "one status, in creation order", opts: { status: "placed" as const, limit: 10 }, ids: ["o1", "o3"], more: false },
    { name: "one status after a cursor that has another status", opts: { status: "shipped" as const, limit: 1, cursor: "o3" }, ids: ["o4"], more: false },
    { name: "a status nobody has", opts: { status: "confirmed" as const, limit: 5 }, ids: [], more: false },
    { name: "a removed order is gone", opts: { status: "cancelled" as const, limit: 5 }, ids: [], more: false },
    { name: "a cursor past the end", opts: { limit: 5, cursor: "o9" }, ids: [], more: false },
  ])("$name", ({ opts, ids, more }) => {
    expect(ix.page(opts)).toEqual({ ids, more });
  });

  it("counts each order once, whatever its history", () => {
    expect(ix.size).toBe(4);
  });
});
