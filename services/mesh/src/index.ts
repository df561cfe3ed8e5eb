// @jetmesh/mesh: CloudEvents over NATS JetStream for JetMesh services.
export * from "./errors.ts";
export * from "./ids.ts";
export * from "./binding.ts";
export * from "./events.ts";
export * from "./metrics.ts";
export * from "./publisher.ts";
