// The order HTTP API: POST /orders, GET /orders/:id, GET /orders?status=&limit=&cursor=.
// Errors are RFC 9457 problem details that say what the client can fix, nothing internal.
import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { ClientAbortError, HttpError, isJsonContentType, readBody, sendJson, sendProblem, type OrderRecord, type OrderStatus } from "@jetmesh/shop";
import { activeTraceparent, parseTraceparent, setHttpRoute } from "@jetmesh/mesh";
import type { Logger } from "pino";
import type { OrderConfig } from "./config.ts";
import { bodyHash, idempotencyHash, newOrder, newOrderId, validateOrderRequest, type OrderRequest } from "./request.ts";
import type { OrderStore } from "./store.ts";

const STATUSES: readonly OrderStatus[] = ["placed", "confirmed", "cancelled", "shipped"];
const ORDER_ROUTE = /^\/orders\/([A-Za-z0-9_-]{1,64})$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** nginx's code for "client closed request", used only in metrics (nothing is sent). */
const CLIENT_CLOSED_REQUEST = 499;

export interface ApiDeps {
  config: OrderConfig;
  store: OrderStore;
  /** A page of orders from the index (OrderStore.list). */
  listOrders(opts: { status?: OrderStatus; limit: number; cursor?: string }): Promise<{ orders: OrderRecord[]; nextCursor?: string }>;
  /**
   * Publishes the order's placed event (same event id for the same order), in the trace of
   * `traceparent` (the request's: the caller's own traceparent is continued).
   */
  publishPlaced(record: OrderRecord, request: OrderRequest, traceparent: string | undefined): Promise<void>;
  onPlaced(record: OrderRecord): void;
  countRequest(route: string, code: number): void;
  countRejected(reason: string): void;
  log: Logger;
}

export function orderApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    let route: string;
    if (url.pathname === "/orders") route = "/orders";
    else if (url.pathname.startsWith("/orders/")) route = "/orders/:id";
    else return false;
    setHttpRoute(req.method, route);
    try {
      const authenticated = authorize(req, deps.config.apiToken);
      if (route === "/orders" && req.method === "POST") await postOrder(req, res, deps);
      else if (route === "/orders" && req.method === "GET") await listOrders(url, res, deps);
      else if (route === "/orders/:id" && req.method === "GET") await getOrder(url.pathname, res, deps, authenticated);
      else throw new HttpError(405, "Method Not Allowed", `${req.method} is not supported on ${route}`);
    } catch (err) {
      if (err instanceof ClientAbortError) {
        // Nobody is left to answer: count it as the client's doing, not as our failure.
        deps.log.info({ route }, "client closed the connection mid-request");
        deps.countRequest(route, CLIENT_CLOSED_REQUEST);
        return true;
      }
      const e =
        err instanceof HttpError
          ? err
          : new HttpError(503, "Service Unavailable", "the order could not be processed right now; retry later (with the same Idempotency-Key)");
      if (!(err instanceof HttpError)) deps.log.error({ err, route }, "order API request failed");
      if (e.status === 413) deps.countRejected("too_large");
      else if (e.status === 408) deps.countRejected("timeout");
      else if (e.status === 415) deps.countRejected("content_type");
      else if (e.status === 400 || e.status === 422) deps.countRejected("invalid");
      else if (e.status === 401) deps.countRejected("unauthorized");
      const headers: Record<string, string> = {};
      if (e.status === 401) headers["www-authenticate"] = 'Bearer realm="orders"';
      if (e.status === 405) headers.allow = route === "/orders" ? "GET, POST" : "GET";
      // A body not read to its end (refused early, too large, too slow) is not worth
      // waiting for: Node closes the connection once this answer is sent.
      if (!req.complete) headers.connection = "close";
      if (!res.headersSent) sendProblem(res, e, url.pathname, headers);
    }
    deps.countRequest(route, res.statusCode);
    return true;
  };
}

/** Whether the caller presented the token; without a token configured, nobody can. */
function authorize(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return false;
  const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(401, "Unauthorized", "a valid bearer token is required");
  return true;
}

async function postOrder(req: IncomingMessage, res: ServerResponse, deps: ApiDeps): Promise<void> {
  if (!isJsonContentType(req.headers["content-type"])) {
    req.resume();
    throw new HttpError(415, "Unsupported Media Type", "send the order as application/json");
  }
  const idemHeader = req.headers["idempotency-key"];
  if (idemHeader !== undefined && (typeof idemHeader !== "string" || !IDEMPOTENCY_KEY.test(idemHeader))) {
    req.resume();
    throw new HttpError(400, "Bad Request", "Idempotency-Key must be 1 to 255 printable ASCII characters");
  }
  const raw = await readBody(req, deps.config.maxBodyBytes, deps.config.bodyTimeoutMs);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "Bad Request", "the body is not valid JSON");
  }
  const v = validateOrderRequest(body);
  if (!v.ok) {
    const more = v.moreErrors > 0 ? `; ${v.moreErrors} more errors not listed` : "";
    throw new HttpError(422, "Unprocessable Content", `the order is invalid${more}`, {
      errors: v.errors,
      ...(v.moreErrors > 0 ? { moreErrors: v.moreErrors } : {}),
    });
  }

  const now = new Date();
  let id = newOrderId(now.getTime());
  let replay = false;
  if (idemHeader !== undefined) {
    const hash = bodyHash(raw);
    const claim = await deps.store.claimIdempotencyKey(idempotencyHash(idemHeader), { orderId: id, bodyHash: hash });
    if (claim.record.bodyHash !== hash) {
      throw new HttpError(422, "Unprocessable Content", "this Idempotency-Key was used with a different request body");
    }
    id = claim.record.orderId;
    replay = !claim.fresh;
  }
  const fresh = newOrder(id, v.request, deps.config.pricing, now.toISOString());
  // A retry after a crash between claiming the key and storing the order creates it now.
  const record = await deps.store.create(fresh.record);
  if (record.status === "placed") {
    // Publishing again for a replay is safe: the event id is the same, JetStream drops it.
    // The request's server span when tracing is on; else the caller's own traceparent, so
    // the saga's events still continue the caller's trace (and logs carry its trace id).
    const given = req.headers.traceparent;
    await deps.publishPlaced(record, v.request, activeTraceparent() ?? (typeof given === "string" && parseTraceparent(given) ? given : undefined));
  }
  if (!replay) deps.onPlaced(record);
  sendJson(res, 202, { id, status: record.status }, { location: `/orders/${id}`, ...(replay ? { "idempotent-replayed": "true" } : {}) });
}

async function getOrder(path: string, res: ServerResponse, deps: ApiDeps, authenticated: boolean): Promise<void> {
  const m = ORDER_ROUTE.exec(path);
  const order = m ? await deps.store.get(m[1]!) : undefined;
  if (!order) throw new HttpError(404, "Not Found", "no such order");
  // Anyone who can guess or overhear an order id may read an open API: personal data only
  // for a caller with the token.
  sendJson(
    res,
    200,
    authenticated || order.customer.email === undefined ? order : { ...order, customer: { ...order.customer, email: maskEmail(order.customer.email) } },
  );
}

/** `alice@example.com` → `a***@example.com`: enough to recognise, not to contact. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at < 1) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

async function listOrders(url: URL, res: ServerResponse, deps: ApiDeps): Promise<void> {
  const status = url.searchParams.get("status") ?? undefined;
  if (status !== undefined && !STATUSES.includes(status as OrderStatus)) {
    throw new HttpError(400, "Bad Request", `status must be one of ${STATUSES.join(", ")}`);
  }
  const limitRaw = url.searchParams.get("limit") ?? "20";
  const limit = Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new HttpError(400, "Bad Request", "limit must be an integer in 1..100");
  const cursor = url.searchParams.get("cursor") ?? undefined;
  if (cursor !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new HttpError(400, "Bad Request", "invalid cursor");
  const page = await deps.listOrders({ status: status as OrderStatus | undefined, limit, cursor });
  const summary = page.orders.map((o) => ({
    id: o.id,
    status: o.status,
    amount: o.amount,
    currency: o.currency,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  }));
  sendJson(res, 200, { orders: summary, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
}
