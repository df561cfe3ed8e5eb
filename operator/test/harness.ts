// Shared set-up for the operator's end-to-end tests: the Kubernetes API test server, a real
// nats-server, real kubectl, and operators started in-process with test-sized timings.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  freePort,
  startControlPlane,
  startKubeApiServer,
  startNats,
  toolPath,
  waitFor,
  type ControlPlane,
  type KubeApiServer,
  type NatsCluster,
} from "@jetmesh/testing";
import { pino } from "pino";
import { parseConfig, startOperator, type OperatorHandle } from "../src/index.ts";
import { natsJetStreamAdmin, type JetStreamAdmin } from "../src/jetstream/admin.ts";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CRDS = `${ROOT}crds`;
export const EXAMPLES = `${ROOT}examples`;
const KUBECTL = toolPath("kubectl");

/** What the harness needs of a Kubernetes API server: the API test server or the real one. */
export interface KubeServer {
  readonly kubeconfigPath: string;
  stop(): Promise<void>;
}

export interface Env<K extends KubeServer = KubeApiServer> {
  kube: K;
  nats: NatsCluster;
  kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** kubectl that must succeed; returns stdout. */
  k(args: string[], input?: string): Promise<string>;
  operator(extraEnv?: Record<string, string>): Promise<OperatorHandle>;
  /** The operator as a separate process (main.ts), e.g. to SIGKILL it. */
  operatorProcess(extraEnv?: Record<string, string>): Promise<{ proc: ChildProcess; httpPort: number; output: () => string }>;
  /** A separate NATS client for looking at (and tampering with) JetStream. */
  js(): Promise<JetStreamAdmin>;
  getJson<T = Record<string, any>>(kind: string, ns: string, name: string): Promise<T | undefined>;
  condition(kind: string, ns: string, name: string, type: string): Promise<{ status: string; reason: string; message: string } | undefined>;
  stop(): Promise<void>;
}

/** The API test server (fast, with fault injection) + a real nats-server. */
export async function startEnv(): Promise<Env> {
  return envOn(await startKubeApiServer());
}

/** The real control plane (kube-apiserver, etcd, controller manager) + a real nats-server. */
export async function startRealEnv(): Promise<Env<ControlPlane>> {
  return envOn(await startControlPlane({ controllerManager: true }));
}

async function envOn<K extends KubeServer>(kube: K): Promise<Env<K>> {
  const nats = await startNats();
  const operators: OperatorHandle[] = [];
  const procs: ChildProcess[] = [];
  const clients: NatsConnection[] = [];
  const kubectl = (args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(KUBECTL, ["--kubeconfig", kube.kubeconfigPath, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  const testEnv = () => ({
    KUBECONFIG: kube.kubeconfigPath,
    NATS_URL: nats.url,
    HTTP_HOST: "127.0.0.1",
    RESYNC_SECONDS: "1",
    WATCH_STALL_SECONDS: "3",
    LEASE_DURATION_SECONDS: "2",
    LEASE_RENEW_DEADLINE_SECONDS: "1.5",
    LEASE_RETRY_PERIOD_SECONDS: "0.25",
    NATS_REQUEST_TIMEOUT_SECONDS: "2",
    AUTOSCALE: "false",
  });
  const env: Env<K> = {
    kube,
    nats,
    kubectl,
    async k(args, input) {
      const r = await kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    },
    async operatorProcess(extraEnv = {}) {
      const httpPort = await freePort();
      const proc = spawn(process.execPath, ["--conditions=source", `${ROOT}operator/src/main.ts`], {
        env: { ...process.env, ...testEnv(), HTTP_PORT: String(httpPort), LOG_LEVEL: "info", ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"],
      });
      procs.push(proc);
      let out = "";
      proc.stdout?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
      proc.stderr?.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
      await waitFor("operator process answers /healthz", async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, {
        timeoutMs: 15_000,
        intervalMs: 100,
      });
      return { proc, httpPort, output: () => out };
    },
    async operator(extraEnv = {}) {
      const config = parseConfig({
        ...testEnv(),
        HTTP_PORT: "0",
        ...extraEnv,
      });
      const op = await startOperator(config, { logger: pino({ level: process.env.OPERATOR_LOG ?? "silent" }) });
      operators.push(op);
      return op;
    },
    async js() {
      const nc = await connect({ servers: nats.url });
      clients.push(nc);
      return natsJetStreamAdmin(await jetstreamManager(nc));
    },
    async getJson(kind, ns, name) {
      const r = await kubectl(["get", kind, "-n", ns, name, "-o", "json"]);
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    },
    async condition(kind, ns, name, type) {
      const o = await env.getJson<{ status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } }>(kind, ns, name);
      return o?.status?.conditions?.find((c) => c.type === type);
    },
    async stop() {
      for (const p of procs) p.kill("SIGKILL");
      for (const op of operators) await op.stop().catch(() => undefined);
      for (const nc of clients) await nc.close().catch(() => undefined);
      await kube.stop();
      await nats.destroy();
    },
  };
  return env;
}

export async function waitReason(env: Env<KubeServer>, kind: string, ns: string, name: string, reason: string, timeoutMs = 15_000, type = "Ready") {
  return waitFor(
    `${kind} ${ns}/${name} ${type} reason ${reason}`,
    async () => {
      const c = await env.condition(kind, ns, name, type);
      return c?.reason === reason ? c : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}
