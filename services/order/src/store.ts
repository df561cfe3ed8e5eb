// Orders in JetStream KV (bucket shop_orders): `order.<id>` holds the order record,
// `idem.<hash>` maps an Idempotency-Key to the order it created.
import type { KV } from "@nats-io/kv";
import { KvCache, idempotencyKey, orderKey, type IdempotencyRecord, type OrderRecord, type OrderStatus } from "@jetmesh/shop";
import type { OrderIndex } from "./order-index.ts";
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
   * A page of orders in creation order (ids sort by time), optionally with one status: the
   * ids come from the index, so a page reads only its own records — re-checked here, since
   * the index follows the bucket a moment behind (a page may then be short; the cursor goes on).
   */
  async list(index: OrderIndex, opts: { status?: OrderStatus; limit: number; cursor?: string }): Promise<{ orders: OrderRecord[]; nextCursor?: string }> {
    const { ids, more } = index.page(opts);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    const orders = records.filter((o): o is OrderRecord => o !== undefined && (opts.status === undefined || o.status === opts.status));
    return more ? { orders, nextCursor: ids[ids.length - 1]! } : { orders };
  }
}
