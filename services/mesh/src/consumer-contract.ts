// What the operator writes on a durable consumer and the runtime reads back, defined once for
// both. The operator imports this module alone (@jetmesh/mesh/consumer-contract): it has no
// imports, so it brings nothing of the runtime along.

/** Consumer metadata key (nats-server ≥ 2.10) holding the retry schedule, e.g. "1s,5s,30s". */
export const BACKOFF_METADATA_KEY = "jetmesh.io/backoff";
