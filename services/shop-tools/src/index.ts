// @jetmesh/shop-tools: the tools around the shop, never part of a service image — the load
// generator, the invariant checker (`jetmesh shop verify`), provisioning of the shop's streams and
// consumers without the operator, the process launcher used by tests and benches, and the
// per-service NATS authorization generator.
export { DEFAULT_BACKOFF_MS, consumerConfig, provisionShop, type ProvisionOptions } from "./provision.ts";
export { checkInvariants, type InvariantReport, type ShopSnapshot, type Violation, type ViolationKind } from "./invariants.ts";
export { formatReport, readBucket, snapshot, verifyShop, type SettleProgress, type VerifyOptions, type VerifyReport } from "./verify.ts";
export { defaultOrder, percentile, runLoad, type LoadOptions, type LoadProgress, type LoadResult } from "./load.ts";
export { serviceEntry, spawnService, type ServiceProcess } from "./processes.ts";
export { ingressPermissions, natsAuthorizationConfig, servicePermissions, type NatsPermissions, type ServiceNatsIdentity } from "./nats-permissions.ts";
export { operatorPermissions, shopIdentity } from "./nats-authorization-cli.ts";
