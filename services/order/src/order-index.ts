// Which orders have which status, in creation order, kept in memory from a watch on the
// orders bucket: GET /orders?status= pages from it instead of reading every order (a rare
// status used to make one request read the whole bucket). Pure apart from the watch, so the
// paging rules are table-tested. Eventually consistent: a write shows up here a moment
// after it is stored, so the page's records are read again and checked by the caller.
import type { KV } from "@nats-io/kv";
import type { OrderRecord, OrderStatus } from "@jetmesh/shop";

export class OrderIndex {
  private readonly statusOf = new Map<string, OrderStatus>();
  // Ids sort by creation time; new orders nearly always go at the end.
  private readonly all: string[] = [];
  private readonly byStatus = new Map<OrderStatus, string[]>();

  get size(): number {
    return this.statusOf.size;
  }

  /** Records the order's current status; undefined: the order is gone. */
  set(id: string, status: OrderStatus | undefined): void {
    const before = this.statusOf.get(id);
    if (before === status) return;
    if (before !== undefined) remove(this.byStatus.get(before)!, id);
    if (status === undefined) {
      this.statusOf.delete(id);
      remove(this.all, id);
      return;
    }
    if (before === undefined) insert(this.all, id);
    this.statusOf.set(id, status);
    let list = this.byStatus.get(status);
    if (!list) this.byStatus.set(status, (list = []));
    insert(list, id);
  }

  /** Up to `limit` ids after `cursor` (with the status, if given) and whether more follow. */
  page(opts: { status?: OrderStatus; cursor?: string; limit: number }): { ids: string[]; more: boolean } {
    const list = opts.status === undefined ? this.all : (this.byStatus.get(opts.status) ?? []);
    const start = opts.cursor === undefined ? 0 : upperBound(list, opts.cursor);
    const ids = list.slice(start, start + opts.limit);
    return { ids, more: start + opts.limit < list.length };
  }
}

/**
 * Keeps `index` current from the bucket until `stop()`. `ready` resolves once every order
 * stored when the watch started is in the index.
 */
export async function watchOrders(kv: KV, index: OrderIndex): Promise<{ ready: Promise<void>; stop(): void }> {
  const w = await kv.watch({ key: "order.>" });
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  if ((await kv.status()).values === 0) markReady();
  void (async () => {
    for await (const e of w) {
      const id = e.key.slice("order.".length);
      index.set(id, e.operation === "PUT" ? statusOf(e.string()) : undefined);
      // delta: entries of the initial read still to come.
      if (e.delta === 0) markReady();
    }
  })().catch(() => undefined);
  return { ready, stop: () => w.stop() };
}

/** An unreadable record is left out of the index (GET /orders/:id still shows it). */
function statusOf(json: string): OrderStatus | undefined {
  try {
    return (JSON.parse(json) as OrderRecord).status;
  } catch {
    return undefined;
  }
}

/** Index of the first element greater than `x` in the sorted `list`. */
function upperBound(list: string[], x: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insert(list: string[], id: string): void {
  if (list.length === 0 || list[list.length - 1]! < id) list.push(id);
  else list.splice(upperBound(list, id), 0, id);
}

function remove(list: string[], id: string): void {
  const i = upperBound(list, id) - 1;
  if (i >= 0 && list[i] === id) list.splice(i, 1);
}
