// The runtime's configuration from the environment (docs/contracts.md), parsed and
// validated once at start. Every problem names its variable.
import { readFileSync } from "node:fs";
import { ConfigError } from "./errors.ts";
import { redactUrls } from "./redact.ts";
import { parseTracingConfig, type TracingConfig } from "./tracing.ts";

export type Env = Record<string, string | undefined>;

export interface BaseConfig {
  /** NATS_URL, split on commas. */
  natsServers: string[];
  natsAuth: {
    user?: string;
    pass?: string;
    /** Contents of NATS_CREDS_FILE. */
    creds?: string;
    /** Contents of NATS_NKEY_SEED_FILE. */
    nkeySeed?: string;
  };
  natsTls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** JETMESH_STREAM / JETMESH_CONSUMER: both set for a subscriber, neither for a publisher-only service. */
  stream?: string;
  consumer?: string;
  /**
   * JETMESH_TYPES: the subscription's CE types, as the chart sets them. The consumer filters on
   * the server, so the runtime only logs them at start (what this pod was deployed for).
   */
  types: string[];
  deadLetterSubject?: string;
  httpPort: number;
  /** A client must have sent a request's headers within this time (slowloris). */
  httpHeadersTimeoutMs: number;
  /** A client must have sent a whole request within this time. */
  httpRequestTimeoutMs: number;
  /** HTTP_HOST: interface to listen on (default 0.0.0.0). */
  httpHost: string;
  logLevel: string;
  /** MAX_EVENT_BYTES: larger payloads are dead-lettered as too_large (default 1 MiB). */
  maxEventBytes: number;
  /** CONCURRENCY: messages handled at once (default 16). */
  concurrency: number;
  /** SHUTDOWN_TIMEOUT_MS: how long SIGTERM waits for in-flight work (default 10000). */
  shutdownTimeoutMs: number;
  /** PUBLISH_MAX_IN_FLIGHT: publishes awaiting their ack at most (default 256). */
  publishMaxInFlight: number;
  /** PUBLISH_TIMEOUT_MS: how long a publish waits for JetStream's ack (default 10000). */
  publishTimeoutMs: number;
  /** The standard OTEL_* variables (tracing.ts): off without an OTLP endpoint. */
  tracing: TracingConfig;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
const NAME = /^[A-Za-z0-9_-]+$/;
const SUBJECT = /^[^\s.]+(\.[^\s.]+)*$/;

export function parseBaseConfig(env: Env): BaseConfig {
  const problems: string[] = [];
  const str = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = str(name);
    if (v === undefined) return def;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${v}"`);
      return def;
    }
    return Number(v);
  };
  const file = (name: string): string | undefined => {
    const path = str(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (err) {
      problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return undefined;
    }
  };
  const exists = (name: string): string | undefined => {
    const contents = file(name);
    return contents === undefined ? undefined : str(name);
  };

  const natsServers = (str("NATS_URL") ?? "nats://127.0.0.1:4222")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of natsServers) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s/]+$|^[^\s:/]+:\d+$/.test(s)) problems.push(`NATS_URL: "${redactUrls(s)}" is not a server URL like nats://host:4222`);
  }
  const user = str("NATS_USER");
  const pass = str("NATS_PASSWORD");
  if ((user === undefined) !== (pass === undefined)) problems.push("NATS_USER and NATS_PASSWORD must be set together");
  const natsAuth: BaseConfig["natsAuth"] = {};
  if (user !== undefined && pass !== undefined) Object.assign(natsAuth, { user, pass });
  const creds = file("NATS_CREDS_FILE");
  if (creds !== undefined) natsAuth.creds = creds;
  const seed = file("NATS_NKEY_SEED_FILE");
  if (seed !== undefined) natsAuth.nkeySeed = seed.trim();
  const caFile = exists("NATS_TLS_CA_FILE");
  const certFile = exists("NATS_TLS_CERT_FILE");
  const keyFile = exists("NATS_TLS_KEY_FILE");
  if ((env.NATS_TLS_CERT_FILE === undefined) !== (env.NATS_TLS_KEY_FILE === undefined)) {
    problems.push("NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE must be set together");
  }

  const stream = str("JETMESH_STREAM");
  const consumer = str("JETMESH_CONSUMER");
  if (stream !== undefined && !NAME.test(stream)) problems.push(`JETMESH_STREAM "${stream}" may only contain A-Z a-z 0-9 _ -`);
  if (consumer !== undefined && !NAME.test(consumer)) problems.push(`JETMESH_CONSUMER "${consumer}" may only contain A-Z a-z 0-9 _ -`);
  if ((stream === undefined) !== (consumer === undefined))
    problems.push("JETMESH_STREAM and JETMESH_CONSUMER must be set together (or neither, for a service that only publishes)");
  const types = (str("JETMESH_TYPES") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const t of types) if (!SUBJECT.test(t)) problems.push(`JETMESH_TYPES: "${t}" is not a valid subject`);
  const deadLetterSubject = str("JETMESH_DEAD_LETTER_SUBJECT");
  if (deadLetterSubject !== undefined && (!SUBJECT.test(deadLetterSubject) || /[*>]/.test(deadLetterSubject))) {
    problems.push(`JETMESH_DEAD_LETTER_SUBJECT "${deadLetterSubject}" is not a literal subject`);
  }
  if (consumer !== undefined && deadLetterSubject === undefined) problems.push("JETMESH_DEAD_LETTER_SUBJECT is required when JETMESH_CONSUMER is set");

  const logLevel = str("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);

  const config: BaseConfig = {
    natsServers,
    natsAuth,
    types,
    httpPort: int("HTTP_PORT", 8080, 0, 65535),
    httpHost: str("HTTP_HOST") ?? "0.0.0.0",
    httpHeadersTimeoutMs: int("HTTP_HEADERS_TIMEOUT_MS", 10_000, 100, 600_000),
    httpRequestTimeoutMs: int("HTTP_REQUEST_TIMEOUT_MS", 30_000, 100, 3_600_000),
    logLevel,
    maxEventBytes: int("MAX_EVENT_BYTES", 1024 * 1024, 1, 64 * 1024 * 1024),
    concurrency: int("CONCURRENCY", 16, 1, 10_000),
    shutdownTimeoutMs: int("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
    publishMaxInFlight: int("PUBLISH_MAX_IN_FLIGHT", 256, 1, 100_000),
    publishTimeoutMs: int("PUBLISH_TIMEOUT_MS", 10_000, 100, 600_000),
    tracing: parseTracingConfig(env, problems),
  };
  if (stream !== undefined) config.stream = stream;
  if (consumer !== undefined) config.consumer = consumer;
  if (deadLetterSubject !== undefined) config.deadLetterSubject = deadLetterSubject;
  if (caFile !== undefined || certFile !== undefined || keyFile !== undefined) {
    config.natsTls = {};
    if (caFile !== undefined) config.natsTls.caFile = caFile;
    if (certFile !== undefined) config.natsTls.certFile = certFile;
    if (keyFile !== undefined) config.natsTls.keyFile = keyFile;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
