// The invariant checker: reads the shop's state from NATS (KV buckets and the event stream)
// and checks it (invariants.ts). Optionally waits until no order is in flight.
import { DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { checkInvariants, type InvariantReport, type ShopSnapshot } from "./invariants.ts";
import {
  PAYMENT_AUTHORIZED,
  SHOP_STREAM,
  SUBSCRIPTIONS,
  ORDERS_BUCKET,
  PAYMENTS_BUCKET,
  SHIPMENTS_BUCKET,
  STOCK_BUCKET,
  orderKey,
  type OrderRecord,
  type PaymentAuthorized,
  type PaymentRecord,
  type ReservationRecord,
  type SeedRecord,
  type ShipmentRecord,
  type StockRecord,
} from "@jetmesh/shop";

export interface VerifyOptions {
  /** Wait up to this long for in-flight orders to finish before reporting (default 0). */
  settleMs?: number;
  /** Poll interval while settling. */
  pollMs?: number;
  /**
   * An order unfinished and unchanged for this long is stuck: a violation, with the stock
   * it holds (default 5 minutes). Once `settleMs` has passed without the shop settling, an
   * order unchanged for all of `settleMs` is stuck too.
   */
  stuckAfterMs?: number;
  /** Called after each look while waiting to settle (not on the final one). */
  onProgress?: (p: SettleProgress) => void;
}

export interface SettleProgress {
  waitedMs: number;
  settleMs: number;
  /** Orders not yet in a terminal state. */
  inFlight: number;
  /** Events the shop's consumers have not yet delivered or settled. */
  backlog: number;
}

export const DEFAULT_STUCK_AFTER_MS = 5 * 60_000;

export interface VerifyReport extends InvariantReport {
  checkedAt: string;
  /** No order in flight and every shop consumer caught up. */
  settled: boolean;
  /** Events the shop's consumers have not yet delivered or settled. */
  consumerBacklog: number;
  authorizationEvents: number;
}

export async function verifyShop(nc: NatsConnection, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const started = Date.now();
  const deadline = started + (opts.settleMs ?? 0);
  for (;;) {
    // Idle consumers first: a shipped order whose dispatch inventory has not processed yet
    // still holds stock for a moment, and that is not a violation.
    const backlog = await consumerBacklog(jsm);
    const snap = await snapshot(js, jsm);
    const now = Date.now();
    const expired = now >= deadline;
    const stuckAfterMs = opts.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
    const settleMs = opts.settleMs ?? 0;
    const report = checkInvariants(snap, { now, stuckAfterMs: expired && settleMs > 0 ? Math.min(stuckAfterMs, settleMs) : stuckAfterMs });
    const settled = report.inFlight.length === 0 && backlog === 0;
    if (settled || expired) {
      return { ...report, checkedAt: new Date().toISOString(), settled, consumerBacklog: backlog, authorizationEvents: snap.authorizations.length };
    }
    opts.onProgress?.({ waitedMs: now - started, settleMs, inFlight: report.inFlight.length, backlog });
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
}

export async function snapshot(js: JetStreamClient, jsm: JetStreamManager): Promise<ShopSnapshot> {
  const kvm = new Kvm(js);
  const existing = new Set<string>();
  for await (const s of kvm.list()) existing.add(s.bucket);
  const open = async (name: string) => (existing.has(name) ? kvm.open(name) : undefined);
  const [orders, stock, payments, shipments] = await Promise.all([open(ORDERS_BUCKET), open(STOCK_BUCKET), open(PAYMENTS_BUCKET), open(SHIPMENTS_BUCKET)]);
  // Read the stream first: an authorization published after this read has its order record
  // written before it, so it cannot make a consistent state look inconsistent.
  const authorizations = await readAuthorizations(js, jsm);
  const notifications = await readNotifications(js, jsm);
  const [o, st, p, sh] = await Promise.all([readBucket(js, orders), readBucket(js, stock), readBucket(js, payments), readBucket(js, shipments)]);
  const pick = <T>(m: Map<string, unknown>, prefix: string) => [...m].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v as T);
  // The buckets are read side by side: an order placed after the orders bucket was read can
  // already hold stock or a payment. Before calling such an order unknown, look it up again.
  const referenced = new Set<string>([...authorizations.map((a) => a.orderId), ...pick<PaymentRecord>(p, "payment.").map((x) => x.orderId)]);
  for (const rec of pick<StockRecord>(st, "stock.")) for (const id of Object.keys(rec.holds)) referenced.add(id);
  for (const id of referenced) {
    if (o.has(orderKey(id)) || !orders || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) continue;
    const e = await orders.get(orderKey(id));
    if (e && e.operation === "PUT") o.set(orderKey(id), e.json());
  }
  return {
    orders: pick<OrderRecord>(o, "order."),
    seeds: pick<SeedRecord>(st, "seed."),
    stock: pick<StockRecord>(st, "stock."),
    reservations: pick<ReservationRecord>(st, "reservation."),
    payments: pick<PaymentRecord>(p, "payment."),
    shipments: pick<ShipmentRecord>(sh, "shipment."),
    authorizations,
    ...(notifications ? { notifications } : {}),
  };
}

async function consumerBacklog(jsm: JetStreamManager): Promise<number> {
  let n = 0;
  for (const consumer of [...SUBSCRIPTIONS.map((s) => s.consumer), NOTIFICATIONS_CONSUMER]) {
    try {
      const ci = await jsm.consumers.info(SHOP_STREAM, consumer);
      n += ci.num_pending + ci.num_ack_pending;
    } catch {
      // no such consumer (yet): nothing pending on it
    }
  }
  return n;
}

/**
 * Every current value of a bucket (deleted keys left out), as of the call. Reads the last
 * value per key in stream order and stops at the stream's last sequence as of the start, or
 * as soon as the watch has nothing pending (the message at that sequence may be superseded
 * by a newer write and never delivered). A read that times out throws rather than return a
 * partial snapshot.
 * The read's consumer is deleted afterwards: a checker run leaves nothing on the server.
 */
export async function readBucket(js: JetStreamClient, kv: KV | undefined, timeoutMs = 120_000): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  if (!kv) return out;
  const status = await kv.status();
  const lastSeq = status.streamInfo.state.last_seq;
  if (status.values === 0 || lastSeq === 0) return out;
  const prefix = `$KV.${status.bucket}.`;
  const c = await js.consumers.get(status.streamInfo.config.name, {
    filter_subjects: [`${prefix}>`],
    deliver_policy: DeliverPolicy.LastPerSubject,
    inactive_threshold: CONSUMER_INACTIVE_MS,
  });
  const timedOut = await readAll(c, timeoutMs, (m) => {
    const key = m.subject.slice(prefix.length);
    const op = m.headers?.get("KV-Operation");
    if (op === "DEL" || op === "PURGE") out.delete(key);
    else out.set(key, m.json());
    // pending = messages still to come for this read: 0 means the snapshot is complete even
    // if the server skipped to a newer message than the one at lastSeq.
    return m.seq >= lastSeq || m.info.pending === 0;
  });
  // A partial read would report false violations: fail instead.
  if (timedOut) throw new Error(`reading bucket ${status.bucket} timed out after ${timeoutMs} ms`);
  return out;
}

// If the checker dies mid-read, the server drops its consumer after this long.
const CONSUMER_INACTIVE_MS = 30_000;

/**
 * Consumes until `onMessage` says done, then stops and deletes the (ordered, ephemeral)
 * consumer. True when `timeoutMs` passed first.
 */
async function readAll(c: Consumer, timeoutMs: number, onMessage: (m: JsMsg) => boolean): Promise<boolean> {
  const msgs = await c.consume({ max_messages: 1000 });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    msgs.stop();
  }, timeoutMs);
  try {
    for await (const m of msgs) if (onMessage(m)) break;
  } finally {
    clearTimeout(timer);
    await msgs.close().catch(() => undefined);
    await c.delete().catch(() => undefined);
  }
  return timedOut;
}

async function readAuthorizations(js: JetStreamClient, jsm: JetStreamManager): Promise<ShopSnapshot["authorizations"]> {
  let count = 0;
  try {
    const info = await jsm.streams.info(SHOP_STREAM, { subjects_filter: PAYMENT_AUTHORIZED });
    count = info.state.subjects?.[PAYMENT_AUTHORIZED] ?? 0;
  } catch (err) {
    if (err instanceof Error && /not found/i.test(err.message)) return [];
    throw err;
  }
  if (count === 0) return [];
  const out: ShopSnapshot["authorizations"] = [];
  const c = await js.consumers.get(SHOP_STREAM, { filter_subjects: PAYMENT_AUTHORIZED, inactive_threshold: CONSUMER_INACTIVE_MS });
  const timedOut = await readAll(c, 120_000, (m) => {
    const eventId = m.headers?.get("ce-id") || m.headers?.get("Nats-Msg-Id") || `seq-${m.seq}`;
    try {
      const data = m.json() as PaymentAuthorized;
      out.push({ orderId: data.orderId, eventId, authorizationId: data.authorizationId });
    } catch {
      out.push({ orderId: `(unreadable event at seq ${m.seq})`, eventId, authorizationId: `(unreadable event at seq ${m.seq})` });
    }
    // Counted at the start: later authorizations belong to orders read after this anyway.
    return out.length >= count;
  });
  if (timedOut) throw new Error("reading the payment authorizations from the stream timed out");
  return out;
}

/** The notifications service's subscription and reply (examples/30-notifications.yaml, docs/http.md). */
const NOTIFICATIONS_CONSUMER = "shop_notifications";
const NOTIFICATION_SENT = "shop.notification.sent.v1";

/** Every notification in the stream; undefined when notifications are not deployed (no consumer, no events). */
async function readNotifications(js: JetStreamClient, jsm: JetStreamManager): Promise<ShopSnapshot["notifications"]> {
  let count = 0;
  try {
    const info = await jsm.streams.info(SHOP_STREAM, { subjects_filter: NOTIFICATION_SENT });
    count = info.state.subjects?.[NOTIFICATION_SENT] ?? 0;
  } catch (err) {
    if (err instanceof Error && /not found/i.test(err.message)) return undefined;
    throw err;
  }
  if (count === 0) {
    const deployed = await jsm.consumers.info(SHOP_STREAM, NOTIFICATIONS_CONSUMER).then(
      () => true,
      () => false,
    );
    return deployed ? [] : undefined;
  }
  const out: NonNullable<ShopSnapshot["notifications"]> = [];
  const c = await js.consumers.get(SHOP_STREAM, { filter_subjects: NOTIFICATION_SENT, inactive_threshold: CONSUMER_INACTIVE_MS });
  const timedOut = await readAll(c, 120_000, (m) => {
    const eventId = m.headers?.get("ce-id") || `seq-${m.seq}`;
    try {
      out.push({ orderId: (m.json() as { orderId: string }).orderId, eventId });
    } catch {
      out.push({ orderId: `(unreadable event at seq ${m.seq})`, eventId });
    }
    return out.length >= count;
  });
  if (timedOut) throw new Error("reading the notifications from the stream timed out");
  return out;
}

/** The report as text a person reads (the CLI prints it). */
export function formatReport(r: VerifyReport): string {
  const lines: string[] = [];
  const s = r.byStatus;
  lines.push(`orders: ${r.orders} (shipped ${s.shipped}, cancelled ${s.cancelled}, confirmed ${s.confirmed}, placed ${s.placed})`);
  lines.push(`payment authorizations in the stream: ${r.authorizationEvents}; consumer backlog: ${r.consumerBacklog}`);
  if (r.inFlight.length > 0) {
    const shown = r.inFlight.slice(0, 20).join(", ");
    lines.push(`in flight (not a violation${r.settled ? "" : "; use --settle to wait"}): ${r.inFlight.length}: ${shown}${r.inFlight.length > 20 ? ", …" : ""}`);
  }
  for (const x of r.stock.slice(0, 50)) {
    const eq = x.initial === x.available + x.reserved + x.shipped ? "=" : "≠";
    lines.push(`stock ${x.sku}: initial ${x.initial} ${eq} available ${x.available} + reserved ${x.reserved} + shipped ${x.shipped}`);
  }
  if (r.stock.length > 50) lines.push(`… and ${r.stock.length - 50} more SKUs`);
  if (r.violations.length === 0) lines.push("OK: no invariant violated");
  else {
    lines.push(`VIOLATIONS: ${r.violations.length}`);
    for (const v of r.violations.slice(0, 100)) lines.push(`  [${v.kind}] ${v.subject}: ${v.message}`);
    if (r.violations.length > 100) lines.push(`  … and ${r.violations.length - 100} more`);
  }
  return lines.join("\n");
}
