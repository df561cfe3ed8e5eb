// The dev stack: the whole mesh on one machine. Starts, in order, a JetStream nats-server,
// the Kubernetes API test server, the CRDs and examples/, the shop's Deployments, the
// operator, the process runner (which runs the Deployments' replicas), a round-robin proxy in
// front of the order API and, when installed, Prometheus; Jaeger (when built) before the
// operator, so every process sends it spans. stop() takes them down in reverse: children
// first (services, operator, Prometheus, Jaeger), then the servers.
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Writable } from "node:stream";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { stringify } from "yaml";
import { freePort } from "../ports.ts";
import { natsServerBinary } from "../nats.ts";
import { startKubeApiServer } from "../kube/index.ts";
import { startControlPlane } from "../controlplane/index.ts";
import { clientApply, kubectlApply, kubectlAvailable, retryUntilKnown } from "./apply.ts";
import { devPaths, type DevConfig } from "./config.ts";
import { loadKubeconfig } from "./kubeconfig.ts";
import { devDeployment, httpServices, INGRESS_SCRIPT, readManifests, shopDeployments } from "./manifests.ts";
import { ensureIngressTokens, INGRESS_DEPLOYMENT } from "./ingress.ts";
import { DEV_INVENTORY_SEED } from "./orders.ts";
import { DevNats } from "./nats.ts";
import { isOurs, readPidFile, reapLeftovers, writePidFile, type PidEntry } from "./pids.ts";
import { hostEnv, ManagedChild } from "./proc.ts";
import { DevPrometheus, replicaTargets } from "./prometheus.ts";
import { DevJaeger } from "./jaeger.ts";
import { toolPathIfBuilt } from "../tools.ts";
import { startProxy, type RoundRobinProxy } from "./proxy.ts";
import { ProcessRunner, type RunnerSnapshot } from "./runner.ts";

/** What runs where (also written to .dev/endpoints.json for `make demo` and the CLI). */
export interface DevEndpoints {
  pid: number;
  natsUrl: string;
  natsMonitorUrl: string;
  kubeUrl: string;
  kubeconfig: string;
  orderUrl: string;
  /** The CloudEvents HTTP ingress (docs/http.md) and the file with its dev bearer token. */
  ingressUrl: string;
  ingressTokensFile: string;
  operatorUrl: string;
  prometheusUrl: string | undefined;
  /** Jaeger's UI and query API, when it runs. */
  jaegerUrl: string | undefined;
  processesFile: string;
}

export interface DevStack {
  endpoints: DevEndpoints;
  runner: ProcessRunner;
  /** Every process the stack started that is still running (not counting this one). */
  livePids(): number[];
  stop(): Promise<void>;
}

type Step = (msg: string) => void;

export const OPERATOR_SCRIPT = "operator/src/main.ts";

export async function startDevStack(config: DevConfig, log: Writable, progress: Step): Promise<DevStack> {
  const paths = devPaths(config.stateDir);
  mkdirSync(config.stateDir, { recursive: true });
  const prev = readPidFile(paths.pids);
  if (prev && prev.main !== process.pid && isOurs(prev.main, prev.mainMatch ?? "node")) {
    throw new Error(`a dev stack is already running (pid ${prev.main}, state in ${config.stateDir}); stop it with Ctrl-C or kill ${prev.main}`);
  }
  const reaped = await reapLeftovers(paths.pids);
  if (reaped.length) progress(`stopped leftovers of a previous run: ${reaped.join(", ")}`);

  // Fixed ports are checked up front so a clash names its variable instead of failing half-way.
  const busy: string[] = [];
  const fixed: [number, string][] = [
    [config.natsPort, "JETMESH_DEV_NATS_PORT"],
    [config.natsMonitorPort, "JETMESH_DEV_NATS_MONITOR_PORT"],
    [config.kubePort, "JETMESH_DEV_KUBE_PORT"],
    [config.orderPort, "JETMESH_DEV_ORDER_PORT"],
    [config.ingressPort, "JETMESH_DEV_INGRESS_PORT"],
    [config.operatorPort, "JETMESH_DEV_OPERATOR_PORT"],
    [config.prometheusPort, "JETMESH_DEV_PROMETHEUS_PORT"],
    ...(config.jaeger === "auto"
      ? ([
          [config.jaegerPort, "JETMESH_DEV_JAEGER_PORT"],
          [config.otlpPort, "JETMESH_DEV_OTLP_PORT"],
        ] as [number, string][])
      : []),
  ];
  for (const [p, name] of fixed) {
    if (p !== 0 && !(await portFree(p))) busy.push(`127.0.0.1:${p} (${name})`);
  }
  if (busy.length) {
    throw new Error(
      `ports in use: ${busy.join(", ")}; stop what uses them or choose other ports, e.g. ${busy[0]?.replace(/.*\((\w+)\)/, "$1")}=0 for any free port`,
    );
  }
  const port = async (p: number) => (p === 0 ? freePort() : p);
  const ports = {
    nats: await port(config.natsPort),
    natsMonitor: await port(config.natsMonitorPort),
    kube: await port(config.kubePort),
    order: await port(config.orderPort),
    ingress: await port(config.ingressPort),
    operator: await port(config.operatorPort),
    prometheus: await port(config.prometheusPort),
    jaeger: await port(config.jaegerPort),
    otlp: await port(config.otlpPort),
  };

  const stops: (() => Promise<void>)[] = [];
  const children: { name: string; match: string; pid: () => number | undefined }[] = [];
  let snapshot: RunnerSnapshot = { updatedAt: "", workloads: [] };
  const savePids = () => {
    const entries: PidEntry[] = [];
    for (const c of children) {
      const pid = c.pid();
      if (pid) entries.push({ name: c.name, pid, match: c.match });
    }
    for (const w of snapshot.workloads) {
      for (const r of w.replicas) if (r.pid) entries.push({ name: r.name, pid: r.pid, match: w.script ?? "--conditions=source" });
    }
    // The script's file name: the command line holds it as typed (relative or absolute).
    writePidFile(paths.pids, { main: process.pid, mainMatch: basename(process.argv[1] ?? "node"), children: entries });
  };
  const stopAll = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (err) {
        progress(`stop failed: ${(err as Error).message}`);
      }
    }
    stops.length = 0;
    rmSync(paths.endpoints, { force: true });
    rmSync(paths.pids, { force: true });
  };

  try {
    progress(`starting nats-server (JetStream, storage ${paths.nats}) on 127.0.0.1:${ports.nats}`);
    const nats = new DevNats(paths.nats, ports.nats, ports.natsMonitor);
    await nats.start(config.natsServerBin ?? natsServerBinary(), log);
    stops.push(() => nats.stop());
    children.push({ name: "nats-server", match: join(paths.nats, "nats.conf"), pid: () => nats.pid });
    savePids();

    const kube = await startKube(config, paths, ports.kube, progress);
    stops.push(() => kube.stop());
    const kc = loadKubeconfig(paths.kubeconfig);

    const crds = join(config.rootDir, "crds");
    const examples = join(config.rootDir, "examples");
    const useKubectl = kubectlAvailable(config.kubectlBin);
    progress(`applying crds/ and examples/ with ${useKubectl ? "kubectl apply" : "@kubernetes/client-node (kubectl not found)"}`);
    if (useKubectl) {
      await kubectlApply(paths.kubeconfig, [crds], config.kubectlBin);
      await retryUntilKnown("applying examples/", () => kubectlApply(paths.kubeconfig, [examples], config.kubectlBin));
    } else {
      await clientApply(kc, readManifests(crds));
      await retryUntilKnown("applying examples/", () => clientApply(kc, readManifests(examples)));
    }

    // No cluster DNS: an HTTP subscriber's Service is a round-robin proxy over its replicas.
    const exampleManifests = readManifests(examples);
    const schemasDirs = [join(config.rootDir, "services/shop/schemas"), join(config.rootDir, "services/notifications/schemas")];
    const servicePorts = new Map<string, number>();
    for (const key of httpServices(exampleManifests)) servicePorts.set(key, await freePort());
    const deployments = shopDeployments(exampleManifests, {
      natsUrl: nats.url,
      logLevel: config.logLevel,
      extraEnv: {
        inventory: { INVENTORY_SEED: DEV_INVENTORY_SEED },
        // A slow simulated card processor with little concurrency: payment is the
        // bottleneck, so `make demo` builds a backlog the operator scales away.
        payment: { PAYMENT_LATENCY_MS: String(config.paymentLatencyMs), CONCURRENCY: String(config.paymentConcurrency) },
      },
      serviceUrl: (namespace, service) => `http://127.0.0.1:${servicePorts.get(`${namespace}/${service}`)}`,
      schemasDirs,
    });
    const tokens = ensureIngressTokens(config.stateDir);
    deployments.push(
      devDeployment(
        "shop",
        INGRESS_DEPLOYMENT,
        INGRESS_SCRIPT,
        { NATS_URL: nats.url },
        {
          INGRESS_TOKENS_FILE: tokens.file,
          INGRESS_SCHEMAS_DIR: schemasDirs.join(","),
        },
        config.logLevel,
      ),
    );
    mkdirSync(paths.manifests, { recursive: true });
    writeFileSync(
      join(paths.manifests, "deployments.yaml"),
      "# Generated by make dev from examples/ (testing/src/dev/manifests.ts); for reading, not for editing.\n" +
        deployments.map((d) => stringify(d)).join("---\n"),
    );
    progress(`applying the shop's Deployments (${deployments.map((d) => d.metadata.name).join(", ")}); replicas of existing ones are kept`);
    await clientApply(kc, deployments, ["replicas"]);

    let jaeger: DevJaeger | undefined;
    if (config.jaeger === "auto") {
      const bin = toolPathIfBuilt("jaeger");
      if (bin) {
        progress(`starting Jaeger (traces in memory) on 127.0.0.1:${ports.jaeger}, OTLP on 127.0.0.1:${ports.otlp}`);
        const j = new DevJaeger(paths.jaeger, ports.jaeger, ports.otlp);
        await j.start(bin, log);
        jaeger = j;
        stops.push(() => j.stop());
        children.push({ name: "jaeger", match: j.configFile, pid: () => j.pid });
        savePids();
      } else {
        progress("jaeger not built: running without traces (tools/ensure.sh jaeger builds it once, then make dev starts it)");
      }
    }
    // The standard OTEL_* env: every process sends its spans to Jaeger; none without it.
    const otelEnv: Record<string, string> = jaeger ? { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint } : {};

    progress(`starting the operator (metrics on 127.0.0.1:${ports.operator})`);
    const operator = new OperatorProcess(config, paths.kubeconfig, nats.url, ports.operator, log, progress, () => savePids(), otelEnv);
    children.push({ name: "operator", match: OPERATOR_SCRIPT, pid: () => operator.pid });
    operator.start();
    stops.push(() => operator.stop());

    let prometheus: DevPrometheus | undefined;
    let proxy: RoundRobinProxy | undefined;
    progress("starting the process runner (the dev stand-in for the Deployment controller and kubelet)");
    const runner = new ProcessRunner({
      kubeconfigPath: paths.kubeconfig,
      rootDir: config.rootDir,
      log,
      stateFile: paths.processes,
      graceMs: config.graceSeconds * 1_000,
      baseEnv: { LOG_LEVEL: config.logLevel, ...otelEnv },
      onChange: (snap) => {
        snapshot = snap;
        savePids();
        prometheus?.writeTargets(replicaTargets(snap));
      },
    });
    await runner.start();
    stops.push(() => runner.stop());

    proxy = await startProxy(ports.order, () => {
      const order = snapshot.workloads.find((w) => w.namespace === "shop" && w.name === "order");
      return order ? order.replicas.filter((r) => r.ready).map((r) => r.port) : [];
    });
    const orderProxy = proxy;
    stops.push(() => orderProxy.close());
    const readyPorts = (namespace: string, name: string) => {
      const w = snapshot.workloads.find((x) => x.namespace === namespace && x.name === name);
      return w ? w.replicas.filter((r) => r.ready).map((r) => r.port) : [];
    };
    const ingressProxy = await startProxy(ports.ingress, () => readyPorts("shop", INGRESS_DEPLOYMENT));
    stops.push(() => ingressProxy.close());
    for (const [key, p] of servicePorts) {
      const [namespace, service] = key.split("/") as [string, string];
      const sp = await startProxy(p, () => readyPorts(namespace, service));
      stops.push(() => sp.close());
    }

    if (config.prometheus === "auto") {
      if (binaryOnPath(config.prometheusBin)) {
        progress(`starting Prometheus (data ${paths.prometheus}) on 127.0.0.1:${ports.prometheus}`);
        const p = new DevPrometheus(paths.prometheus, ports.prometheus);
        await p.start(config.prometheusBin, `127.0.0.1:${ports.operator}`, log);
        prometheus = p;
        p.writeTargets(replicaTargets(snapshot));
        stops.push(() => p.stop());
        children.push({ name: "prometheus", match: join(paths.prometheus, "prometheus.yml"), pid: () => p.pid });
        savePids();
      } else {
        // How to get it on this OS (macOS: brew, Debian: apt, or a release binary).
        const hint = spawnSync(join(config.rootDir, "scripts", "install-hint.sh"), ["prometheus"], { encoding: "utf8" }).stdout?.trim();
        progress(`running without Prometheus: ${hint || "prometheus not found"}`);
      }
    }

    const endpoints: DevEndpoints = {
      pid: process.pid,
      natsUrl: nats.url,
      natsMonitorUrl: nats.monitorUrl,
      kubeUrl: kube.url,
      kubeconfig: paths.kubeconfig,
      orderUrl: proxy.url,
      ingressUrl: ingressProxy.url,
      ingressTokensFile: tokens.file,
      operatorUrl: `http://127.0.0.1:${ports.operator}`,
      prometheusUrl: prometheus?.url,
      jaegerUrl: jaeger?.url,
      processesFile: paths.processes,
    };
    writeFileSync(paths.endpoints, JSON.stringify(endpoints, null, 2) + "\n");
    return {
      endpoints,
      runner,
      livePids: () => {
        const pids: number[] = [];
        for (const c of children) {
          const p = c.pid();
          if (p) pids.push(p);
        }
        for (const w of runner.snapshot().workloads) for (const r of w.replicas) if (r.pid) pids.push(r.pid);
        return pids;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function binaryOnPath(bin: string): boolean {
  return spawnSync(bin, ["--version"], { stdio: "ignore", timeout: 10_000 }).status === 0;
}

/** The operator as a child process, restarted with backoff if it crashes (as a Deployment would). */
class OperatorProcess {
  private child: ManagedChild | undefined;
  private stopped = false;
  private crashes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly config: DevConfig;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: Writable;
  private readonly progress: Step;
  private readonly onStart: () => void;

  constructor(
    config: DevConfig,
    kubeconfig: string,
    natsUrl: string,
    port: number,
    log: Writable,
    progress: Step,
    onStart: () => void,
    extraEnv: Record<string, string>,
  ) {
    this.config = config;
    this.log = log;
    this.progress = progress;
    this.onStart = onStart;
    this.env = {
      ...hostEnv(),
      KUBECONFIG: kubeconfig,
      NATS_URL: natsUrl,
      HTTP_PORT: String(port),
      HTTP_HOST: "127.0.0.1",
      LOG_LEVEL: config.logLevel,
      // One operator process: no Lease to wait for (a persisted Lease of the previous run
      // would otherwise hold the new process back until it expires).
      LEADER_ELECTION: "false",
      ...extraEnv,
    };
  }

  get pid(): number | undefined {
    return this.child?.running ? this.child.pid : undefined;
  }

  start(): void {
    const child = new ManagedChild({
      name: "operator",
      command: process.execPath,
      args: ["--conditions=source", join(this.config.rootDir, OPERATOR_SCRIPT)],
      env: this.env,
      cwd: this.config.rootDir,
      log: this.log,
    });
    this.child = child;
    this.onStart();
    void child.exited.then((info) => {
      if (info.requested || this.stopped) return;
      this.crashes = Date.now() - child.startedAt > 10_000 ? 1 : this.crashes + 1;
      const delay = Math.min(500 * 2 ** (this.crashes - 1), 30_000);
      this.progress(`operator exited (${info.signal ?? `code ${info.code}`}); restarting in ${delay} ms`);
      this.timer = setTimeout(() => this.start(), delay);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.child?.stop(this.config.graceSeconds * 1_000);
  }
}

/** Removes the dev stack's state directory (make dev-clean); refuses while a stack runs. */
export async function cleanDevState(stateDir: string): Promise<string> {
  const paths = devPaths(stateDir);
  if (!existsSync(stateDir)) return `nothing to clean: ${stateDir} does not exist`;
  const prev = readPidFile(paths.pids);
  if (prev && isOurs(prev.main, prev.mainMatch ?? "node")) {
    throw new Error(`a dev stack is running (pid ${prev.main}); stop it (Ctrl-C) before make dev-clean`);
  }
  const reaped = await reapLeftovers(paths.pids);
  rmSync(stateDir, { recursive: true, force: true });
  return `removed ${stateDir}${reaped.length ? ` (stopped leftovers: ${reaped.join(", ")})` : ""}`;
}

/**
 * The dev stack's Kubernetes API: the embedded API test server (default), or with
 * `make dev KUBE=real` etcd + kube-apiserver from the tools cache, data kept under .dev/k8s.
 * The real lane runs no kube-controller-manager on purpose: the process runner stands in for
 * the Deployment controller and the kubelet and is the one writer of Deployment status; the
 * real Deployment controller would report 0 ready replicas for Pods no kubelet runs.
 */
async function startKube(config: DevConfig, paths: ReturnType<typeof devPaths>, port: number, progress: Step): Promise<{ url: string; stop(): Promise<void> }> {
  if (config.kube === "real") {
    progress(`starting etcd and kube-apiserver (state ${paths.controlPlane}) on 127.0.0.1:${port}`);
    const cp = await startControlPlane({ dir: paths.controlPlane, port, progress: (l) => progress(`  ${l}`) });
    copyFileSync(cp.kubeconfigPath, paths.kubeconfig);
    return cp;
  }
  progress(`starting the Kubernetes API test server (state ${paths.kube}) on 127.0.0.1:${port}`);
  return startKubeApiServer({ persistDir: paths.kube, port, kubeconfigPath: paths.kubeconfig });
}
