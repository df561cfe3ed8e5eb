// What the operator writes on a durable consumer and the runtime reads back, defined once for
// both. The operator imports this module alone (@jetmesh/mesh/consumer-contract): it has no
// imports, so it brings nothing of the runtime along.

/** Consumer metadata key (nats-server ≥ 2.10) holding the retry schedule, e.g. "1s,5s,30s". */
export const BACKOFF_METADATA_KEY = "jetmesh.io/backoff";

/** Header names of a dead letter (docs/contracts.md), written by the runtime and by the operator. */
export const DLQ_HEADERS = {
  reason: "JetMesh-Dlq-Reason",
  error: "JetMesh-Dlq-Error",
  originalSubject: "JetMesh-Dlq-Original-Subject",
  stream: "JetMesh-Dlq-Stream",
  streamSequence: "JetMesh-Dlq-Stream-Sequence",
  consumer: "JetMesh-Dlq-Consumer",
  deliveryCount: "JetMesh-Dlq-Delivery-Count",
  service: "JetMesh-Dlq-Service",
  time: "JetMesh-Dlq-Time",
} as const;

/** Stable per (stream, consumer, sequence): a retried dead-letter publish is deduplicated. */
export function deadLetterMsgId(stream: string, consumer: string, streamSequence: number): string {
  return `dlq:${stream}:${consumer}:${streamSequence}`;
}

/**
 * Where the dead letters of EventSubscription <namespace>/<subscription> are published (the
 * operator sets it as the subscriber's JETMESH_DEAD_LETTER_SUBJECT; `jetmesh dlq` reads it).
 */
export function deadLetterSubject(namespace: string, subscription: string): string {
  return `jetmesh.dlq.${namespace}.${subscription}`;
}

/**
 * Consumer metadata key holding the subscription's circuit breaker (spec.delivery.circuitBreaker),
 * e.g. "failureThreshold=10,window=10s,coolDown=5s" (Go-style durations). Absent: no breaker.
 */
export const CIRCUIT_BREAKER_METADATA_KEY = "jetmesh.io/circuit-breaker";

/**
 * The KV bucket where each runtime process reports a circuit that is not closed, under
 * `<consumer>.<instance>` (JSON CircuitReport); the operator reads it for the CircuitOpen
 * condition and to hold back scale-out. Entries expire (CIRCUIT_REPORT_TTL_MS) unless refreshed,
 * so a process that died with an open circuit does not hold it open.
 */
export const CIRCUIT_BUCKET = "jetmesh-circuits";
export const CIRCUIT_REPORT_TTL_MS = 60_000;
/** How often an open or half-open circuit's report is rewritten (well within the TTL). */
export const CIRCUIT_REPORT_REFRESH_MS = 10_000;

export interface CircuitReport {
  state: "open" | "half_open";
  reason: string;
  /** RFC 3339: when the circuit opened. */
  since: string;
  service: string;
}

/**
 * The KV bucket where each runtime process reports its recent failed deliveries, under
 * `<consumer>.<instance>` (JSON DeliveryFailureReport); the operator shows them in the
 * EventSubscription's status (`deliveryFailures`, condition DeliveryFailing). An entry is
 * rewritten at most every FAILURE_REPORT_INTERVAL_MS while deliveries fail and expires
 * FAILURE_REPORT_TTL_MS after the last rewrite: no entry = no failure in the last minute.
 */
export const FAILURE_BUCKET = "jetmesh-failures";
export const FAILURE_REPORT_TTL_MS = 60_000;
export const FAILURE_REPORT_INTERVAL_MS = 2_000;

export interface DeliveryFailureReport {
  service: string;
  /** RFC 3339: the first failure counted here (counts restart once a report has expired). */
  since: string;
  /** Failed deliveries handed back for a retry (handler error, timeout, HTTP 429/5xx). */
  retried: number;
  /** Deliveries that ended in the dead-letter stream. */
  deadLettered: number;
  last: {
    /** RFC 3339. */
    time: string;
    outcome: "retried" | "dead_lettered";
    /** The dead letter's reason (max_deliver, terminal, schema, …) when dead-lettered. */
    reason?: string;
    error: string;
  };
}
