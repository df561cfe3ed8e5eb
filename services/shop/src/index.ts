// @jetmesh/shop: what the four shop services run — event types and schemas, the saga's wiring
// (streams, subscriptions, producers), the state records and KV buckets, HTTP helpers. The tools
// around the shop (load generator, invariant checker, provisioning, process launcher, NATS
// authorization generator) live in @jetmesh/shop-tools and never ship in a service image.
export * from "./events.ts";
export * from "./wiring.ts";
export * from "./state.ts";
export { SCHEMAS_DIR, loadSchema, loadSchemas, type JsonSchema } from "./schemas.ts";
export { isJsonContentType, sendJson, sendProblem } from "./http.ts";
export { ClientAbortError, HttpError, readBody } from "@jetmesh/mesh";
export { KeyedMutex } from "./keyed-mutex.ts";
export type { ShopSetupContext } from "./context.ts";
export { KvCache, type CasResult } from "./kvcache.ts";
export { bucketSettings, openBucket, type BucketSettings } from "./buckets.ts";
