// Test harness: real nats-server processes on free loopback ports with temporary JetStream
// storage. One node or a 3-node JetStream cluster; nodes can be stopped, killed (SIGKILL),
// paused (SIGSTOP) and restarted with their storage intact.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "node:net";
import { freePort } from "./ports.ts";
import { toolPath } from "./tools.ts";

export interface NatsNodeOptions {
  /** Extra lines appended to the generated server config (auth, tls, ...). */
  extraConfig?: string;
  /** Path of the nats-server binary (default: natsServerBinary()). */
  binary?: string;
  /** Max bytes for a message payload (server max_payload). */
  maxPayload?: number;
}

export class NatsNode {
  readonly name: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly clusterPort: number;
  readonly storeDir: string;
  readonly configFile: string;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logTail: string[] = [];

  readonly binary: string;

  constructor(name: string, ports: { port: number; monitorPort: number; clusterPort: number }, baseDir: string, config: string, binary: string) {
    this.name = name;
    this.binary = binary;
    this.port = ports.port;
    this.monitorPort = ports.monitorPort;
    this.clusterPort = ports.clusterPort;
    this.storeDir = join(baseDir, name, "jetstream");
    mkdirSync(this.storeDir, { recursive: true });
    this.configFile = join(baseDir, name, "nats.conf");
    writeFileSync(this.configFile, config);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPort}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Last lines the server printed (for failure messages). */
  get log(): string {
    return this.logTail.join("");
  }

  async start(timeoutMs = 10_000): Promise<void> {
    if (this.running) return;
    const proc = spawn(this.binary, ["-c", this.configFile], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    const keep = (b: Buffer) => {
      this.logTail.push(b.toString());
      if (this.logTail.length > 200) this.logTail.splice(0, this.logTail.length - 200);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    proc.once("error", (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
    await this.waitHealthy(timeoutMs);
  }

  /** Resolves when /healthz answers ok (JetStream ready on a single node). */
  async waitHealthy(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`nats-server ${this.name} exited during start:\n${this.log}`);
      }
      if (await portOpen(this.port)) {
        try {
          const res = await fetch(`${this.monitorUrl}/healthz`);
          if (res.ok) return;
        } catch {
          // not yet listening on the monitor port
        }
      }
      await sleep(50);
    }
    throw new Error(`nats-server ${this.name} not healthy within ${timeoutMs} ms:\n${this.log}`);
  }

  /** Graceful stop (SIGTERM), waits for exit. */
  async stop(): Promise<void> {
    await this.signalAndWait("SIGTERM");
  }

  /** Hard kill (SIGKILL): the OS page cache survives, the process does not. */
  async kill(): Promise<void> {
    await this.signalAndWait("SIGKILL");
  }

  /** Freeze the process (SIGSTOP): a partition from the cluster's point of view. */
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.proc?.kill("SIGCONT");
    this.proc?.kill(signal);
    const timer = setTimeout(() => this.proc?.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export class NatsCluster {
  readonly nodes: NatsNode[];
  readonly baseDir: string;

  private constructor(nodes: NatsNode[], baseDir: string) {
    this.nodes = nodes;
    this.baseDir = baseDir;
  }

  /** Client URLs of every node (pass all to a client so it can fail over). */
  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  get url(): string {
    return this.urls.join(",");
  }

  node(i: number): NatsNode {
    const n = this.nodes[i];
    if (!n) throw new Error(`no node ${i}`);
    return n;
  }

  /**
   * Starts `size` nodes (1 = standalone JetStream server; 3 = a JetStream cluster).
   */
  static async start(size = 1, opts: NatsNodeOptions = {}): Promise<NatsCluster> {
    // A port that was free when picked may be taken before the server binds it (another test's
    // server or client): start again on fresh ports, a bounded number of times.
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsCluster.startOnce(size, opts);
      } catch (err) {
        if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
      }
    }
  }

  private static async startOnce(size: number, opts: NatsNodeOptions): Promise<NatsCluster> {
    const binary = opts.binary ?? natsServerBinary();
    const baseDir = mkdtempSync(join(tmpdir(), "jetmesh-nats-"));
    const ports: { port: number; monitorPort: number; clusterPort: number }[] = [];
    for (let i = 0; i < size; i++) {
      ports.push({ port: await freePort(), monitorPort: await freePort(), clusterPort: await freePort() });
    }
    const nodes = ports.map((p, i) => {
      const name = `n${i + 1}`;
      const lines = [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.port}`,
        `http: 127.0.0.1:${p.monitorPort}`,
        `max_payload: ${opts.maxPayload ?? 1048576}`,
        `jetstream { store_dir: "${join(baseDir, name, "jetstream")}", max_memory_store: 268435456, max_file_store: 2147483648 }`,
      ];
      if (size > 1) {
        const routes = ports.map((q) => `nats-route://127.0.0.1:${q.clusterPort}`).join(", ");
        lines.push(`cluster { name: jetmesh-test, listen: 127.0.0.1:${p.clusterPort}, routes: [${routes}] }`);
      }
      if (opts.extraConfig) lines.push(opts.extraConfig);
      return new NatsNode(name, p, baseDir, lines.join("\n") + "\n", binary);
    });
    const cluster = new NatsCluster(nodes, baseDir);
    try {
      await Promise.all(nodes.map((n) => n.start(20_000)));
      if (size > 1) await cluster.waitJetStreamMeta(20_000);
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** In a cluster, waits until the JetStream meta group has a leader. */
  async waitJetStreamMeta(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const n of this.nodes) {
        if (!n.running) continue;
        try {
          const res = await fetch(`${n.monitorUrl}/jsz`);
          if (res.ok) {
            const body = (await res.json()) as { meta_cluster?: { leader?: string } };
            if (body.meta_cluster?.leader) return;
          }
        } catch {
          // node still starting
        }
      }
      await sleep(100);
    }
    throw new Error(`JetStream meta leader not elected within ${timeoutMs} ms`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  /** Stops every node and removes the temporary storage. */
  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** The oldest nats-server JetMesh supports (docs/runtime.md): 2.11 has consumer pause. */
export const OLDEST_SUPPORTED_NATS = "2.11.0";

let defaultBinary: string | undefined;

/**
 * The nats-server tests run on: $NATS_SERVER_BIN, else the pinned current server from the tools
 * cache (tools/ensure.sh nats answers at once when it is built, and builds it otherwise). Never
 * whatever nats-server is on PATH: Debian's 2.9 is older than we support. Checked once per
 * process: a server older than OLDEST_SUPPORTED_NATS is refused with the way out.
 */
export function natsServerBinary(): string {
  if (defaultBinary) return defaultBinary;
  // NATS_SERVER_BIN, else the pinned server of the tools cache (tools/ensure.sh nats).
  const binary = toolPath("nats-server");
  checkSupported(binary);
  defaultBinary = binary;
  return binary;
}

/**
 * The oldest supported nats-server, for the compatibility subset ($NATS_SERVER_COMPAT_BIN;
 * tools/ensure.sh nats-compat builds it). Undefined when not set: the subset then runs once.
 */
export function natsServerCompatBinary(): string | undefined {
  const binary = process.env.NATS_SERVER_COMPAT_BIN;
  if (binary) checkSupported(binary);
  return binary || undefined;
}

/** "2.15.2" from `nats-server --version` ("nats-server: v2.15.2"). */
export function natsServerVersion(binary: string): string {
  let out: string;
  try {
    out = execFileSync(binary, ["--version"], { encoding: "utf8" });
  } catch (err) {
    throw new Error(`cannot run nats-server at ${binary}: ${(err as Error).message}`);
  }
  const m = /v?(\d+\.\d+\.\d+)/.exec(out);
  if (!m) throw new Error(`${binary} --version printed no version: ${out.trim()}`);
  return m[1] as string;
}

function checkSupported(binary: string): void {
  const version = natsServerVersion(binary);
  const [a, b] = version.split(".").map(Number) as [number, number];
  const [x, y] = OLDEST_SUPPORTED_NATS.split(".").map(Number) as [number, number];
  if (a < x || (a === x && b < y)) {
    throw new Error(
      `nats-server ${version} at ${binary} is older than the oldest supported ${OLDEST_SUPPORTED_NATS}: unset NATS_SERVER_BIN to use tools/ensure.sh nats, or point it at a newer server`,
    );
  }
}

/** Shorthand for a single JetStream node. */
export async function startNats(opts: NatsNodeOptions = {}): Promise<NatsCluster> {
  return NatsCluster.start(1, opts);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
