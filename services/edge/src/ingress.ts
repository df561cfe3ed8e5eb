// The ingress: CloudEvents over HTTP (binary or structured mode) into JetStream, with the
// runtime's guarantees. An event is read and validated exactly as a subscriber would read it,
// checked against its type's JSON Schema, published with Nats-Msg-Id = its id, and answered
// 202 only once JetStream acknowledged it. A retried POST of the same event (same id) is
// stored once: JetStream drops the copy inside the stream's duplicate window.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ConfigError, errorMessage, InvalidEventError, SchemaRegistry, type Env, type ServiceContext, type ServiceDefinition } from "@jetmesh/mesh";
import { checkPublishableType, eventFromHttp } from "./http-binding.ts";
import { HttpError } from "@jetmesh/mesh";
import { ClientAbortError, HttpProblem, readBody, sendProblem } from "./http.ts";
import { mayPublish, parseProducers, type Producers } from "./producers.ts";

export interface IngressConfig {
  producers: Producers;
  /** INGRESS_SCHEMAS_DIR: comma-separated directories of `<type>.json` schemas. */
  schemasDirs: string[];
  /** Largest request body accepted (MAX_EVENT_BYTES of the runtime, default 1 MiB). */
  maxBodyBytes: number;
  /** INGRESS_BODY_TIMEOUT_MS: a body must arrive within this time (default 10 s). */
  bodyTimeoutMs: number;
  /** INGRESS_RETRY_AFTER_S: Retry-After of a 503 (default 2). */
  retryAfterSeconds: number;
}

export const INGRESS_PATHS = ["/", "/events"];

export function ingressConfig(env: Env): IngressConfig {
  const problems: string[] = [];
  let producers: Producers | undefined;
  try {
    producers = parseProducers(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return def;
    }
    return n;
  };
  const config = {
    schemasDirs: (env.INGRESS_SCHEMAS_DIR ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    maxBodyBytes: int("MAX_EVENT_BYTES", 1024 * 1024, 1, 64 * 1024 * 1024),
    bodyTimeoutMs: int("INGRESS_BODY_TIMEOUT_MS", 10_000, 1, 600_000),
    retryAfterSeconds: int("INGRESS_RETRY_AFTER_S", 2, 1, 3600),
  };
  if (problems.length || !producers) throw new ConfigError(problems);
  return { producers, ...config };
}

export const ingress: ServiceDefinition<IngressConfig> = {
  name: "jetmesh-ingress",
  config: ingressConfig,
  setup(ctx) {
    const schemas = new SchemaRegistry();
    for (const dir of ctx.config.schemasDirs) {
      try {
        schemas.loadDir(dir);
      } catch (err) {
        throw new ConfigError(`INGRESS_SCHEMAS_DIR ${dir}: ${errorMessage(err)}`);
      }
    }
    ctx.log.info({ schemas: schemas.types.length, auth: ctx.config.producers.required ? "bearer" : "none" }, "ingress ready");
    return Promise.resolve({ http: (req, res) => route(ctx, schemas, req, res) });
  },
};

function route(ctx: ServiceContext<IngressConfig>, schemas: SchemaRegistry, req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> {
  const path = (req.url ?? "/").split("?")[0]!;
  if (!INGRESS_PATHS.includes(path)) return false;
  return accept(ctx, schemas, req, res).then(
    (outcome) => {
      ctx.metrics.httpRequests.labels(ctx.name, "/events", String(outcome)).inc();
      return true;
    },
    (err: unknown) => {
      if (err instanceof ClientAbortError) {
        ctx.metrics.httpRejected.labels(ctx.name, "client_abort").inc();
        res.destroy();
        return true;
      }
      throw err;
    },
  );
}

/** Answers the request; resolves with the status sent. */
async function accept(ctx: ServiceContext<IngressConfig>, schemas: SchemaRegistry, req: IncomingMessage, res: ServerResponse): Promise<number> {
  const cfg = ctx.config;
  const fail = (p: HttpError, reason: string, headers: Record<string, string> = {}): number => {
    ctx.metrics.httpRejected.labels(ctx.name, reason).inc();
    // An unread body (refused before reading) is not worth waiting for.
    sendProblem(res, p, req.complete ? headers : { ...headers, connection: "close" });
    return p.status;
  };
  const unavailable = (detail: string): number =>
    fail(new HttpProblem(503, "nats-unavailable", "Service Unavailable", detail), "nats_unavailable", { "retry-after": String(cfg.retryAfterSeconds) });

  if (req.method !== "POST")
    return fail(new HttpProblem(405, "method-not-allowed", "Method Not Allowed", "send CloudEvents with POST"), "method", { allow: "POST" });
  const auth = cfg.producers.authenticate(req.headers.authorization);
  if (auth === undefined) {
    return fail(new HttpProblem(401, "unauthorized", "Unauthorized", "a producer's bearer token is required (Authorization: Bearer <token>)"), "unauthorized", {
      "www-authenticate": 'Bearer realm="jetmesh-ingress"',
    });
  }
  if (!ctx.ready) return unavailable("not connected to NATS; retry the same event (same id) later");

  let body: Buffer;
  try {
    body = await readBody(req, cfg.maxBodyBytes, cfg.bodyTimeoutMs);
  } catch (err) {
    if (err instanceof HttpError) return fail(err, err.status === 413 ? "too_large" : "body_timeout");
    throw err;
  }
  let event;
  try {
    ({ event } = eventFromHttp({ headers: req.headersDistinct, body }, { maxBytes: cfg.maxBodyBytes }));
    checkPublishableType(event.type);
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    if (err.reason === "too_large") return fail(new HttpProblem(413, "too-large", "Payload Too Large", err.message), "too_large");
    return fail(new HttpProblem(400, "invalid-event", "Bad Request", err.message), "invalid_event");
  }
  if (auth !== "anonymous" && !mayPublish(auth, event.type)) {
    return fail(
      new HttpProblem(403, "type-not-allowed", "Forbidden", `producer ${auth.name} may not publish ${event.type}`, { eventId: event.id }),
      "forbidden",
    );
  }
  try {
    schemas.validateEvent(event);
  } catch (err) {
    if (!(err instanceof InvalidEventError)) throw err;
    return fail(new HttpProblem(400, err.reason === "schema" ? "schema" : "invalid-event", "Bad Request", err.message, { eventId: event.id }), err.reason);
  }

  let ack;
  try {
    ack = await ctx.publisher.publish(event);
  } catch (err) {
    const msg = errorMessage(err);
    if (/max_payload/i.test(msg))
      return fail(new HttpProblem(413, "too-large", "Payload Too Large", `NATS refused the event: ${msg}`, { eventId: event.id }), "too_large");
    // The ingress's own NATS user may not publish this type (the chart's nats.jetmeshAuth.ingress.types):
    // no retry helps, so not a 503.
    if (/permissions violation/i.test(msg))
      return fail(
        new HttpProblem(403, "type-not-allowed", "Forbidden", `this ingress may not publish ${event.type} (its NATS permissions refuse it)`, {
          eventId: event.id,
        }),
        "forbidden",
      );
    if (ctx.ready && (await noStreamFor(ctx, event.type))) {
      return fail(
        new HttpProblem(400, "no-stream", "Bad Request", `no EventStream captures type ${event.type} (subject = type)`, { eventId: event.id }),
        "no_stream",
      );
    }
    ctx.log.warn({ err: msg, eventId: event.id, type: event.type }, "publish failed");
    return unavailable(`JetStream did not acknowledge the event (${msg}); retry the same event (same id) later`);
  }
  const answer = JSON.stringify({ id: event.id, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate });
  res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) }).end(answer);
  return 202;
}

/** True only when JetStream answers that no stream captures `subject` (not when it cannot answer). */
async function noStreamFor(ctx: ServiceContext<unknown>, subject: string): Promise<boolean> {
  try {
    const jsm = await ctx.js.jetstreamManager();
    await jsm.streams.find(subject);
    return false;
  } catch (err) {
    return /no stream matches subject/i.test(errorMessage(err));
  }
}
