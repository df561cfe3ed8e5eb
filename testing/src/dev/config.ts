// The dev stack's configuration: parsed and validated once from env, with the defaults
// docs/dev.md lists. A port of 0 means "any free port" (tests use that).
import { resolve } from "node:path";

export interface DevConfig {
  rootDir: string;
  stateDir: string;
  natsPort: number;
  natsMonitorPort: number;
  kubePort: number;
  /** test: the embedded API test server (default); real: kube-apiserver + etcd from the tools cache. */
  kube: "test" | "real";
  orderPort: number;
  /** The CloudEvents HTTP ingress (JETMESH_DEV_INGRESS_PORT, default 8090). */
  ingressPort: number;
  operatorPort: number;
  prometheusPort: number;
  /** auto: run Prometheus when the binary is on PATH; off: never. */
  prometheus: "auto" | "off";
  prometheusBin: string;
  /** Jaeger query API and UI; the services send OTLP/HTTP to otlpPort. */
  jaegerPort: number;
  otlpPort: number;
  /** auto: run Jaeger when tools/ensure.sh jaeger has built it (or JAEGER_BIN names it); off: never. */
  jaeger: "auto" | "off";
  /** NATS_SERVER_BIN; unset: the pinned server from the tools cache (natsServerBinary()). */
  natsServerBin: string | undefined;
  /** kubectl that applies crds/ and examples/ (KUBECTL; `make dev` passes the pinned one). */
  kubectlBin: string;
  /** LOG_LEVEL of the services and the operator. */
  logLevel: string;
  /** Seconds the runner waits after SIGTERM before SIGKILL. */
  graceSeconds: number;
  /** Simulated payment processor latency (PAYMENT_LATENCY_MS of the payment Deployment). */
  paymentLatencyMs: number;
  /** CONCURRENCY of the payment Deployment (events in flight per replica). */
  paymentConcurrency: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

function kubeLane(raw: string | undefined): "test" | "real" {
  if (raw === undefined || raw === "" || raw === "test") return "test";
  if (raw === "real") return "real";
  throw new ConfigError(`JETMESH_DEV_KUBE (make dev KUBE=...) must be test or real, got ${raw}`);
}

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

export function parseDevConfig(env: Record<string, string | undefined>, rootDir: string): DevConfig {
  const port = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number 0..65535 (0 = any free port), got ${raw}`);
    return n;
  };
  const prometheus = env.JETMESH_DEV_PROMETHEUS ?? "auto";
  if (prometheus !== "auto" && prometheus !== "off") throw new ConfigError(`JETMESH_DEV_PROMETHEUS must be auto or off, got ${prometheus}`);
  const jaeger = env.JETMESH_DEV_JAEGER ?? "auto";
  if (jaeger !== "auto" && jaeger !== "off") throw new ConfigError(`JETMESH_DEV_JAEGER must be auto or off, got ${jaeger}`);
  const logLevel = env.JETMESH_DEV_LOG_LEVEL ?? "warn";
  if (!LEVELS.includes(logLevel)) throw new ConfigError(`JETMESH_DEV_LOG_LEVEL must be one of ${LEVELS.join(", ")}, got ${logLevel}`);
  const grace = Number(env.JETMESH_DEV_GRACE_SECONDS ?? "10");
  if (!Number.isFinite(grace) || grace < 0)
    throw new ConfigError(`JETMESH_DEV_GRACE_SECONDS must be a number of seconds, got ${env.JETMESH_DEV_GRACE_SECONDS}`);
  const latency = Number(env.JETMESH_DEV_PAYMENT_LATENCY_MS ?? "40");
  if (!Number.isInteger(latency) || latency < 0 || latency > 60_000) {
    throw new ConfigError(`JETMESH_DEV_PAYMENT_LATENCY_MS must be an integer 0..60000 (ms), got ${env.JETMESH_DEV_PAYMENT_LATENCY_MS}`);
  }
  const concurrency = Number(env.JETMESH_DEV_PAYMENT_CONCURRENCY ?? "4");
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new ConfigError(`JETMESH_DEV_PAYMENT_CONCURRENCY must be an integer 1..1024, got ${env.JETMESH_DEV_PAYMENT_CONCURRENCY}`);
  }
  return {
    rootDir,
    stateDir: resolve(rootDir, env.JETMESH_DEV_DIR ?? ".dev"),
    natsPort: port("JETMESH_DEV_NATS_PORT", 4222),
    natsMonitorPort: port("JETMESH_DEV_NATS_MONITOR_PORT", 8222),
    kubePort: port("JETMESH_DEV_KUBE_PORT", 6443),
    kube: kubeLane(env.JETMESH_DEV_KUBE),
    orderPort: port("JETMESH_DEV_ORDER_PORT", 8080),
    ingressPort: port("JETMESH_DEV_INGRESS_PORT", 8090),
    operatorPort: port("JETMESH_DEV_OPERATOR_PORT", 8081),
    prometheusPort: port("JETMESH_DEV_PROMETHEUS_PORT", 9090),
    prometheus,
    prometheusBin: env.PROMETHEUS_BIN ?? "prometheus",
    jaegerPort: port("JETMESH_DEV_JAEGER_PORT", 16686),
    otlpPort: port("JETMESH_DEV_OTLP_PORT", 4318),
    jaeger,
    natsServerBin: env.NATS_SERVER_BIN || undefined,
    kubectlBin: env.KUBECTL ?? "kubectl",
    logLevel,
    graceSeconds: grace,
    paymentLatencyMs: latency,
    paymentConcurrency: concurrency,
  };
}

/** Where things live under the state directory (documented in docs/dev.md). */
export function devPaths(stateDir: string) {
  return {
    nats: resolve(stateDir, "nats"),
    kube: resolve(stateDir, "kube"),
    /** etcd data, certificates and logs of `make dev KUBE=real`. */
    controlPlane: resolve(stateDir, "k8s"),
    kubeconfig: resolve(stateDir, "kubeconfig"),
    prometheus: resolve(stateDir, "prometheus"),
    jaeger: resolve(stateDir, "jaeger"),
    manifests: resolve(stateDir, "manifests"),
    processes: resolve(stateDir, "processes.json"),
    endpoints: resolve(stateDir, "endpoints.json"),
    pids: resolve(stateDir, "pids.json"),
  };
}
