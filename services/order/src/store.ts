// Orders in JetStream KV (bucket shop_orders): `order.<id>` holds the order record,
// `idem.<hash>` maps an Idempotency-Key to the order it created.
import type { KV } from "@nats-io/kv";
import { KvCache, idempotencyKey, orderKey, type IdempotencyRecord, type OrderRecord, type OrderStatus } from "@jetmesh/shop";
import { applyEvent, isTerminal, type IncomingEvent, type Transition } from "./saga.ts";

export class OrderStore {
  private readonly kv: KV;
  // Orders in flight are cached with their revision: each saga step is one CAS write.
  private readonly orders: KvCache<OrderRecord>;
  private readonly claims: KvCache<IdempotencyRecord>;

  constructor(kv: KV) {
    this.kv = kv;
    this.orders = new KvCache<OrderRecord>(kv, { maxEntries: 50_000 });
    this.claims = new KvCache<IdempotencyRecord>(kv, { maxEntries: 1000 });
  }

  async get(id: string): Promise<OrderRecord | undefined> {
    const e = await this.kv.get(orderKey(id));
    return e && e.operation === "PUT" ? (e.json() as OrderRecord) : undefined;
  }

  /** Creates the order unless it exists; returns the stored record either way. */
  async create(record: OrderRecord): Promise<OrderRecord> {
    const { value } = await this.orders.insert(orderKey(record.id), record);
    return value as OrderRecord;
  }

  /**
   * Claims an Idempotency-Key for a new order id; when the key was used before, returns the
   * earlier claim instead (create-if-absent, so two concurrent retries agree).
   */
  async claimIdempotencyKey(hash: string, claim: IdempotencyRecord): Promise<{ record: IdempotencyRecord; fresh: boolean }> {
    const { value, changed } = await this.claims.insert(idempotencyKey(hash), claim);
    return { record: value as IdempotencyRecord, fresh: changed };
  }

  /** Applies a saga event with compare-and-set; the transition tells what to publish. */
  async apply(id: string, event: IncomingEvent, now: () => string): Promise<Transition | undefined> {
    let transition: Transition | undefined;
    const key = orderKey(id);
    await this.orders.update(key, (cur) => {
      if (!cur) {
        transition = undefined;
        return undefined;
      }
      transition = applyEvent(cur, event, now());
      return transition.kind === "applied" ? transition.order : undefined;
    });
    if (transition?.kind === "applied" && isTerminal(transition.order.status)) this.orders.forget(key);
    return transition;
  }

  /**
   * A page of orders in creation order (ids sort by time), optionally with one status.
   * Lists the keys after the cursor, then reads records until the page is full — but never
   * more than `maxScan` of them, so a rare status cannot make one request read the whole
   * bucket: the page may then be short (even empty) with a `nextCursor` to go on from.
   */
  async list(opts: { status?: OrderStatus; limit: number; cursor?: string; maxScan: number }): Promise<{ orders: OrderRecord[]; nextCursor?: string }> {
    const ids: string[] = [];
    for await (const k of await this.kv.keys("order.>")) {
      const id = k.slice("order.".length);
      if (opts.cursor === undefined || id > opts.cursor) ids.push(id);
    }
    ids.sort();
    const orders: OrderRecord[] = [];
    let scanned = 0;
    while (scanned < ids.length && scanned < opts.maxScan && orders.length < opts.limit) {
      // A few reads at a time: fast enough, and a page's scan does not flood the connection.
      const want = Math.min(LIST_READ_BATCH, opts.maxScan - scanned, opts.status === undefined ? opts.limit - orders.length : LIST_READ_BATCH);
      const batch = ids.slice(scanned, scanned + want);
      const records = await Promise.all(batch.map((id) => this.get(id)));
      for (const o of records) {
        scanned++;
        if (o && (opts.status === undefined || o.status === opts.status)) {
          orders.push(o);
          if (orders.length >= opts.limit) break;
        }
      }
    }
    const more = scanned < ids.length;
    return more && scanned > 0 ? { orders, nextCursor: ids[scanned - 1] } : { orders };
  }
}

const LIST_READ_BATCH = 16;
