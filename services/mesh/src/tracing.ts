// OpenTelemetry tracing for JetMesh processes, configured the standard way (OTEL_* env,
// docs/monitoring.md#traces). Without an OTLP endpoint nothing is set up: no provider, no
// exporter, and the publisher, consumer, HTTP shell and KV take their untraced path (one
// `undefined` check each), so tracing off costs nothing measurable (docs/benchmarks in
// docs/monitoring.md).
//
// Each process (or each service run in-process by a test) gets its own TracerProvider, with
// its own service.name, passed explicitly instead of registered globally; only the context
// manager (AsyncLocalStorage, so a handler's KV calls and publishes find their parent span)
// is process-wide.
import { hostname } from "node:os";
import { context, ROOT_CONTEXT, trace, TraceFlags, type Attributes, type Context, type Span, type SpanContext, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
} from "@opentelemetry/sdk-trace";
import type { Env } from "./config.ts";
import { parseTraceparent } from "./ids.ts";

export { SpanStatusCode, type Tracer, type Span } from "@opentelemetry/api";

export type SamplerName = "always_on" | "always_off" | "traceidratio" | "parentbased_always_on" | "parentbased_always_off" | "parentbased_traceidratio";
const SAMPLERS: readonly SamplerName[] = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
];

export type TracingConfig =
  | { enabled: false }
  | {
      enabled: true;
      /** Where spans are sent: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
      tracesUrl: string;
      /** OTEL_SERVICE_NAME; the process's own name when unset. */
      serviceName?: string;
      sampler: SamplerName;
      /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers (default 1). */
      ratio: number;
      /** OTEL_RESOURCE_ATTRIBUTES. */
      resourceAttributes: Record<string, string>;
    };

/**
 * Reads the standard OTEL_* variables; every problem is appended to `problems` (one
 * ConfigError for the whole configuration). Tracing is on only with an OTLP endpoint,
 * OTEL_SDK_DISABLED not true and OTEL_TRACES_EXPORTER unset or `otlp`.
 */
export function parseTracingConfig(env: Env, problems: string[]): TracingConfig {
  const str = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };
  const exporter = str("OTEL_TRACES_EXPORTER") ?? "otlp";
  if (exporter !== "otlp" && exporter !== "none") problems.push(`OTEL_TRACES_EXPORTER must be otlp or none, got "${exporter}"`);
  const protocol = str("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? str("OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf";
  if (protocol !== "http/protobuf")
    problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL: only http/protobuf is supported (port 4318 of a collector or Jaeger), got "${protocol}"`);
  const sampler = (str("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on") as SamplerName;
  if (!SAMPLERS.includes(sampler)) problems.push(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(", ")}, got "${sampler}"`);
  let ratio = 1;
  const arg = str("OTEL_TRACES_SAMPLER_ARG");
  if (arg !== undefined && sampler.endsWith("traceidratio")) {
    ratio = Number(arg);
    if (!/^\d*\.?\d+$/.test(arg) || ratio < 0 || ratio > 1) problems.push(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${arg}"`);
  }
  const resourceAttributes: Record<string, string> = {};
  for (const pair of (str("OTEL_RESOURCE_ATTRIBUTES") ?? "").split(",")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    const key = eq > 0 ? pair.slice(0, eq).trim() : "";
    if (key === "") {
      problems.push(`OTEL_RESOURCE_ATTRIBUTES: "${pair}" is not key=value`);
      continue;
    }
    try {
      resourceAttributes[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      problems.push(`OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not valid percent-encoding`);
    }
  }
  const specific = str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const general = str("OTEL_EXPORTER_OTLP_ENDPOINT");
  const tracesUrl = specific ?? (general === undefined ? undefined : `${general.replace(/\/+$/, "")}/v1/traces`);
  if (tracesUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(tracesUrl)) {
    problems.push(
      `${specific !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT"} must be an http(s) URL like http://collector:4318, got "${specific ?? general}"`,
    );
  }
  if (tracesUrl === undefined || exporter === "none" || str("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return { enabled: false };
  const config: TracingConfig = {
    enabled: true,
    tracesUrl,
    sampler: SAMPLERS.includes(sampler) ? sampler : "parentbased_always_on",
    ratio,
    resourceAttributes,
  };
  const serviceName = str("OTEL_SERVICE_NAME");
  if (serviceName !== undefined) config.serviceName = serviceName;
  return config;
}

export interface Tracing {
  tracer: Tracer;
  /** Exports what is buffered (tests read traces back right after). */
  forceFlush(): Promise<void>;
  /** Exports what is buffered and stops; bounded by the exporter's timeout. */
  shutdown(): Promise<void>;
}

let contextManagerInstalled = false;

/** A tracer for `defaultServiceName` (OTEL_SERVICE_NAME wins), or undefined when tracing is off. */
export function startTracing(config: TracingConfig, defaultServiceName: string): Tracing | undefined {
  if (!config.enabled) return undefined;
  if (!contextManagerInstalled) {
    // Another library may have installed one already: then that one carries our context.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerInstalled = true;
  }
  const resource = defaultResource().merge(
    resourceFromAttributes({
      "service.instance.id": `${hostname()}/${process.pid}`,
      "host.name": hostname(),
      ...config.resourceAttributes,
      "service.name": config.serviceName ?? config.resourceAttributes["service.name"] ?? defaultServiceName,
    }),
  );
  const provider = new TracerProvider({
    resource,
    sampler: samplerOf(config.sampler, config.ratio),
    // Headers, timeout and compression come from OTEL_EXPORTER_OTLP_* in the process env.
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: config.tracesUrl }), scheduledDelayMillis: 1000 })],
  });
  return {
    tracer: provider.getTracer("jetmesh"),
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

function samplerOf(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/** The span context a W3C traceparent names, as a remote parent; undefined when invalid. */
export function remoteSpanContext(traceparent: unknown): SpanContext | undefined {
  const t = parseTraceparent(traceparent);
  if (!t) return undefined;
  return { traceId: t.traceId, spanId: t.spanId, traceFlags: parseInt(t.flags, 16) & TraceFlags.SAMPLED, isRemote: true };
}

/** A context whose parent is the span a traceparent names (the root context when invalid). */
export function contextOfTraceparent(traceparent: unknown): Context {
  const sc = remoteSpanContext(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** `00-<trace>-<span>-<flags>` of a span. */
export function traceparentOfSpan(span: Span): string {
  const sc = span.spanContext();
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00"}`;
}

/** The traceparent of the span active in this async context, if any (e.g. the HTTP request's). */
export function activeTraceparent(): string | undefined {
  const span = trace.getSpan(context.active());
  return span && trace.isSpanContextValid(span.spanContext()) ? traceparentOfSpan(span) : undefined;
}

/**
 * Names the active HTTP server span after the route that matched (`POST /orders`), as the
 * HTTP semantic conventions ask; a no-op without tracing.
 */
export function setHttpRoute(method: string | undefined, route: string): void {
  const span = trace.getSpan(context.active());
  if (!span) return;
  span.updateName(`${method ?? "GET"} ${route}`);
  span.setAttribute("http.route", route);
}

/** Runs `fn` with `span` as the active span. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Attribute names shared by the runtime's spans (docs/monitoring.md#traces). */
export const SPAN_ATTRIBUTES = {
  messagingSystem: "messaging.system",
  destination: "messaging.destination.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageId: "messaging.message.id",
  bodySize: "messaging.message.body.size",
  consumerGroup: "messaging.consumer.group.name",
  /** JetStream's delivery count of this delivery (1 on the first). */
  deliveryCount: "messaging.nats.message.delivery_count",
  /** What became of the delivery: ack, nak, dead_letter, or timeout (the server redelivers). */
  disposition: "messaging.nats.disposition",
  stream: "messaging.nats.stream",
  streamSequence: "messaging.nats.stream_sequence",
  /** The publish was recognised as a duplicate (same Nats-Msg-Id inside the window). */
  duplicate: "messaging.nats.duplicate",
  deadLetterReason: "jetmesh.dead_letter.reason",
  ceId: "cloudevents.event_id",
  ceSource: "cloudevents.event_source",
  ceType: "cloudevents.event_type",
  ceSubject: "cloudevents.event_subject",
} as const;

/** The attributes every span about one CloudEvent carries. */
export function eventAttributes(event: { id: string; source: string; type: string; subject?: unknown }): Attributes {
  const a: Attributes = {
    [SPAN_ATTRIBUTES.messagingSystem]: "nats",
    [SPAN_ATTRIBUTES.messageId]: event.id,
    [SPAN_ATTRIBUTES.ceId]: event.id,
    [SPAN_ATTRIBUTES.ceSource]: event.source,
    [SPAN_ATTRIBUTES.ceType]: event.type,
  };
  if (typeof event.subject === "string") a[SPAN_ATTRIBUTES.ceSubject] = event.subject;
  return a;
}
