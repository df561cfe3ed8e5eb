// Pure shipping decisions: the shipment id and carrier derive from the order id, so a
// redelivered confirmation plans exactly the same shipment.
import { createHash } from "node:crypto";

export interface ShipmentPlan {
  shipmentId: string;
  carrier: string;
}

export function planShipment(orderId: string, carriers: readonly string[]): ShipmentPlan {
  if (carriers.length === 0) throw new Error("no carriers configured");
  const h = createHash("sha256").update(orderId).digest();
  const carrier = carriers[h.readUInt32BE(0) % carriers.length] as string;
  return { shipmentId: `shp-${h.subarray(4, 14).toString("hex")}`, carrier };
}
