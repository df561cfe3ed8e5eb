// Operator configuration, parsed and validated once from the environment at start.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { NatsSettings } from "./jetstream/connection.ts";
import type { LeaderOptions } from "./kube/leader.ts";
import { parse as parseYaml } from "yaml";
import { reservedSubjectProblem, type SubjectPolicy } from "./api/tenancy.ts";
import { parseTracingConfig, type TracingConfig } from "@jetmesh/mesh/tracing";

export interface OperatorConfig {
  /** Path of a kubeconfig; undefined = in-cluster service account (or ~/.kube/config). */
  kubeconfigPath: string | undefined;
  nats: NatsSettings;
  /** Port for /metrics, /healthz, /readyz; 0 picks a free one. */
  httpPort: number;
  /** Address to listen on (0.0.0.0 in a pod; 127.0.0.1 in tests). */
  httpHost: string;
  logLevel: string;
  /** Every object is reconciled at least this often: drift on the NATS side is repaired. */
  resyncMs: number;
  /** Concurrent reconciles per kind. */
  workers: number;
  leaderElection: { enabled: boolean } & LeaderOptions;
  /** A watch silent for this long is restarted (half-open connections stall silently). */
  watchStallMs: number;
  watchTimeoutSeconds: number;
  /** Run the lag-based autoscaler for subscriptions that name a subscriber Deployment. */
  autoscale: boolean;
  /** host:port of the NATS monitoring endpoint, for rendered KEDA ScaledObjects (mode keda). */
  natsMonitoringEndpoint: string | undefined;
  /** Which subjects each namespace's EventStreams and EventSubscriptions may use (docs/security.md). */
  subjectPolicy: SubjectPolicy;
  /** Namespaces whose resources this operator serves; empty: every namespace. */
  watchNamespaces: string[];
  /**
   * Client-side rate limit of requests to the Kubernetes API server (client-go's QPS and Burst):
   * a token bucket of `burst` tokens refilled at `qps` per second; every request takes one.
   */
  kubeApi: { qps: number; burst: number };
  /** The standard OTEL_* variables: a span per reconcile when an OTLP endpoint is set. */
  tracing: TracingConfig;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function seconds(env: Env, name: string, fallback: number, min = 0.01): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback * 1000;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min) throw new ConfigError(`${name}="${raw}": expected a number of seconds ≥ ${min}`);
  return v * 1000;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${name}="${raw}": expected an integer from ${min} to ${max}`);
  return v;
}

function positive(env: Env, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || v > max) throw new ConfigError(`${name}="${raw}": expected a number of requests per second > 0 and ≤ ${max}`);
  return v;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name}="${raw}": expected true or false`);
}

function optional(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}

const SUBJECT = /^((\*|[^\s.*>]+)\.)*(\*|>|[^\s.*>]+)$/;

/**
 * SUBJECT_CONFINEMENT (namespace | off) and ALLOWED_SUBJECTS, a JSON (or YAML, as the chart
 * renders it) object from namespace ("*" = every namespace) to the extra subject patterns it
 * may capture, e.g. {"legacy":["orders.>"]}. Reserved subjects cannot be allowed.
 */
function subjectPolicy(env: Env): SubjectPolicy {
  const confinement = env.SUBJECT_CONFINEMENT || "namespace";
  if (confinement !== "namespace" && confinement !== "off") throw new ConfigError(`SUBJECT_CONFINEMENT="${confinement}": expected namespace or off`);
  const raw = env.ALLOWED_SUBJECTS;
  if (raw === undefined || raw.trim() === "") return { confinement, allowed: {} };
  let parsed: unknown;
  try {
    parsed = parseYaml(raw);
  } catch (err) {
    throw new ConfigError(`ALLOWED_SUBJECTS is neither JSON nor YAML (${(err as Error).message.split("\n")[0]}): expected e.g. {"legacy":["orders.>"]}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`ALLOWED_SUBJECTS: expected a JSON object of namespace → list of subjects, e.g. {"legacy":["orders.>"]}`);
  const allowed: Record<string, string[]> = {};
  for (const [ns, list] of Object.entries(parsed)) {
    if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) throw new ConfigError(`ALLOWED_SUBJECTS["${ns}"]: expected a list of subjects`);
    for (const s of list as string[]) {
      if (!SUBJECT.test(s)) throw new ConfigError(`ALLOWED_SUBJECTS["${ns}"]: "${s}" is not a valid subject`);
      const reserved = reservedSubjectProblem(s);
      if (reserved) throw new ConfigError(`ALLOWED_SUBJECTS["${ns}"]: ${reserved}; it cannot be allowed`);
    }
    allowed[ns] = list as string[];
  }
  return { confinement, allowed };
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** WATCH_NAMESPACES: comma-separated namespace names; empty or unset = every namespace. */
function watchNamespaces(env: Env): string[] {
  const list = (env.WATCH_NAMESPACES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const ns of list) {
    if (!NAMESPACE.test(ns) || ns.length > 63)
      throw new ConfigError(`WATCH_NAMESPACES: "${ns}" is not a namespace name (lowercase letters, digits and '-', at most 63)`);
  }
  return [...new Set(list)];
}

/** Reads the operator's settings from `env`; throws ConfigError naming the bad variable. */
export function parseConfig(env: Env = process.env): OperatorConfig {
  const servers = (env.NATS_URL ?? "nats://127.0.0.1:4222")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0) throw new ConfigError("NATS_URL is empty: give one or more comma-separated nats:// URLs");
  for (const s of servers) {
    // Never echo credentials (nats://user:password@host): only what follows the "@".
    const shown = s.includes("@") ? `…@${s.slice(s.lastIndexOf("@") + 1)}` : s;
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(s) && !/^[^\s:/]+:\d+$/.test(s))
      throw new ConfigError(`NATS_URL: "${shown}" is not a NATS URL (nats://host:port)`);
  }
  const nats: NatsSettings = { servers, requestTimeoutMs: seconds(env, "NATS_REQUEST_TIMEOUT_SECONDS", 5) };
  const setIf = <K extends keyof NatsSettings>(k: K, v: NatsSettings[K] | undefined) => {
    if (v !== undefined) nats[k] = v;
  };
  setIf("user", optional(env, "NATS_USER"));
  setIf("password", optional(env, "NATS_PASSWORD"));
  setIf("credsFile", optional(env, "NATS_CREDS_FILE"));
  setIf("nkeySeedFile", optional(env, "NATS_NKEY_SEED_FILE"));
  setIf("tlsCaFile", optional(env, "NATS_TLS_CA_FILE"));
  setIf("tlsCertFile", optional(env, "NATS_TLS_CERT_FILE"));
  setIf("tlsKeyFile", optional(env, "NATS_TLS_KEY_FILE"));
  if (nats.tlsCertFile && !nats.tlsKeyFile) throw new ConfigError("NATS_TLS_CERT_FILE needs NATS_TLS_KEY_FILE");

  const leaseDurationMs = seconds(env, "LEASE_DURATION_SECONDS", 15, 0.5);
  const renewDeadlineMs = seconds(env, "LEASE_RENEW_DEADLINE_SECONDS", (leaseDurationMs * 2) / 3 / 1000, 0.2);
  const retryPeriodMs = seconds(env, "LEASE_RETRY_PERIOD_SECONDS", Math.min(2, leaseDurationMs / 5 / 1000), 0.05);
  if (renewDeadlineMs >= leaseDurationMs) throw new ConfigError("LEASE_RENEW_DEADLINE_SECONDS must be shorter than LEASE_DURATION_SECONDS");
  if (retryPeriodMs >= renewDeadlineMs) throw new ConfigError("LEASE_RETRY_PERIOD_SECONDS must be shorter than LEASE_RENEW_DEADLINE_SECONDS");
  const tracingProblems: string[] = [];
  const tracing = parseTracingConfig(env, tracingProblems);
  if (tracingProblems.length > 0) throw new ConfigError(tracingProblems.join("; "));

  return {
    kubeconfigPath: optional(env, "KUBECONFIG"),
    nats,
    httpPort: integer(env, "HTTP_PORT", 8080, 0, 65535),
    httpHost: env.HTTP_HOST ?? "0.0.0.0",
    logLevel: env.LOG_LEVEL ?? "info",
    resyncMs: seconds(env, "RESYNC_SECONDS", 30, 0.1),
    workers: integer(env, "WORKERS", 16, 1, 256),
    leaderElection: {
      enabled: bool(env, "LEADER_ELECTION", true),
      namespace: env.LEASE_NAMESPACE ?? env.POD_NAMESPACE ?? "default",
      name: env.LEASE_NAME ?? "jetmesh-operator",
      identity: env.POD_NAME ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
      leaseDurationMs,
      renewDeadlineMs,
      retryPeriodMs,
    },
    watchStallMs: seconds(env, "WATCH_STALL_SECONDS", 90, 0.1),
    watchTimeoutSeconds: integer(env, "WATCH_TIMEOUT_SECONDS", 300, 1, 3600),
    autoscale: bool(env, "AUTOSCALE", true),
    natsMonitoringEndpoint: optional(env, "NATS_MONITORING_ENDPOINT"),
    subjectPolicy: subjectPolicy(env),
    watchNamespaces: watchNamespaces(env),
    kubeApi: kubeApiRateLimit(env),
    tracing,
  };
}

/**
 * KUBE_API_QPS and KUBE_API_BURST. controller-runtime's defaults (20/30) would take 25 minutes
 * to create 10,000 subscriptions (three requests each: finalizer, Event, status); these are
 * sized so 10,000 are Ready within half a minute (docs/operator.md, "Scale").
 */
export const KUBE_API_DEFAULTS = { qps: 1000, burst: 2000 } as const;

function kubeApiRateLimit(env: Env): { qps: number; burst: number } {
  const qps = positive(env, "KUBE_API_QPS", KUBE_API_DEFAULTS.qps, 100_000);
  // Only QPS given: a burst of two seconds' worth, as the defaults have.
  const burst = integer(env, "KUBE_API_BURST", env.KUBE_API_QPS ? Math.max(1, Math.ceil(2 * qps)) : KUBE_API_DEFAULTS.burst, 1, 1_000_000);
  return { qps, burst };
}
