// The service shell: one function that turns a service definition into a running
// process: config from env (validated once), NATS connection that waits and reconnects,
// consumer runner, HTTP with /metrics /healthz /readyz, JSON logs, graceful shutdown.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { existsSync } from "node:fs";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { pino, type DestinationStream, type Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { parseBaseConfig, type BaseConfig, type Env } from "./config.ts";
import { ConsumerRunner, type Handler, type Handlers } from "./consumer.ts";
import { ConfigError, errorMessage } from "./errors.ts";
import { meshMetrics, type MeshMetrics } from "./metrics.ts";
import { Publisher } from "./publisher.ts";
import { redactUrls } from "./redact.ts";
import { SchemaRegistry } from "./schemas.ts";
import { contextOfTraceparent, startTracing, withSpan } from "./tracing.ts";

/** What a service's setup gets. */
export interface ServiceContext<C> {
  name: string;
  /** The service's own config (what `definition.config(env)` returned). */
  config: C;
  /** Same as `config` (named for readers who look for it). */
  serviceConfig: C;
  /** The runtime's config (NATS, stream, consumer, HTTP, limits). */
  baseConfig: BaseConfig;
  nc: NatsConnection;
  js: JetStreamClient;
  publisher: Publisher;
  log: Logger;
  registry: Registry;
  metrics: MeshMetrics;
  schemas: SchemaRegistry | undefined;
  /** The service's tracer when OTEL_EXPORTER_OTLP_ENDPOINT is set (KV spans: traceKv). */
  tracer: Tracer | undefined;
  /** True while /readyz would answer 200. */
  readonly ready: boolean;
}

export interface ServiceHooks {
  /** Event handlers by CE type; requires JETMESH_STREAM/JETMESH_CONSUMER. */
  handlers?: Handlers;
  /** Handles every type without an entry in `handlers` (also requires a consumer). */
  defaultHandler?: Handler;
  /** The service's own HTTP routes; return true when the request was handled. */
  http?(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean>;
  /** Called on shutdown after consuming stopped, before the NATS connection drains. */
  close?(): void | Promise<void>;
}

export interface ServiceDefinition<C = undefined> {
  name: string;
  /** Parses the service's own env; throw ConfigError naming the variable. */
  config?(env: Env): C;
  /** Directory of `<type>.json` JSON Schemas for event data. */
  schemasDir?: string;
  setup(ctx: ServiceContext<C>): Promise<ServiceHooks>;
}

export interface RunOptions {
  /** Where logs go (default stdout). */
  logDestination?: DestinationStream;
}

export interface ServiceHandle<C = unknown> {
  readonly port: number;
  readonly url: string;
  readonly ready: boolean;
  readonly context: ServiceContext<C>;
  readonly runner: ConsumerRunner | undefined;
  /** Graceful stop: not ready, stop consuming, finish in-flight, close, drain NATS, close HTTP. */
  stop(): Promise<void>;
}

/**
 * Runs a service in this process and resolves once it is set up (after NATS is reachable;
 * it waits and retries). Throws ConfigError for bad configuration.
 */
export async function runService<C = undefined>(def: ServiceDefinition<C>, env: Env = process.env, opts: RunOptions = {}): Promise<ServiceHandle<C>> {
  const { base, serviceConfig } = parseAll(def, env);
  const log = pino({ level: base.logLevel, base: { service: def.name }, timestamp: pino.stdTimeFunctions.isoTime }, opts.logDestination);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = meshMetrics(registry);
  const connectedGauge = metrics.natsConnected.labels(def.name);
  connectedGauge.set(0);
  const tracing = startTracing(base.tracing, def.name);
  const tracer = tracing?.tracer;
  if (base.tracing.enabled) log.info({ endpoint: base.tracing.tracesUrl, sampler: base.tracing.sampler }, "tracing on: spans go to the OTLP endpoint");

  let connected = false;
  let stopping = false;
  let hooks: ServiceHooks | undefined;
  let runner: ConsumerRunner | undefined;
  const isReady = () => connected && !stopping && hooks !== undefined && (runner === undefined || runner.consuming);

  // HTTP first: /healthz answers and /readyz says "not ready" while NATS is awaited.
  // Node's defaults hold a connection whose headers trickle in for 60 s and a request body for
  // 5 minutes; a few slow clients would tie up the service. Checked every second.
  const requestTimeout = Math.max(base.httpRequestTimeoutMs, base.httpHeadersTimeoutMs);
  const server = createServer(
    { headersTimeout: base.httpHeadersTimeoutMs, requestTimeout, connectionsCheckingInterval: Math.min(1_000, base.httpHeadersTimeoutMs) },
    (req, res) => {
      void serveHttp(req, res).catch((err) => {
        log.error({ err: errorMessage(err), url: req.url }, "HTTP handler failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "internal error" }));
      });
    },
  );
  const builtin = (route: string, code: number) => metrics.httpRequests.labels(def.name, route, String(code)).inc();
  async function serveHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return builtin("/healthz", 200);
    }
    if (req.method === "GET" && path === "/readyz") {
      const ready = isReady();
      const body = { ready, natsConnected: connected, consuming: runner ? runner.consuming : null, stopping };
      res.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body) + "\n");
      return builtin("/readyz", ready ? 200 : 503);
    }
    if (req.method === "GET" && path === "/metrics") {
      const text = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType }).end(text);
      return builtin("/metrics", 200);
    }
    if (hooks?.http) {
      const http = hooks.http;
      if (await (tracer ? traceHttp(tracer, req, res, () => http(req, res)) : http(req, res))) return;
    }
    if (!hooks) {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" }).end(JSON.stringify({ error: "starting" }) + "\n");
      return builtin("starting", 503);
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }) + "\n");
    builtin("unmatched", 404);
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new ConfigError(`HTTP_PORT ${base.httpPort}: cannot listen (${errorMessage(err)})`)));
    server.listen(base.httpPort, base.httpHost, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  log.info({ port }, "http listening");

  const closeHttp = async () => {
    await new Promise((r) => server.close(r));
    server.closeAllConnections();
    // Last: what was still buffered (the final acks' spans) goes out, bounded.
    if (tracing) await withTimeout(tracing.shutdown(), 5000, "span export").catch((err) => log.warn({ err: errorMessage(err) }, "spans not exported"));
  };

  let nc: NatsConnection;
  try {
    nc = await connectNats(def.name, base, log);
  } catch (err) {
    await closeHttp();
    throw err;
  }
  connected = true;
  connectedGauge.set(1);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") {
        connected = false;
        connectedGauge.set(0);
        log.warn({ server: redactUrls(s.server) }, "NATS disconnected; reconnecting");
      } else if (s.type === "reconnect") {
        connected = true;
        connectedGauge.set(1);
        log.info({ server: redactUrls(s.server) }, "NATS reconnected");
      }
    }
  })().catch(() => undefined);
  void nc.closed().then((err) => {
    connected = false;
    connectedGauge.set(0);
    if (!stopping) log.error({ err: err ? redactUrls(errorMessage(err)) : undefined }, "NATS connection closed");
  });

  const js = jetstream(nc);
  const publisher = new Publisher(js, { maxInFlight: base.publishMaxInFlight, timeoutMs: base.publishTimeoutMs, service: def.name, registry, tracer });
  const cleanupAfterFailure = async () => {
    stopping = true;
    await nc.close().catch(() => undefined);
    await closeHttp();
  };
  let schemas: SchemaRegistry | undefined;
  try {
    schemas = def.schemasDir && existsSync(def.schemasDir) ? SchemaRegistry.fromDir(def.schemasDir) : undefined;
    if (def.schemasDir && !schemas) throw new ConfigError(`schemas directory ${def.schemasDir} does not exist`);
  } catch (err) {
    await cleanupAfterFailure();
    throw err;
  }
  const ctx: ServiceContext<C> = {
    name: def.name,
    config: serviceConfig,
    serviceConfig,
    baseConfig: base,
    nc,
    js,
    publisher,
    log,
    registry,
    metrics,
    schemas,
    tracer,
    get ready() {
      return isReady();
    },
  };
  let setupHooks: ServiceHooks;
  try {
    setupHooks = await def.setup(ctx);
  } catch (err) {
    log.error({ err: errorMessage(err) }, "setup failed");
    await cleanupAfterFailure();
    throw err;
  }
  const handlers = setupHooks.handlers && Object.keys(setupHooks.handlers).length > 0 ? setupHooks.handlers : setupHooks.defaultHandler ? {} : undefined;
  if (handlers) {
    if (!base.stream || !base.consumer || !base.deadLetterSubject) {
      await setupHooks.close?.();
      await cleanupAfterFailure();
      throw new ConfigError(
        `JETMESH_STREAM, JETMESH_CONSUMER and JETMESH_DEAD_LETTER_SUBJECT are required: service ${def.name} handles ${Object.keys(handlers).join(", ") || "every type of its consumer"}`,
      );
    }
    runner = new ConsumerRunner({
      js,
      stream: base.stream,
      consumer: base.consumer,
      handlers,
      ...(setupHooks.defaultHandler ? { defaultHandler: setupHooks.defaultHandler } : {}),
      publisher,
      deadLetterSubject: base.deadLetterSubject,
      ...(schemas ? { schemas } : {}),
      concurrency: base.concurrency,
      maxEventBytes: base.maxEventBytes,
      log,
      registry,
      service: def.name,
      tracer,
    });
    // Runs in the background: /readyz turns 200 once the consumer exists and pulling began.
    runner.start().catch((err) => log.debug({ err: errorMessage(err) }, "consumer runner did not start"));
  }
  hooks = setupHooks;
  log.info({ stream: base.stream, consumer: base.consumer, types: base.types, handlers: handlers ? Object.keys(handlers) : [] }, "service started");

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      const t0 = Date.now();
      const left = () => Math.max(0, base.shutdownTimeoutMs - (Date.now() - t0));
      log.info({ timeoutMs: base.shutdownTimeoutMs }, "shutting down");
      await runner?.stop(left());
      try {
        await withTimeout(Promise.resolve(hooks?.close?.()), left() + 1000, "close hook");
      } catch (err) {
        log.error({ err: errorMessage(err) }, "close hook failed");
      }
      await withTimeout(publisher.flush(), left(), "pending publishes").catch((err) => log.warn({ err: errorMessage(err) }, "shutdown"));
      // drain flushes pending acks and unsubscribes cleanly; bounded in case NATS is gone.
      await withTimeout(nc.drain(), Math.max(1000, left()), "NATS drain").catch(async (err) => {
        log.warn({ err: errorMessage(err) }, "drain did not finish; closing");
        await nc.close().catch(() => undefined);
      });
      await closeHttp();
      log.info({ ms: Date.now() - t0 }, "stopped");
    })();
    return stopped;
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get ready() {
      return isReady();
    },
    context: ctx,
    runner,
    stop,
  };
}

/**
 * Entry point for a service's `src/main.ts`: runs it, exits 2 with a clear message on bad
 * configuration, and shuts down gracefully on SIGTERM/SIGINT.
 */
export async function main<C>(def: ServiceDefinition<C>): Promise<void> {
  let handle: ServiceHandle<C> | undefined;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    if (!handle) process.exit(0); // still starting: nothing in flight
    const timeout = Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 10_000) + 5_000;
    setTimeout(() => {
      process.stderr.write(`${def.name}: shutdown did not finish within ${timeout} ms after ${signal}; exiting\n`);
      process.exit(1);
    }, timeout).unref();
    handle.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`${def.name}: shutdown failed: ${errorMessage(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    handle = await runService(def, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${def.name}: ${redactUrls(err.message)}\n`);
      process.exit(2);
    }
    process.stderr.write(`${def.name}: failed to start: ${redactUrls(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exit(1);
  }
}

function parseAll<C>(def: ServiceDefinition<C>, env: Env): { base: BaseConfig; serviceConfig: C } {
  const problems: string[] = [];
  let base: BaseConfig | undefined;
  let serviceConfig: C | undefined;
  try {
    base = parseBaseConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  try {
    serviceConfig = def.config ? def.config(env) : (undefined as C);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !base) throw new ConfigError(problems);
  return { base, serviceConfig: serviceConfig as C };
}

async function connectNats(name: string, base: BaseConfig, log: Logger): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: base.natsServers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    // Keep trying when NATS is not up yet instead of crashing (pods start in any order).
    waitOnFirstConnect: true,
    // nats.js otherwise captures two stack traces per request (every KV write, every JetStream
    // publish): about 20 % of a shop service's CPU in the saga bench, for debug output only.
    noAsyncTraces: true,
    // A server that is frozen rather than gone (SIGSTOP, a partition) is noticed in ~30 s
    // instead of the client default of 4 minutes, so the client fails over to another node.
    pingInterval: 10_000,
    maxPingOut: 2,
  };
  if (base.natsAuth.user !== undefined) {
    opts.user = base.natsAuth.user;
    opts.pass = base.natsAuth.pass ?? "";
  }
  if (base.natsAuth.creds !== undefined) opts.authenticator = credsAuthenticator(new TextEncoder().encode(base.natsAuth.creds));
  else if (base.natsAuth.nkeySeed !== undefined) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(base.natsAuth.nkeySeed));
  if (base.natsTls) opts.tls = { ...base.natsTls };
  log.info({ servers: base.natsServers.map(redactUrls) }, "connecting to NATS");
  const nc = await connect(opts);
  log.info({ server: redactUrls(nc.getServer()), version: nc.info?.version }, "connected to NATS");
  return nc;
}

/**
 * The HTTP server span of a service route: continues the caller's traceparent, named by
 * method until the service names its route (setHttpRoute), ended when the answer is sent.
 */
function traceHttp<T>(tracer: Tracer, req: IncomingMessage, res: ServerResponse, fn: () => Promise<T> | T): Promise<T> {
  const method = req.method ?? "GET";
  const span = tracer.startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": method,
        "url.path": (req.url ?? "/").split("?")[0],
        "url.scheme": "http",
        ...(req.headers["user-agent"] ? { "user_agent.original": req.headers["user-agent"] } : {}),
      },
    },
    contextOfTraceparent(req.headers.traceparent),
  );
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    span.setAttribute("http.response.status_code", res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  res.once("finish", end);
  res.once("close", end);
  return withSpan(span, async () => fn());
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
