// Specs resolved into the values the reconcilers use: defaults filled in (the same defaults the
// CRD declares, so an API server that does not apply defaults behaves the same), durations and
// sizes parsed, and the rules a schema cannot express checked. Pure functions.
import type { EventStreamSpec, EventSubscriptionSpec, HttpTargetSpec, Retention, Storage, Discard, DeletionPolicy } from "./types.ts";
import { reservedSubjectProblem } from "./tenancy.ts";
import { parseDurationNs, parseSizeBytes } from "./units.ts";

export interface ResolvedStream {
  subjects: string[];
  retention: Retention;
  storage: Storage;
  replicas: number;
  maxAgeNs: number; // 0 = unlimited
  maxBytes: number; // -1 = unlimited
  maxMsgs: number; // -1 = unlimited
  maxMsgSize: number; // -1 = server limit
  discard: Discard;
  duplicateWindowNs: number;
  /** -1 = not set: the server's default applies at creation, and the server's value is left alone after. */
  maxConsumers: number;
  deletionPolicy: DeletionPolicy;
}

export type StartFrom = { kind: "new" } | { kind: "all" } | { kind: "time"; time: string };

export interface ResolvedSubscription {
  stream: string;
  types: string[]; // empty = every subject of the stream
  startFrom: StartFrom;
  ackWaitNs: number;
  maxDeliver: number;
  backoffNs: number[];
  maxAckPending: number;
  /** spec.delivery.circuitBreaker; undefined when disabled. */
  circuitBreaker?: { failureThreshold: number; windowNs: number; coolDownNs: number };
  deadLetterStream?: string;
  deployment?: string;
  /** subscriber.http: events are pushed to this target by a dispatcher (docs/http.md). */
  http?: ResolvedHttpTarget;
  /** spec.paused: the consumer delivers nothing until resumed; the autoscaler holds replicas. */
  paused: boolean;
}

export interface ResolvedHttpTarget {
  /** A Service of the subscription's namespace (port, path), or an absolute URL. */
  target: { kind: "service"; service: string; port: number; path: string } | { kind: "url"; url: string };
  timeoutMs: number;
  replyTypes: string[];
}

export const HTTP_TARGET_DEFAULTS = { port: 80, path: "/", timeout: "10s" } as const;

export type Resolved<T> = { ok: true; value: T } | { ok: false; problems: string[] };

export const STREAM_DEFAULTS = {
  retention: "limits",
  storage: "file",
  replicas: 1,
  discard: "old",
  duplicateWindow: "2m",
  deletionPolicy: "Retain",
} as const;

export const DELIVERY_DEFAULTS = { startFrom: "new", ackWait: "30s", maxDeliver: 5, maxAckPending: 1000 } as const;
/** spec.delivery.circuitBreaker defaults (also in the CRD): on for every subscription. */
export const CIRCUIT_BREAKER_DEFAULTS = { enabled: true, failureThreshold: 10, window: "30s", coolDown: "10s" } as const;

function field<T>(problems: string[], name: string, parse: () => T, fallback: T): T {
  try {
    return parse();
  } catch (err) {
    problems.push(`spec.${name}: ${(err as Error).message}`);
    return fallback;
  }
}

export function resolveStreamSpec(spec: EventStreamSpec): Resolved<ResolvedStream> {
  const problems: string[] = [];
  const subjects = Array.isArray(spec?.subjects) ? spec.subjects : [];
  if (subjects.length === 0) problems.push("spec.subjects: at least one subject is required");
  for (const s of subjects) {
    if (typeof s !== "string" || !/^((\*|[^\s.*>]+)\.)*(\*|>|[^\s.*>]+)$/.test(s)) {
      problems.push(`spec.subjects: "${s}" is not a valid subject (tokens separated by ".", no spaces, ">" only last)`);
    } else {
      const reserved = reservedSubjectProblem(s);
      if (reserved) problems.push(`spec.subjects: ${reserved}; no stream may capture it`);
    }
  }
  if (new Set(subjects).size !== subjects.length) problems.push("spec.subjects: subjects must be unique");
  const value: ResolvedStream = {
    subjects,
    retention: spec.retention ?? STREAM_DEFAULTS.retention,
    storage: spec.storage ?? STREAM_DEFAULTS.storage,
    replicas: spec.replicas ?? STREAM_DEFAULTS.replicas,
    maxAgeNs: spec.maxAge ? field(problems, "maxAge", () => parseDurationNs(spec.maxAge as string), 0) : 0,
    maxBytes: spec.maxBytes ? field(problems, "maxBytes", () => parseSizeBytes(spec.maxBytes as string), -1) : -1,
    maxMsgs: spec.maxMsgs ?? -1,
    maxMsgSize: spec.maxMsgSize ? field(problems, "maxMsgSize", () => parseSizeBytes(spec.maxMsgSize as string), -1) : -1,
    discard: spec.discard ?? STREAM_DEFAULTS.discard,
    duplicateWindowNs: field(problems, "duplicateWindow", () => parseDurationNs(spec.duplicateWindow ?? STREAM_DEFAULTS.duplicateWindow), 120e9),
    maxConsumers: spec.maxConsumers ?? -1,
    deletionPolicy: spec.deletionPolicy ?? STREAM_DEFAULTS.deletionPolicy,
  };
  if (spec.maxConsumers !== undefined && (!Number.isInteger(spec.maxConsumers) || spec.maxConsumers < 1 || spec.maxConsumers > 1_000_000)) {
    problems.push(`spec.maxConsumers (${String(spec.maxConsumers)}): must be an integer from 1 to 1000000`);
  }
  if (value.maxMsgSize > 2 ** 31 - 1) problems.push(`spec.maxMsgSize (${spec.maxMsgSize}): at most 2147483647 bytes (JetStream's limit, just under 2Gi)`);
  if (value.replicas < 1 || value.replicas > 5 || !Number.isInteger(value.replicas)) {
    problems.push("spec.replicas: must be an integer from 1 to 5");
  }
  if (value.maxAgeNs > 0 && value.duplicateWindowNs > value.maxAgeNs) {
    // JetStream refuses this; say it in the spec's words.
    problems.push(`spec.duplicateWindow (${spec.duplicateWindow ?? STREAM_DEFAULTS.duplicateWindow}) must not exceed spec.maxAge (${spec.maxAge})`);
  }
  return problems.length ? { ok: false, problems } : { ok: true, value };
}

export function resolveSubscriptionSpec(spec: EventSubscriptionSpec): Resolved<ResolvedSubscription> {
  const problems: string[] = [];
  const d = spec?.delivery ?? {};
  if (!spec?.stream) problems.push("spec.stream: the EventStream to consume is required");
  const types = spec?.types ?? [];
  for (const t of types) {
    if (typeof t !== "string" || !/^((\*|[^\s.*>]+)\.)*(\*|>|[^\s.*>]+)$/.test(t)) {
      problems.push(`spec.types: "${t}" is not a valid CloudEvents type/subject`);
    } else {
      const reserved = reservedSubjectProblem(t);
      if (reserved) problems.push(`spec.types: ${reserved}; no subscription may filter on it`);
    }
  }
  const startText = d.startFrom ?? DELIVERY_DEFAULTS.startFrom;
  let startFrom: StartFrom;
  if (startText === "new" || startText === "all") startFrom = { kind: startText };
  else {
    const t = Date.parse(startText);
    if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}T/.test(startText)) {
      problems.push(`spec.delivery.startFrom: "${startText}" is neither new, all nor an RFC 3339 time`);
      startFrom = { kind: "new" };
    } else startFrom = { kind: "time", time: new Date(t).toISOString() };
  }
  const maxDeliver = d.maxDeliver ?? DELIVERY_DEFAULTS.maxDeliver;
  const backoffNs = (d.backoff ?? []).map((b, i) => field(problems, `delivery.backoff[${i}]`, () => parseDurationNs(b), 1e9));
  if (backoffNs.length > maxDeliver) {
    problems.push(`spec.delivery.backoff has ${backoffNs.length} entries but maxDeliver is ${maxDeliver}: at most maxDeliver entries (one delay per retry)`);
  }
  if (backoffNs.some((b) => b <= 0)) problems.push("spec.delivery.backoff: every delay must be greater than 0");
  const ackWaitNs = field(problems, "delivery.ackWait", () => parseDurationNs(d.ackWait ?? DELIVERY_DEFAULTS.ackWait), 30e9);
  if (ackWaitNs < 1e6) problems.push("spec.delivery.ackWait: must be at least 1ms");
  const cb = d.circuitBreaker ?? {};
  const failureThreshold = cb.failureThreshold ?? CIRCUIT_BREAKER_DEFAULTS.failureThreshold;
  if (!Number.isInteger(failureThreshold) || failureThreshold < 1)
    problems.push(`spec.delivery.circuitBreaker.failureThreshold: must be an integer ≥ 1, got ${failureThreshold}`);
  const windowNs = field(problems, "delivery.circuitBreaker.window", () => parseDurationNs(cb.window ?? CIRCUIT_BREAKER_DEFAULTS.window), 30e9);
  const coolDownNs = field(problems, "delivery.circuitBreaker.coolDown", () => parseDurationNs(cb.coolDown ?? CIRCUIT_BREAKER_DEFAULTS.coolDown), 10e9);
  if (windowNs < 1e9 || coolDownNs < 1e8) problems.push("spec.delivery.circuitBreaker: window must be at least 1s and coolDown at least 100ms");
  const s = spec?.scaling;
  if (s && (s.minReplicas ?? 1) > (s.maxReplicas ?? 10)) problems.push("spec.scaling: minReplicas must not exceed maxReplicas");
  if (s?.scaleDownStabilization) field(problems, "scaling.scaleDownStabilization", () => parseDurationNs(s.scaleDownStabilization as string), 0);
  const value: ResolvedSubscription = {
    stream: spec?.stream ?? "",
    types,
    startFrom,
    ackWaitNs,
    maxDeliver,
    backoffNs,
    maxAckPending: d.maxAckPending ?? DELIVERY_DEFAULTS.maxAckPending,
    paused: spec?.paused === true,
  };
  if (cb.enabled ?? CIRCUIT_BREAKER_DEFAULTS.enabled) value.circuitBreaker = { failureThreshold, windowNs, coolDownNs };
  if (spec?.deadLetter?.stream) value.deadLetterStream = spec.deadLetter.stream;
  if (spec?.subscriber?.deployment) value.deployment = spec.subscriber.deployment;
  if (spec?.subscriber?.http) value.http = resolveHttpTarget(problems, spec.subscriber.http, ackWaitNs, d.ackWait ?? DELIVERY_DEFAULTS.ackWait);
  return problems.length ? { ok: false, problems } : { ok: true, value };
}

const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const TYPE_PATTERN = /^((\*|[^\s.*>]+)\.)*(\*|>|[^\s.*>]+)$/;

/** subscriber.http: either a Service (port, path) or a URL; a timeout shorter than the ack wait. */
function resolveHttpTarget(problems: string[], h: HttpTargetSpec, ackWaitNs: number, ackWaitText: string): ResolvedHttpTarget {
  let target: ResolvedHttpTarget["target"] = { kind: "url", url: "" };
  if ((h.service === undefined) === (h.url === undefined)) {
    problems.push("spec.subscriber.http: set either service (with port and path) or url");
  } else if (h.url !== undefined) {
    if (h.port !== undefined || h.path !== undefined) problems.push("spec.subscriber.http: port and path go with service; a url carries its own");
    let u: URL | undefined;
    try {
      u = new URL(h.url);
    } catch {
      problems.push(`spec.subscriber.http.url: "${h.url}" is not an absolute URL`);
    }
    if (u && u.protocol !== "http:" && u.protocol !== "https:") problems.push(`spec.subscriber.http.url: must be http or https, got ${u.protocol}`);
    if (u && (u.username || u.password)) problems.push("spec.subscriber.http.url: must not carry credentials");
    target = { kind: "url", url: h.url };
  } else {
    const service = h.service ?? "";
    if (!DNS_1035.test(service) || service.length > 63) problems.push(`spec.subscriber.http.service: "${service}" is not a Service name (DNS-1035 label)`);
    const port = h.port ?? HTTP_TARGET_DEFAULTS.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`spec.subscriber.http.port: must be 1..65535, got ${port}`);
    const path = h.path ?? HTTP_TARGET_DEFAULTS.path;
    if (!/^\/[^\s]*$/.test(path)) problems.push(`spec.subscriber.http.path: must start with / and contain no spaces, got "${path}"`);
    target = { kind: "service", service, port, path };
  }
  const timeoutText = h.timeout ?? HTTP_TARGET_DEFAULTS.timeout;
  const timeoutNs = field(problems, "subscriber.http.timeout", () => parseDurationNs(timeoutText), 10e9);
  if (timeoutNs <= 0) problems.push("spec.subscriber.http.timeout: must be greater than 0");
  else if (timeoutNs >= ackWaitNs) {
    problems.push(
      `spec.subscriber.http.timeout (${timeoutText}) must be shorter than spec.delivery.ackWait (${ackWaitText}): past the ack wait JetStream redelivers while the request still runs`,
    );
  }
  const replyTypes = h.replyTypes ?? [];
  for (const t of replyTypes) {
    if (typeof t !== "string" || !TYPE_PATTERN.test(t))
      problems.push(`spec.subscriber.http.replyTypes: "${t}" is not a valid CloudEvents type/subject pattern`);
    else {
      const reserved = reservedSubjectProblem(t);
      if (reserved) problems.push(`spec.subscriber.http.replyTypes: ${reserved}`);
    }
  }
  return { target, timeoutMs: Math.round(timeoutNs / 1e6), replyTypes };
}
