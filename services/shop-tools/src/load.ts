// An open-loop load generator for the shop: POSTs orders at a fixed rate whatever the
// latency (requests over the concurrency bound are counted as dropped, not delayed), and
// measures POST accepted → order finished by watching the order records' KV updates
// (core subscription on the bucket's subjects: no JetStream consumer, nothing to clean up).
import { Agent, request as httpRequest } from "node:http";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ORDERS_BUCKET } from "@jetmesh/shop";

export interface LoadOptions {
  /** Base URL of the order service, e.g. http://127.0.0.1:8080. */
  orderUrl: string;
  /** NATS URL(s), to watch orders finish. */
  natsUrl: string;
  ratePerSec: number;
  durationMs: number;
  /** POSTs awaiting their answer at most; more are dropped (and counted). */
  maxInFlight?: number;
  /** After the window, wait up to this long for accepted orders to finish. */
  settleMs?: number;
  /** The body of the i-th order (default: 1–3 lines over `skus`, card that is authorized). */
  makeOrder?: (i: number) => unknown;
  skus?: string[];
  apiToken?: string;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadProgress {
  elapsedMs: number;
  sent: number;
  accepted: number;
  finished: number;
  inFlightPosts: number;
  unfinished: number;
}

export interface LoadResult {
  target_rate: number;
  duration_s: number;
  sent: number;
  accepted: number;
  failed: number;
  /** Failed POSTs by HTTP status or socket error code. */
  errors: Record<string, number>;
  dropped: number;
  shipped: number;
  cancelled: number;
  unfinished: number;
  /** Orders accepted per second of the window. */
  accepted_per_s: number;
  /** Orders that finished inside the window, per second. */
  finished_per_s: number;
  /** POST accepted → shipped (ms). */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  /** POST round trip (ms). */
  post_p50_ms: number;
  post_p99_ms: number;
  order_ids: string[];
}

interface Tracked {
  acceptedAt?: number;
  finishedAt?: number;
  status?: "shipped" | "cancelled";
}

const STATUS = /"status":"(shipped|cancelled)"/;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function defaultOrder(skus: string[]): (i: number) => unknown {
  return (i) => {
    const lines = 1 + (i % 3);
    const items = Array.from({ length: lines }, (_, k) => ({ sku: skus[(i * 7 + k * 13) % skus.length]!, quantity: 1 + ((i + k) % 2) }));
    const uniq = new Map(items.map((it) => [it.sku, it]));
    return { items: [...uniq.values()], customer: { id: `load-${i % 1000}` }, payment: { card: "4242424242424242" } };
  };
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const maxInFlight = opts.maxInFlight ?? 512;
  const makeOrder = opts.makeOrder ?? defaultOrder(opts.skus ?? ["sku-1"]);
  const url = new URL("/orders", opts.orderUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  const tracked = new Map<string, Tracked>();
  const postMs: number[] = [];
  let sent = 0;
  let accepted = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const fail = (why: string) => {
    failed++;
    errors[why] = (errors[why] ?? 0) + 1;
  };
  let dropped = 0;
  let inFlight = 0;
  let finished = 0;

  const nc: NatsConnection = await connect({ servers: opts.natsUrl.split(","), name: "jetmesh-load" });
  const prefix = `$KV.${ORDERS_BUCKET}.order.`;
  const sub = nc.subscribe(`${prefix}>`, {
    callback: (err, m) => {
      if (err) return;
      const head = Buffer.from(m.data.buffer, m.data.byteOffset, Math.min(m.data.length, 160)).toString("utf8");
      const st = STATUS.exec(head)?.[1] as Tracked["status"] | undefined;
      if (!st) return;
      const id = m.subject.slice(prefix.length);
      let t = tracked.get(id);
      if (!t) tracked.set(id, (t = {}));
      if (t.finishedAt !== undefined) return;
      t.finishedAt = performance.now();
      t.status = st;
      finished++;
    },
  });
  await nc.flush();

  const post = (i: number, body = JSON.stringify(makeOrder(i)), started = performance.now(), retry = true) => {
    if (retry) inFlight++;
    const req = httpRequest(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...(opts.apiToken ? { authorization: `Bearer ${opts.apiToken}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          inFlight--;
          const now = performance.now();
          if (res.statusCode === 202) {
            const id = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string }).id;
            let t = tracked.get(id);
            if (!t) tracked.set(id, (t = {}));
            t.acceptedAt = now;
            accepted++;
            postMs.push(now - started);
          } else fail(String(res.statusCode));
        });
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      // The server closed an idle keep-alive socket just as it was reused: the request never
      // reached it, so sending it once more on a fresh socket is safe (Node's documented advice).
      if (retry && req.reusedSocket && err.code === "ECONNRESET") return post(i, body, started, false);
      inFlight--;
      fail(err.code ?? "error");
    });
    // A POST with no answer in 30 s fails (as "timeout") instead of pinning the settle wait.
    req.setTimeout(30_000, () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
    req.end(body);
  };

  const t0 = performance.now();
  let lastProgress = t0;
  const progress = () =>
    opts.onProgress?.({ elapsedMs: performance.now() - t0, sent, accepted, finished, inFlightPosts: inFlight, unfinished: accepted - finishedAccepted() });
  const finishedAccepted = () => {
    let n = 0;
    for (const t of tracked.values()) if (t.acceptedAt !== undefined && t.finishedAt !== undefined) n++;
    return n;
  };

  // Open loop: at every tick send everything that is due by now.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const elapsed = now - t0;
      const due = Math.min(Math.floor((elapsed / 1000) * opts.ratePerSec), Math.floor((opts.durationMs / 1000) * opts.ratePerSec));
      while (sent < due) {
        if (inFlight >= maxInFlight) dropped++;
        else post(sent);
        sent++;
      }
      if (now - lastProgress >= 1000) {
        lastProgress = now;
        progress();
      }
      if (elapsed >= opts.durationMs) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  const windowEnd = performance.now();

  // Let the accepted orders finish (bounded).
  const settleDeadline = windowEnd + (opts.settleMs ?? 30_000);
  while (performance.now() < settleDeadline && (inFlight > 0 || finishedAccepted() < accepted)) {
    await new Promise((r) => setTimeout(r, 100));
    if (performance.now() - lastProgress >= 1000) {
      lastProgress = performance.now();
      progress();
    }
  }
  sub.unsubscribe();
  await nc.close();
  agent.destroy();

  const lat: number[] = [];
  let shipped = 0;
  let cancelled = 0;
  let finishedInWindow = 0;
  const ids: string[] = [];
  for (const [id, t] of tracked) {
    if (t.acceptedAt === undefined) continue;
    ids.push(id);
    if (t.finishedAt === undefined) continue;
    if (t.finishedAt <= windowEnd) finishedInWindow++;
    if (t.status === "shipped") {
      shipped++;
      // The KV update can arrive before the POST's answer is read: never negative.
      lat.push(Math.max(0, t.finishedAt - t.acceptedAt));
    } else cancelled++;
  }
  lat.sort((a, b) => a - b);
  postMs.sort((a, b) => a - b);
  const seconds = opts.durationMs / 1000;
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    target_rate: opts.ratePerSec,
    duration_s: seconds,
    sent,
    accepted,
    failed,
    errors,
    dropped,
    shipped,
    cancelled,
    unfinished: accepted - shipped - cancelled,
    accepted_per_s: round(accepted / seconds),
    finished_per_s: round(finishedInWindow / seconds),
    p50_ms: round(percentile(lat, 50)),
    p90_ms: round(percentile(lat, 90)),
    p99_ms: round(percentile(lat, 99)),
    max_ms: round(lat.at(-1) ?? 0),
    post_p50_ms: round(percentile(postMs, 50)),
    post_p99_ms: round(percentile(postMs, 99)),
    order_ids: ids,
  };
}
