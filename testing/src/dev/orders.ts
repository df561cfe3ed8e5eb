// The dev stack's shop data: the stock the inventory service is seeded with and the orders
// the demo and the acceptance test place (deterministic by index, so a run is repeatable).

/** Plenty of three SKUs, and a scarce one so some orders are rejected (out of stock). */
export const DEV_INVENTORY_SEED = "widget=1000000,gadget=1000000,gizmo=500000,sprocket=25";
export const DEMO_SKUS = ["widget", "gadget", "gizmo", "sprocket"];

/** A card the simulated processor declines (services/payment DEFAULT_RULES). */
export const DECLINED_CARD = "4000000000000002";
export const GOOD_CARD = "4111111111111111";

export interface OrderBody {
  items: { sku: string; quantity: number }[];
  customer: { id: string };
  payment: { card: string };
}

/** Order number i: mostly in-stock SKUs, every 50th a scarce one, every 20th a declined card. */
export function orderBody(i: number): OrderBody {
  const sku = i % 50 === 49 ? "sprocket" : (DEMO_SKUS[i % 3] as string);
  return {
    items: [{ sku, quantity: 1 + (i % 3) }],
    customer: { id: `customer-${i % 97}` },
    payment: { card: i % 20 === 19 ? DECLINED_CARD : GOOD_CARD },
  };
}
