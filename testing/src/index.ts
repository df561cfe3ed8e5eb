export { NatsCluster, NatsNode, OLDEST_SUPPORTED_NATS, natsServerBinary, natsServerCompatBinary, natsServerVersion, startNats, type NatsNodeOptions } from "./nats.ts";
export { freePort } from "./ports.ts";
export { waitFor } from "./wait.ts";
export * from "./kube/index.ts";
export { prng } from "./random.ts";
export { toolPath, type Tool } from "./tools.ts";
export { ControlPlane, startControlPlane, type ControlPlaneOptions } from "./controlplane/index.ts";
