// The inventory's state changes against JetStream KV. Every step is a compare-and-set on one
// key whose result says whether it was applied, so running a step again (a redelivered event,
// a restart half-way) changes nothing twice:
//   reservation.<order>  pending → reserved | rejected → released | shipped
//   stock.<sku>          counters plus `holds` (order → quantity), changed with the hold
import type { KV } from "@nats-io/kv";
import {
  KvCache,
  reservationKey,
  seedKey,
  stockKey,
  type LineItem,
  type ReservationRecord,
  type ReservationStatus,
  type SeedRecord,
  type Shortage,
  type StockRecord,
} from "@jetmesh/shop";
import { updateKv } from "@jetmesh/mesh";
import { emptyStock, holdStock, normalizeItems, releaseHold, shipHold } from "./stock.ts";

export type ReserveOutcome =
  | { outcome: "reserved"; items: LineItem[]; at: string }
  | { outcome: "rejected"; reason: "out_of_stock" | "unknown_sku"; shortages: Shortage[] }
  /** The reservation was released or shipped already: nothing to do or announce. */
  | { outcome: "settled"; status: ReservationStatus };

export class Inventory {
  private readonly kv: KV;
  private readonly stockRecords: KvCache<StockRecord>;
  private readonly reservations: KvCache<ReservationRecord>;

  constructor(kv: KV) {
    this.kv = kv;
    this.stockRecords = new KvCache<StockRecord>(kv, { maxEntries: 100_000 });
    this.reservations = new KvCache<ReservationRecord>(kv, { maxEntries: 50_000 });
  }

  /** Seeds SKUs that have no seed record yet; existing stock is never overwritten. */
  async seed(seed: Map<string, number>, now: string): Promise<{ seeded: string[]; kept: string[] }> {
    const seeded: string[] = [];
    const kept: string[] = [];
    for (const [sku, initial] of seed) {
      const { value: rec, changed } = await updateKv<SeedRecord>(this.kv, seedKey(sku), (cur) => (cur ? undefined : { sku, initial, seededAt: now }));
      (changed ? seeded : kept).push(sku);
      // The seed record is the source of truth for the initial stock (also after a crash here).
      await updateKv<StockRecord>(this.kv, stockKey(sku), (cur) => (cur ? undefined : emptyStock(sku, rec!.initial)));
    }
    return { seeded, kept };
  }

  async stock(sku: string): Promise<StockRecord | undefined> {
    const e = await this.kv.get(stockKey(sku));
    return e && e.operation === "PUT" ? (e.json() as StockRecord) : undefined;
  }

  async initial(sku: string): Promise<number | undefined> {
    const e = await this.kv.get(seedKey(sku));
    return e && e.operation === "PUT" ? (e.json() as SeedRecord).initial : undefined;
  }

  /** Holds every line of the order, or none of them. */
  async reserve(orderId: string, lineItems: LineItem[], now: string): Promise<ReserveOutcome> {
    const items = normalizeItems(lineItems);
    const { value: inserted } = await this.reservations.insert(reservationKey(orderId), { orderId, status: "pending", items, updatedAt: now });
    const res = inserted!;
    if (res.status === "reserved") return { outcome: "reserved", items: res.items, at: res.updatedAt };
    if (res.status === "rejected") return { outcome: "rejected", reason: res.reason ?? "out_of_stock", shortages: res.shortages ?? [] };
    if (res.status !== "pending") return { outcome: "settled", status: res.status };

    let shortage: { reason: "out_of_stock" | "unknown_sku"; shortage: Shortage } | undefined;
    for (const it of res.items) {
      const r = await this.changeStock(it.sku, (s) => {
        const h = holdStock(s, orderId, it.quantity);
        if (h.outcome === "insufficient") shortage = { reason: "out_of_stock", shortage: { sku: it.sku, requested: it.quantity, available: h.available } };
        return h.outcome === "held" ? h.next : undefined;
      });
      if (r === "missing") shortage = { reason: "unknown_sku", shortage: { sku: it.sku, requested: it.quantity, available: 0 } };
      if (shortage) break;
    }
    if (shortage) {
      // All or nothing: give back what this order holds, then record the rejection.
      for (const it of res.items) await this.changeStock(it.sku, (s) => releaseHold(s, orderId));
      const { value } = await this.updateReservation(orderId, (cur) =>
        cur?.status === "pending" ? { ...cur, status: "rejected", reason: shortage!.reason, shortages: [shortage!.shortage], updatedAt: now } : undefined,
      );
      return value.status === "rejected"
        ? { outcome: "rejected", reason: value.reason ?? "out_of_stock", shortages: value.shortages ?? [] }
        : { outcome: "settled", status: value.status };
    }
    const { value } = await this.updateReservation(orderId, (cur) => (cur?.status === "pending" ? { ...cur, status: "reserved", updatedAt: now } : undefined));
    return value.status === "reserved" ? { outcome: "reserved", items: value.items, at: value.updatedAt } : { outcome: "settled", status: value.status };
  }

  /** Compensation for a cancelled order: reserved stock goes back to available. */
  async release(orderId: string, now: string): Promise<boolean> {
    return this.settle(orderId, "released", releaseHold, now);
  }

  /** A dispatched order's reserved stock becomes shipped. */
  async ship(orderId: string, now: string): Promise<boolean> {
    return this.settle(orderId, "shipped", shipHold, now);
  }

  private async settle(
    orderId: string,
    to: "released" | "shipped",
    change: (s: StockRecord, orderId: string) => StockRecord | undefined,
    now: string,
  ): Promise<boolean> {
    const open = (cur: ReservationRecord | undefined) => cur !== undefined && (cur.status === "reserved" || cur.status === "pending");
    let res = await this.reservations.peek(reservationKey(orderId));
    // A cached "settled" may be stale only in the safe direction; confirm it on the server.
    if (!open(res)) res = await this.reservations.get(reservationKey(orderId));
    if (!open(res)) return false;
    for (const it of res!.items) await this.changeStock(it.sku, (s) => change(s, orderId));
    const { changed } = await this.updateReservation(orderId, (cur) => (open(cur) ? { ...cur!, status: to, updatedAt: now } : undefined));
    if (changed) this.reservations.forget(reservationKey(orderId));
    return changed;
  }

  private async updateReservation(orderId: string, fn: (cur: ReservationRecord | undefined) => ReservationRecord | undefined) {
    const r = await this.reservations.update(reservationKey(orderId), fn);
    return { value: r.value as ReservationRecord, changed: r.changed };
  }

  private async changeStock(sku: string, fn: (s: StockRecord) => StockRecord | undefined): Promise<"changed" | "unchanged" | "missing"> {
    let missing = false;
    const r = await this.stockRecords.update(stockKey(sku), (cur) => {
      missing = cur === undefined;
      return cur ? fn(cur) : undefined;
    });
    return missing ? "missing" : r.changed ? "changed" : "unchanged";
  }
}
