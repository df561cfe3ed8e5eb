export {
  NatsCluster,
  NatsNode,
  OLDEST_SUPPORTED_NATS,
  natsServerBinary,
  natsServerCompatBinary,
  natsServerVersion,
  startNats,
  type NatsNodeOptions,
} from "./nats.ts";
export { freePort } from "./ports.ts";
export { waitFor } from "./wait.ts";
export * from "./kube/index.ts";
export { prng } from "./random.ts";
export { toolPath, toolPathIfBuilt, type Tool } from "./tools.ts";
export { Jaeger, jaegerConfig, startJaeger, type JaegerOptions, type JaegerSpan, type JaegerTrace } from "./jaeger.ts";
export { ControlPlane, startControlPlane, type ControlPlaneOptions } from "./controlplane/index.ts";
export { eventCases, orderCases, payloadOf, resourceCases, CORPUS_DIR, type EventCase, type OrderCase, type ResourceCase } from "./chaos/corpus.ts";
export { mutateBytes, mutateHeaders, mutateJson, pick } from "./chaos/fuzz.ts";
export { metricValue } from "./chaos/metrics.ts";
export { makeTestPki, natsTlsConfig, type TestPki } from "./security/certs.ts";
export { ProcessRunner, type RunnerSnapshot } from "./dev/runner.ts";
export { devDeployment } from "./dev/manifests.ts";
