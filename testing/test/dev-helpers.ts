// The dev stack as the tests start it: every port picked free, Prometheus and Jaeger off, quiet logs,
// the pinned kubectl. Each test adds what it is about.
import { toolPath } from "../src/index.ts";

export function devTestEnv(stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    JETMESH_DEV_DIR: stateDir,
    JETMESH_DEV_NATS_PORT: "0",
    JETMESH_DEV_NATS_MONITOR_PORT: "0",
    JETMESH_DEV_KUBE_PORT: "0",
    JETMESH_DEV_ORDER_PORT: "0",
    JETMESH_DEV_INGRESS_PORT: "0",
    JETMESH_DEV_OPERATOR_PORT: "0",
    JETMESH_DEV_PROMETHEUS: "off",
    JETMESH_DEV_JAEGER: "off",
    JETMESH_DEV_JAEGER_PORT: "0",
    JETMESH_DEV_OTLP_PORT: "0",
    JETMESH_DEV_LOG_LEVEL: "warn",
    KUBECTL: toolPath("kubectl"),
    ...extra,
  };
}
