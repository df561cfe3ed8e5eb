// The dispatcher: push delivery of a subscription to an HTTP subscriber. It is a subscriber
// like any TypeScript service — the runtime's ConsumerRunner pulls from the durable consumer
// and settles every message by the runtime's contract (docs/runtime.md) — whose one handler
// POSTs the event in HTTP binary mode and turns the answer into that contract's terms:
//
//   2xx                      → ack (after a CloudEvent in the answer, the reply, is stored)
//   429, 5xx, timeout, reset → TransientError: nak with the subscription's backoff schedule
//                              (or after the Retry-After of a 429/503, up to 10 minutes),
//                              dead letter `max_deliver` once the deliveries are used up
//   other 4xx (and 3xx)      → TerminalError: dead letter at once, the status and the
//                              beginning of the answer's body in JetMesh-Dlq-Error
//
// Concurrency: JetStream hands out at most the subscription's maxAckPending unacknowledged
// messages across every dispatcher replica; CONCURRENCY bounds one replica's requests.
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import {
  ConfigError,
  deriveIds,
  errorMessage,
  InvalidEventError,
  parseBackoffList,
  SchemaRegistry,
  TerminalError,
  TransientError,
  traceparentWithSpan,
  type CloudEvent,
  type Env,
  type HandlerContext,
  type ServiceDefinition,
} from "@jetmesh/mesh";
import { checkPublishableType, eventFromHttp, httpBinaryFromEvent, subjectMatches, type HttpHeaders } from "./http-binding.ts";

export interface DispatcherConfig {
  /** DISPATCH_URL: where events are POSTed (http or https). */
  url: URL;
  /** DISPATCH_TIMEOUT: one request's time limit, Go-style duration (default 10s; keep it below the ack wait). */
  timeoutMs: number;
  /** DISPATCH_REPLY_TYPES: types a reply may have (NATS patterns); none = replies refused. */
  replyTypes: string[];
  /** Largest reply body read (MAX_EVENT_BYTES). */
  maxReplyBytes: number;
  /** DISPATCH_SCHEMAS_DIR: comma-separated directories of `<type>.json` schemas for replies. */
  schemasDirs: string[];
}

/** How much of an error answer's body goes into the dead letter's reason. */
export const BODY_EXCERPT_CHARS = 200;

export function dispatcherConfig(env: Env): DispatcherConfig {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(env.DISPATCH_URL ?? "");
    if (url.protocol !== "http:" && url.protocol !== "https:") problems.push(`DISPATCH_URL must be an http or https URL, got ${url.protocol}`);
  } catch {
    problems.push(`DISPATCH_URL must be the subscriber's URL (http://host:port/path), got ${JSON.stringify(env.DISPATCH_URL ?? "")}`);
  }
  const timeoutRaw = env.DISPATCH_TIMEOUT ?? "10s";
  const parsed = timeoutRaw.includes(",") ? undefined : parseBackoffList(timeoutRaw)?.[0];
  const timeoutMs = parsed ?? 10_000;
  if (parsed === undefined || parsed < 1 || parsed > 3_600_000)
    problems.push(`DISPATCH_TIMEOUT must be a duration from 1ms to 1h (e.g. 10s, 500ms), got ${JSON.stringify(timeoutRaw)}`);
  const replyTypes = (env.DISPATCH_REPLY_TYPES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const maxReplyBytes = Number(env.MAX_EVENT_BYTES ?? 1024 * 1024);
  if (problems.length || !url) throw new ConfigError(problems);
  const schemasDirs = (env.DISPATCH_SCHEMAS_DIR ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return { url, timeoutMs, replyTypes, maxReplyBytes: Number.isInteger(maxReplyBytes) && maxReplyBytes > 0 ? maxReplyBytes : 1024 * 1024, schemasDirs };
}

export const dispatcher: ServiceDefinition<DispatcherConfig> = {
  name: "jetmesh-dispatcher",
  config: dispatcherConfig,
  setup(ctx) {
    const cfg = ctx.config;
    const schemas = new SchemaRegistry();
    for (const dir of cfg.schemasDirs) {
      try {
        schemas.loadDir(dir);
      } catch (err) {
        throw new ConfigError(`DISPATCH_SCHEMAS_DIR ${dir}: ${errorMessage(err)}`);
      }
    }
    ctx.log.info({ url: cfg.url.origin + cfg.url.pathname, timeoutMs: cfg.timeoutMs, replyTypes: cfg.replyTypes }, "dispatching to HTTP subscriber");
    return Promise.resolve({ defaultHandler: (event: CloudEvent, h: HandlerContext) => deliver(cfg, schemas, event, h) });
  },
};

/** POSTs one event and settles it by the answer (module comment). */
export async function deliver(cfg: DispatcherConfig, schemas: SchemaRegistry, event: CloudEvent, h: HandlerContext): Promise<void> {
  const { headers, body } = httpBinaryFromEvent(event);
  let res: PostResult;
  try {
    res = await post(cfg, headers, body);
  } catch (err) {
    // The only abort signal is the timeout.
    const why =
      err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")
        ? `no answer within ${cfg.timeoutMs} ms (DISPATCH_TIMEOUT)`
        : `request failed: ${causeOf(err)}`;
    throw new TransientError(`${cfg.url.host}: ${why}`);
  }
  const status = res.status;
  if (status >= 200 && status < 300) {
    const reply = readReply(cfg, schemas, res, event);
    if (reply) await h.publish(reply);
    return;
  }
  const text = Buffer.from(res.body).toString("utf8").replace(/\s+/g, " ").trim();
  const excerpt = text.length > BODY_EXCERPT_CHARS ? text.slice(0, BODY_EXCERPT_CHARS) + "…" : text;
  const what = `HTTP ${status} from ${cfg.url.host}${excerpt ? `: ${excerpt}` : ""}`;
  if (status === 429 || status >= 500) {
    // A subscriber that says when to come back is believed (429 and 503, RFC 9110 §10.2.3).
    const delayMs = status === 429 || status === 503 ? retryAfterMs(res.headers["retry-after"]?.[0]) : undefined;
    throw new TransientError(delayMs === undefined ? what : `${what} (Retry-After: retrying in ${delayMs} ms)`, delayMs === undefined ? {} : { delayMs });
  }
  throw new TerminalError(what);
}

/** Longest Retry-After honoured; a longer one is cut to it, so a message is not parked for hours. */
export const RETRY_AFTER_MAX_MS = 10 * 60_000;

/**
 * A Retry-After header's delay in ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), at most
 * RETRY_AFTER_MAX_MS; undefined when absent or unreadable (the subscription's backoff applies).
 */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    // An HTTP-date begins with the day's name ("Sun, 06 Nov 1994 08:49:37 GMT").
    const at = /^[A-Za-z]{3}/.test(v) ? Date.parse(v) : NaN;
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(0, ms));
}

interface PostResult {
  status: number;
  /** A 2xx answer carrying a CloudEvent (ce-id header or a structured-mode Content-Type). */
  reply: boolean;
  headers: HttpHeaders;
  /** The answer's body: whole for a reply (up to maxReplyBytes), else its first bytes. */
  body: Uint8Array;
}

// Keep-alive connections shared by every delivery of this process; node:http rather than
// fetch, which costs several times the CPU per request.
const agents = { "http:": new HttpAgent({ keepAlive: true }), "https:": new HttpsAgent({ keepAlive: true }) };

function post(cfg: DispatcherConfig, headers: Record<string, string>, body: Uint8Array): Promise<PostResult> {
  const send = cfg.url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      cfg.url,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(body.length) },
        agent: agents[cfg.url.protocol as "http:" | "https:"],
        signal: AbortSignal.timeout(cfg.timeoutMs),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const isReply =
          status >= 200 &&
          status < 300 &&
          (res.headers["ce-id"] !== undefined || (res.headers["content-type"] ?? "").toLowerCase().startsWith("application/cloudevents"));
        // A reply is read whole (it is published); any other answer only as far as the excerpt.
        const limit = isReply ? cfg.maxReplyBytes + 1 : 4 * BODY_EXCERPT_CHARS;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < limit) chunks.push(c);
          size += c.length;
        });
        res.on("end", () => resolve({ status, reply: isReply, headers: res.headersDistinct, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * A CloudEvent in a 2xx answer (binary or structured mode), made deterministic: its id is
 * derived from the delivered event's id and the reply's type (as followUpEvent does), so a
 * redelivery that gets the same answer publishes the same id and JetStream stores it once.
 */
function readReply(cfg: DispatcherConfig, schemas: SchemaRegistry, res: PostResult, cause: CloudEvent): CloudEvent | undefined {
  if (!res.reply) return undefined;
  let reply: CloudEvent;
  try {
    reply = eventFromHttp({ headers: res.headers, body: res.body }, { maxBytes: cfg.maxReplyBytes }).event;
    checkPublishableType(reply.type);
    schemas.validateEvent(reply);
  } catch (err) {
    if (err instanceof InvalidEventError) throw new TerminalError(`the subscriber answered with an invalid CloudEvent: ${err.message}`);
    throw err;
  }
  if (!cfg.replyTypes.some((p) => subjectMatches(p, reply.type))) {
    throw new TerminalError(
      `the subscriber replied with type ${reply.type}, which this subscription may not publish (replyTypes: ${cfg.replyTypes.join(", ") || "none"})`,
    );
  }
  const { id, spanId } = deriveIds(cause.id, reply.type);
  const out: CloudEvent = { ...reply, id, traceparent: traceparentWithSpan(cause.traceparent, spanId, id) };
  if (reply.time === undefined && typeof cause.time === "string") out.time = cause.time;
  return out;
}

function causeOf(err: unknown): string {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return code ? `${code} (${errorMessage(err)})` : errorMessage(err);
}
