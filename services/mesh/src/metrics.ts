// Prometheus metrics of the runtime (names as in docs/contracts.md). One set per
// registry, shared by the publisher, the consumer runner and the service shell.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface MeshMetrics {
  processed: Counter<"service" | "type" | "outcome">;
  processingSeconds: Histogram<"service" | "type">;
  inFlight: Gauge<"service">;
  published: Counter<"service" | "type">;
  deadLetters: Counter<"service" | "type" | "reason">;
  natsConnected: Gauge<"service">;
  httpRequests: Counter<"service" | "route" | "code">;
  httpRejected: Counter<"service" | "reason">;
  circuitState: Gauge<"service" | "consumer">;
  circuitOpened: Counter<"service" | "consumer">;
}

const cache = new WeakMap<Registry, MeshMetrics>();

export function meshMetrics(registry: Registry): MeshMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const m: MeshMetrics = {
    processed: new Counter({
      name: "jetmesh_events_processed_total",
      help: "Events handled by the consumer runner, by outcome (acked, retried, dead_lettered).",
      labelNames: ["service", "type", "outcome"],
      registers,
    }),
    processingSeconds: new Histogram({
      name: "jetmesh_event_processing_seconds",
      help: "Time from receiving an event to settling it (ack, nak or dead-letter).",
      labelNames: ["service", "type"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    circuitState: new Gauge({
      name: "jetmesh_circuit_state",
      help: "The subscription's circuit breaker: 0 closed, 1 half-open (probing with one message), 2 open (not fetching).",
      labelNames: ["service", "consumer"],
      registers,
    }),
    circuitOpened: new Counter({
      name: "jetmesh_circuit_opened_total",
      help: "Times the circuit opened (from closed, or again after a failed probe).",
      labelNames: ["service", "consumer"],
      registers,
    }),
    inFlight: new Gauge({ name: "jetmesh_events_in_flight", help: "Events being handled right now.", labelNames: ["service"], registers }),
    published: new Counter({
      name: "jetmesh_events_published_total",
      help: "Events published and acknowledged by JetStream.",
      labelNames: ["service", "type"],
      registers,
    }),
    deadLetters: new Counter({
      name: "jetmesh_dead_letters_total",
      help: "Events sent to the dead-letter subject, by reason.",
      labelNames: ["service", "type", "reason"],
      registers,
    }),
    natsConnected: new Gauge({ name: "jetmesh_nats_connected", help: "1 while connected to NATS.", labelNames: ["service"], registers }),
    httpRequests: new Counter({
      name: "jetmesh_http_requests_total",
      help: "HTTP requests served, by route and status code.",
      labelNames: ["service", "route", "code"],
      registers,
    }),
    httpRejected: new Counter({
      name: "jetmesh_http_rejected_total",
      help: "HTTP requests refused before any work (bad body, overload, not ready), by reason.",
      labelNames: ["service", "reason"],
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
