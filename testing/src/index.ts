export { NatsCluster, NatsNode, startNats, type NatsNodeOptions } from "./nats.ts";
export { freePort } from "./ports.ts";
export { waitFor } from "./wait.ts";
export * from "./kube/index.ts";
export { prng } from "./random.ts";
