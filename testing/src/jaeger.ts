// A real Jaeger (v2 all-in-one, in-memory storage) on free loopback ports, for the trace tests
// and `make dev`: OTLP/HTTP in, Jaeger's query HTTP API (and UI) out. The binary comes from
// tools/ensure.sh jaeger (JAEGER_BIN overrides it).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { toolPath } from "./tools.ts";
import { waitFor } from "./wait.ts";

export interface JaegerOptions {
  binary?: string;
  /** Query/UI port (default: a free one). */
  queryPort?: number;
  /** OTLP/HTTP port (default: a free one). */
  otlpPort?: number;
}

/** A span as Jaeger's query API returns it (/api/traces/<id>). */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: "CHILD_OF" | "FOLLOWS_FROM"; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; type: string; value: unknown }[];
  processID: string;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
}

export class Jaeger {
  readonly queryUrl: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT for the processes that send spans here. */
  readonly otlpEndpoint: string;
  private readonly proc: ChildProcess;
  private readonly dir: string;
  private readonly log: string[];

  constructor(proc: ChildProcess, dir: string, queryPort: number, otlpPort: number, log: string[]) {
    this.proc = proc;
    this.dir = dir;
    this.log = log;
    this.queryUrl = `http://127.0.0.1:${queryPort}`;
    this.otlpEndpoint = `http://127.0.0.1:${otlpPort}`;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** A trace by id (32 hex digits), or undefined while Jaeger has none of its spans. */
  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    const res = await fetch(`${this.queryUrl}/api/traces/${traceId}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`jaeger: GET /api/traces/${traceId}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { data: JaegerTrace[] };
    return body.data[0];
  }

  /** Names of the services Jaeger has spans from. */
  async services(): Promise<string[]> {
    const res = await fetch(`${this.queryUrl}/api/services`);
    if (!res.ok) throw new Error(`jaeger: GET /api/services: ${res.status}`);
    return ((await res.json()) as { data: string[] | null }).data ?? [];
  }

  logTail(): string {
    return this.log.slice(-40).join("");
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The config of an all-in-one with in-memory storage, listening on loopback only. */
export function jaegerConfig(ports: { query: number; queryGrpc: number; otlp: number }, host = "127.0.0.1"): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: ${host}:${ports.query}
    grpc:
      endpoint: ${host}:${ports.queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${host}:${ports.otlp}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** Starts Jaeger and resolves once its query API answers. */
export async function startJaeger(opts: JaegerOptions = {}): Promise<Jaeger> {
  const binary = opts.binary ?? toolPath("jaeger");
  const dir = mkdtempSync(join(tmpdir(), "jetmesh-jaeger-"));
  const ports = { query: opts.queryPort ?? (await freePort()), queryGrpc: await freePort(), otlp: opts.otlpPort ?? (await freePort()) };
  const config = join(dir, "jaeger.yaml");
  writeFileSync(config, jaegerConfig(ports));
  const log: string[] = [];
  const proc = spawn(binary, ["--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  const keep = (b: Buffer) => {
    log.push(b.toString());
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const jaeger = new Jaeger(proc, dir, ports.query, ports.otlp, log);
  try {
    await waitFor(
      "jaeger to answer on its query port",
      async () => {
        if (proc.exitCode !== null) throw new Error(`jaeger exited with ${proc.exitCode}:\n${jaeger.logTail()}`);
        return jaeger.services().then(
          () => true,
          () => false,
        );
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    await jaeger.stop();
    throw err;
  }
  return jaeger;
}
