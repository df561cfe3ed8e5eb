// Pure stock decisions. Each function takes the current record of one SKU and returns the
// next one, or undefined when there is nothing to change (the caller then writes nothing):
// that is what makes a redelivered event a no-op.
import type { LineItem } from "@jetmesh/shop";
import type { StockRecord } from "@jetmesh/shop";

export type HoldResult = { outcome: "held"; next: StockRecord } | { outcome: "already-held" } | { outcome: "insufficient"; available: number };

/** Reserves `quantity` of the SKU for the order, unless the order already holds it. */
export function holdStock(stock: StockRecord, orderId: string, quantity: number): HoldResult {
  if (stock.holds[orderId] !== undefined) return { outcome: "already-held" };
  if (stock.available < quantity) return { outcome: "insufficient", available: stock.available };
  return {
    outcome: "held",
    next: {
      ...stock,
      available: stock.available - quantity,
      reserved: stock.reserved + quantity,
      holds: { ...stock.holds, [orderId]: quantity },
    },
  };
}

/** Gives the order's hold back to available stock (compensation); no hold, no change. */
export function releaseHold(stock: StockRecord, orderId: string): StockRecord | undefined {
  const q = stock.holds[orderId];
  if (q === undefined) return undefined;
  const holds = { ...stock.holds };
  delete holds[orderId];
  return { ...stock, available: stock.available + q, reserved: stock.reserved - q, holds };
}

/** Moves the order's hold from reserved to shipped; no hold, no change. */
export function shipHold(stock: StockRecord, orderId: string): StockRecord | undefined {
  const q = stock.holds[orderId];
  if (q === undefined) return undefined;
  const holds = { ...stock.holds };
  delete holds[orderId];
  return { ...stock, reserved: stock.reserved - q, shipped: stock.shipped + q, holds };
}

/**
 * One line per SKU (quantities of repeated SKUs added up), sorted by SKU so that every
 * reservation touches SKUs in the same order.
 */
export function normalizeItems(items: LineItem[]): LineItem[] {
  const bySku = new Map<string, number>();
  for (const it of items) bySku.set(it.sku, (bySku.get(it.sku) ?? 0) + it.quantity);
  return [...bySku.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, quantity]) => ({ sku, quantity }));
}

export function emptyStock(sku: string, initial: number): StockRecord {
  return { sku, available: initial, reserved: 0, shipped: 0, holds: {} };
}
