export * from "./events.ts";
export * from "./wiring.ts";
export * from "./state.ts";
export { SCHEMAS_DIR, loadSchema, loadSchemas, type JsonSchema } from "./schemas.ts";
export { HttpError, KeyedMutex, isJsonContentType, readBody, sendJson, sendProblem } from "./http.ts";
export { DEFAULT_BACKOFF_MS, consumerConfig, provisionShop, supportsFilterSubjects, type ProvisionOptions } from "./testing.ts";
export type { ShopSetupContext } from "./context.ts";
export { checkInvariants, type InvariantReport, type ShopSnapshot, type Violation, type ViolationKind } from "./invariants.ts";
export { formatReport, readBucket, snapshot, verifyShop, type VerifyOptions, type VerifyReport } from "./verify.ts";
