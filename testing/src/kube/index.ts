export { startKubeApiServer, type KubeApiServer, type KubeApiServerOptions, type KubeFaults, type RecordedRequest } from "./server.ts";
export { kubeconfigYaml, writeKubeconfig } from "./kubeconfig.ts";
export { compileCel, CelError } from "./cel.ts";
export type { KubeObject, ResourceType } from "./types.ts";
