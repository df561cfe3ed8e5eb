// The real Kubernetes control plane for tests and `make dev KUBE=real`: etcd, kube-apiserver and
// (optionally) kube-controller-manager, built from Go modules by tools/ensure.sh, on free
// loopback ports with temporary storage. The flags follow controller-runtime's envtest: RBAC
// authorization, service-account signing keys, an admin client certificate in
// `system:masters`, etcd with `--unsafe-no-fsync`; the ServiceAccount admission plugin is off
// as in envtest (no kubelet runs Pods here). Unlike envtest it can also run the controller
// manager, so Deployments get ReplicaSets and the `default` ServiceAccount exists.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "../ports.ts";
import { toolPath } from "../tools.ts";
import { waitFor } from "../wait.ts";
import { makeControlPlanePki, type ControlPlanePki } from "./pki.ts";

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (Deployments → ReplicaSets, ServiceAccounts, GC). */
  controllerManager?: boolean;
  /**
   * Folder for etcd data, certificates and kubeconfigs (default: a new temporary folder,
   * removed on stop). A given folder is kept, and etcd's data in it is reused on the next start.
   */
  dir?: string;
  /** kube-apiserver's port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Called with one line per start step and its duration (progress for long runs). */
  progress?: (line: string) => void;
}

export interface RestResponse<T = any> {
  status: number;
  body: T;
}

/** One child process of the control plane, with the last lines it printed. */
class Component {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private tail: string[] = [];

  readonly name: string;
  private readonly binary: string;
  private readonly args: string[];

  constructor(name: string, binary: string, args: string[]) {
    this.name = name;
    this.binary = binary;
    this.args = args;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get log(): string {
    return this.tail.join("");
  }

  start(): void {
    const proc = spawn(this.binary, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    const keep = (b: Buffer) => {
      this.tail.push(b.toString());
      if (this.tail.length > 300) this.tail.splice(0, this.tail.length - 300);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    proc.once("error", (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
    this.exited = new Promise((resolve) => proc.once("exit", () => resolve()));
  }

  /** Throws with the log tail when the process has exited (for start loops). */
  assertRunning(): void {
    if (this.proc && !this.running) {
      throw new Error(`${this.name} exited (${this.proc.exitCode ?? this.proc.signalCode}):\n${this.log.slice(-4000)}`);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const proc = this.proc!;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export class ControlPlane {
  readonly dir: string;
  readonly pki: ControlPlanePki;
  readonly etcdUrl: string;
  readonly port: number;
  private readonly etcd: Component;
  private readonly apiserver: Component;
  private readonly controllerManager: Component | undefined;
  private readonly ownsDir: boolean;

  private constructor(
    dir: string,
    pki: ControlPlanePki,
    etcd: Component,
    etcdUrl: string,
    port: number,
    apiserverArgs: string[],
    controllerManagerArgs: string[] | undefined,
    ownsDir: boolean,
  ) {
    this.dir = dir;
    this.pki = pki;
    this.etcd = etcd;
    this.etcdUrl = etcdUrl;
    this.port = port;
    this.ownsDir = ownsDir;
    this.apiserver = new Component("kube-apiserver", toolPath("kube-apiserver"), apiserverArgs);
    this.controllerManager = controllerManagerArgs
      ? new Component("kube-controller-manager", toolPath("kube-controller-manager"), controllerManagerArgs)
      : undefined;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** kubeconfig of the cluster admin (client certificate in `system:masters`). */
  get kubeconfigPath(): string {
    return join(this.dir, "admin.kubeconfig");
  }

  /** Last lines of each component's log (for failure messages). */
  get logs(): string {
    return [this.etcd, this.apiserver, this.controllerManager]
      .filter((c): c is Component => c !== undefined)
      .map((c) => `--- ${c.name}\n${c.log.slice(-3000)}`)
      .join("\n");
  }

  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const progress = opts.progress ?? (() => undefined);
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "jetmesh-k8s-"));
    mkdirSync(dir, { recursive: true });
    const pki = makeControlPlanePki(dir);
    const [etcdPort, peerPort, port] = [await freePort(), await freePort(), opts.port || (await freePort())];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = new Component("etcd", toolPath("etcd"), [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ]);
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caFile}`,
      `--secure-port=${port}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      "--disable-admission-plugins=ServiceAccount",
      "--profiling=false",
      "--v=0",
    ];
    writeFileSync(join(dir, "admin.kubeconfig"), certKubeconfig(`https://127.0.0.1:${port}`, pki), { mode: 0o600 });
    const controllerManagerArgs = opts.controllerManager
      ? [
          `--kubeconfig=${join(dir, "admin.kubeconfig")}`,
          `--service-account-private-key-file=${pki.serviceAccountKey}`,
          `--root-ca-file=${pki.caFile}`,
          "--leader-elect=false",
          "--secure-port=0",
          "--v=0",
        ]
      : undefined;
    const cp = new ControlPlane(dir, pki, etcd, etcdUrl, port, apiserverArgs, controllerManagerArgs, opts.dir === undefined);
    try {
      let t = Date.now();
      etcd.start();
      await waitFor(
        "etcd answers /health",
        async () => {
          etcd.assertRunning();
          const res = await fetch(`${etcdUrl}/health`);
          return res.ok && ((await res.json()) as { health?: string }).health === "true";
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      progress(`etcd ready in ${Date.now() - t} ms`);
      t = Date.now();
      await cp.startApiServer();
      progress(`kube-apiserver ready in ${Date.now() - t} ms`);
      if (cp.controllerManager) {
        t = Date.now();
        cp.controllerManager.start();
        // The ServiceAccount controller creating `default` shows the controllers are running.
        await waitFor(
          "kube-controller-manager to create the default ServiceAccount",
          async () => {
            cp.controllerManager!.assertRunning();
            return (await cp.rest("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200;
          },
          { timeoutMs: 60_000, intervalMs: 200 },
        );
        progress(`kube-controller-manager ready in ${Date.now() - t} ms`);
      }
    } catch (err) {
      const logs = cp.logs;
      await cp.stop();
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
    return cp;
  }

  private async startApiServer(): Promise<void> {
    this.apiserver.start();
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        this.apiserver.assertRunning();
        return (await this.rest("GET", "/readyz")).status === 200;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
  }

  /** Stops and starts kube-apiserver on the same port and storage (the "API server restart" fault). */
  async restartApiServer(): Promise<void> {
    await this.apiserver.stop();
    await this.startApiServer();
  }

  /** Stops kube-apiserver alone (clients see connection refused until startApiServerAgain). */
  async stopApiServer(): Promise<void> {
    await this.apiserver.stop();
  }

  async startApiServerAgain(): Promise<void> {
    await this.startApiServer();
  }

  /** A request as the cluster admin; JSON in and out. */
  rest<T = any>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<RestResponse<T>> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const req = httpsRequest(
        {
          host: "127.0.0.1",
          port: this.port,
          method,
          path,
          ca: readFileSync(this.pki.caFile),
          cert: readFileSync(this.pki.adminCert),
          key: readFileSync(this.pki.adminKey),
          headers: { accept: "application/json", ...(data === undefined ? {} : { "content-type": contentType }) },
          timeout: 30_000,
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => {
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // /readyz and /healthz answer plain text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
      req.on("error", reject);
      req.end(data);
    });
  }

  /**
   * A kubeconfig that authenticates as a ServiceAccount, with a token from the TokenRequest
   * API, so the real authorizer enforces that account's RBAC (`kubectl create token` does the same).
   */
  async serviceAccountKubeconfig(namespace: string, serviceAccount: string, path: string, expirationSeconds = 3600): Promise<string> {
    const res = await this.rest("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds },
    });
    if (res.status !== 201) throw new Error(`TokenRequest for ${namespace}/${serviceAccount}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    const token = (res.body as { status: { token: string } }).status.token;
    writeFileSync(path, tokenKubeconfig(this.url, this.pki, token, namespace), { mode: 0o600 });
    return path;
  }

  async stop(): Promise<void> {
    await this.controllerManager?.stop();
    await this.apiserver.stop();
    await this.etcd.stop();
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function b64(path: string): string {
  return readFileSync(path).toString("base64");
}

function kubeconfig(server: string, pki: ControlPlanePki, user: Record<string, string>, namespace = "default"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "jetmesh", cluster: { server, "certificate-authority-data": b64(pki.caFile) } }],
    users: [{ name: "jetmesh", user }],
    contexts: [{ name: "jetmesh", context: { cluster: "jetmesh", user: "jetmesh", namespace } }],
    "current-context": "jetmesh",
  });
}

function certKubeconfig(server: string, pki: ControlPlanePki): string {
  return kubeconfig(server, pki, { "client-certificate-data": b64(pki.adminCert), "client-key-data": b64(pki.adminKey) });
}

function tokenKubeconfig(server: string, pki: ControlPlanePki, token: string, namespace: string): string {
  return kubeconfig(server, pki, { token }, namespace);
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  return ControlPlane.start(opts);
}
