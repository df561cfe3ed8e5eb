// @jetmesh/mesh: CloudEvents over NATS JetStream for JetMesh services.
export * from "./errors.ts";
export * from "./ids.ts";
export * from "./binding.ts";
export * from "./events.ts";
export * from "./metrics.ts";
export * from "./publisher.ts";
export * from "./schemas.ts";
export * from "./kv.ts";
export * from "./consumer.ts";
export * from "./circuit-breaker.ts";
export { CIRCUIT_BUCKET, CIRCUIT_BREAKER_METADATA_KEY, FAILURE_BUCKET, type CircuitReport, type DeliveryFailureReport } from "./consumer-contract.ts";
export * from "./config.ts";
export * from "./service.ts";
export * from "./redact.ts";
export * from "./tracing.ts";
export { ClientAbortError, HttpError, readBody } from "./http.ts";
