// The dev process runner: a stand-in for the Deployment controller and the kubelet on one
// machine, for `make dev` only. It watches apps/v1 Deployments labelled
// app.kubernetes.io/part-of=jetmesh and keeps `spec.replicas` local node processes of each
// running (the script named by the jetmesh.io/dev-command annotation, with the first
// container's env plus a per-replica HTTP_PORT), restarts crashed ones with backoff, stops
// extras with SIGTERM (SIGKILL after a grace period), probes /readyz and writes the
// Deployment's status. It is not a runtime: no images, no isolation, no resource limits.
import { existsSync, writeFileSync, renameSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Writable } from "node:stream";
import * as k8s from "@kubernetes/client-node";
import { freePort } from "../ports.ts";
import { loadKubeconfig } from "./kubeconfig.ts";
import { hostEnv, ManagedChild } from "./proc.ts";
import {
  CRASH_RESET_AFTER_MS,
  DEV_COMMAND_ANNOTATION,
  PART_OF_SELECTOR,
  deploymentStatus,
  planSlots,
  restartDelayMs,
  workloadFromDeployment,
  type DeploymentLike,
  type DeploymentStatusView,
  type Workload,
} from "./workload.ts";

export interface RunnerOptions {
  kubeconfigPath: string;
  /** Repository root: dev-command scripts are resolved against it. */
  rootDir: string;
  labelSelector?: string;
  /** Node binary for the replicas (default: the one running this process). */
  nodePath?: string;
  /** Env every replica gets before the Deployment's own env (e.g. LOG_LEVEL). */
  baseEnv?: Record<string, string>;
  /** Where replicas' prefixed output goes (default: process.stdout). */
  log?: Writable;
  /** JSON file with every replica's pid and port, rewritten on change (for the CLI and demo). */
  stateFile?: string;
  /** SIGTERM → SIGKILL grace period (default 10 s). */
  graceMs?: number;
  /** Reconcile, probe and status period (default 1 s). */
  resyncMs?: number;
  /** Called after every pass that changed processes or readiness. */
  onChange?: (snapshot: RunnerSnapshot) => void;
}

export interface ReplicaSnapshot {
  index: number;
  name: string; // <deployment>-<index>
  pid: number | undefined;
  port: number;
  alive: boolean;
  ready: boolean;
  restarts: number;
}

export interface WorkloadSnapshot {
  namespace: string;
  name: string;
  /** The script its processes run (relative to the repository root). */
  script: string | undefined;
  desired: number;
  error?: string;
  replicas: ReplicaSnapshot[];
}

export interface RunnerSnapshot {
  updatedAt: string;
  workloads: WorkloadSnapshot[];
}

interface Slot {
  index: number;
  port: number;
  child: ManagedChild | undefined;
  templateHash: string;
  ready: boolean;
  /** Consecutive failed readiness probes (a ready replica turns unready at 3, like a kubelet). */
  probeFailures: number;
  restarts: number;
  crashes: number;
  notBefore: number;
}

const PROBE_FAILURE_THRESHOLD = 3;

interface Group {
  workload: Workload | undefined;
  namespace: string;
  name: string;
  error: string | undefined;
  slots: Map<number, Slot>;
  lastStatus: string;
  /** Script of the processes still running after the Deployment went away. */
  lastScript: string | undefined;
}

export class ProcessRunner {
  private readonly opts: Required<Omit<RunnerOptions, "stateFile" | "onChange" | "baseEnv">> & Pick<RunnerOptions, "stateFile" | "onChange" | "baseEnv">;
  private readonly kc: k8s.KubeConfig;
  private readonly apps: k8s.AppsV1Api;
  private informer: (k8s.Informer<k8s.V1Deployment> & k8s.ObjectCache<k8s.V1Deployment>) | undefined;
  private readonly groups = new Map<string, Group>();
  private timer: NodeJS.Timeout | undefined;
  private passRunning: Promise<void> | undefined;
  private passAgain = false;
  private stopped = false;
  private lastSnapshot = "";
  private informerRestart: NodeJS.Timeout | undefined;
  private informerBackoffMs = 500;

  constructor(options: RunnerOptions) {
    this.opts = {
      labelSelector: PART_OF_SELECTOR,
      nodePath: process.execPath,
      log: process.stdout,
      graceMs: 10_000,
      resyncMs: 1_000,
      ...options,
    };
    this.kc = loadKubeconfig(options.kubeconfigPath);
    this.apps = this.kc.makeApiClient(k8s.AppsV1Api);
  }

  async start(): Promise<void> {
    const selector = this.opts.labelSelector;
    const informer = k8s.makeInformer<k8s.V1Deployment>(
      this.kc,
      "/apis/apps/v1/deployments",
      () => this.apps.listDeploymentForAllNamespaces({ labelSelector: selector }),
      selector,
    );
    const kick = () => this.kick();
    informer.on("add", kick);
    informer.on("update", kick);
    informer.on("delete", kick);
    // ListWatch stops on errors other than 410 and timeouts: restart it with backoff.
    informer.on("error", (err: unknown) => {
      if (this.stopped) return;
      this.say(`deployment watch failed (${errorText(err)}); retrying in ${this.informerBackoffMs} ms`);
      clearTimeout(this.informerRestart);
      this.informerRestart = setTimeout(() => {
        this.informerBackoffMs = Math.min(this.informerBackoffMs * 2, 10_000);
        informer.start().catch(() => undefined);
      }, this.informerBackoffMs);
    });
    informer.on("connect", () => {
      this.informerBackoffMs = 500;
    });
    this.informer = informer;
    await informer.start();
    this.timer = setInterval(kick, this.opts.resyncMs);
    this.kick();
  }

  /** Current processes (the same content the state file holds). */
  snapshot(): RunnerSnapshot {
    const workloads: WorkloadSnapshot[] = [];
    for (const g of [...this.groups.values()].sort((a, b) => (a.namespace + a.name).localeCompare(b.namespace + b.name))) {
      workloads.push({
        namespace: g.namespace,
        name: g.name,
        script: g.workload?.script ?? g.lastScript,
        desired: g.workload?.replicas ?? 0,
        ...(g.error ? { error: g.error } : {}),
        replicas: [...g.slots.values()]
          .sort((a, b) => a.index - b.index)
          .map((s) => ({
            index: s.index,
            name: `${g.name}-${s.index}`,
            pid: s.child?.running ? s.child.pid : undefined,
            port: s.port,
            alive: s.child?.running ?? false,
            ready: s.ready,
            restarts: s.restarts,
          })),
      });
    }
    return { updatedAt: new Date().toISOString(), workloads };
  }

  /** Stops watching, then every process (SIGTERM, SIGKILL after the grace period). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.informerRestart);
    await this.informer?.stop();
    // A pass in flight may be starting a process: let it finish so that process is stopped too.
    await this.passRunning;
    const stops: Promise<unknown>[] = [];
    for (const g of this.groups.values()) {
      for (const s of g.slots.values()) if (s.child?.running) stops.push(s.child.stop(this.opts.graceMs));
    }
    await Promise.all(stops);
    this.writeState();
  }

  /** Level-based: every trigger runs one full pass; triggers during a pass coalesce into one more. */
  private kick(): void {
    if (this.stopped) return;
    if (this.passRunning) {
      this.passAgain = true;
      return;
    }
    this.passRunning = this.pass()
      .catch((err: unknown) => this.say(`runner pass failed: ${errorText(err)}`))
      .finally(() => {
        this.passRunning = undefined;
        if (this.passAgain && !this.stopped) {
          this.passAgain = false;
          this.kick();
        }
      });
  }

  private async pass(): Promise<void> {
    const seen = new Set<string>();
    for (const d of this.informer?.list() ?? []) {
      const parsed = workloadFromDeployment(d as DeploymentLike);
      const key = parsed.ok ? parsed.workload.key : parsed.key;
      seen.add(key);
      let g = this.groups.get(key);
      if (!g) {
        const [namespace = "", name = ""] = key.split("/");
        g = { workload: undefined, namespace, name, error: undefined, slots: new Map(), lastStatus: "", lastScript: undefined };
        this.groups.set(key, g);
      }
      const reason = parsed.ok
        ? existsSync(resolve(this.opts.rootDir, parsed.workload.script))
          ? undefined
          : `${parsed.workload.script} (from the ${DEV_COMMAND_ANNOTATION} annotation) does not exist under ${this.opts.rootDir}`
        : parsed.reason;
      if (reason === undefined && parsed.ok) {
        g.workload = parsed.workload;
        g.lastScript = parsed.workload.script;
        if (g.error) g.error = undefined;
      } else if (g.error !== reason) {
        g.error = reason;
        this.say(`${key}: not running it: ${reason}`);
      }
      if (d.metadata?.deletionTimestamp) g.workload = undefined;
    }
    for (const [key, g] of this.groups) {
      if (!seen.has(key)) g.workload = undefined;
      await this.converge(g);
      if (!seen.has(key) && [...g.slots.values()].every((s) => !s.child?.running)) this.groups.delete(key);
    }
    await Promise.all([...this.groups.values()].map((g) => this.probe(g)));
    for (const g of this.groups.values()) await this.writeStatus(g);
    this.writeState();
  }

  private async converge(g: Group): Promise<void> {
    const now = Date.now();
    const w = g.workload;
    const replicas = w ? w.replicas : 0;
    const hash = w?.templateHash ?? "";
    const plan = planSlots(
      replicas,
      hash,
      [...g.slots.values()].map((s) => ({
        index: s.index,
        alive: s.child?.running ?? false,
        stopping: s.child?.stopping ?? false,
        templateHash: s.templateHash,
        notBefore: s.notBefore,
      })),
      now,
    );
    for (const i of plan.stop) {
      const s = g.slots.get(i);
      if (!s?.child) continue;
      s.ready = false;
      this.say(`${g.name}-${i}: stopping (pid ${s.child.pid})`);
      void s.child.stop(this.opts.graceMs);
    }
    if (w) {
      for (const i of plan.start) if (!this.stopped) await this.startSlot(g, w, i);
    }
    // Slots above the desired count disappear once their process has exited.
    for (const s of [...g.slots.values()]) {
      if (s.index >= replicas && !s.child?.running) g.slots.delete(s.index);
    }
  }

  private async startSlot(g: Group, w: Workload, index: number): Promise<void> {
    let s = g.slots.get(index);
    if (!s) {
      s = {
        index,
        port: await freePort(),
        child: undefined,
        templateHash: w.templateHash,
        ready: false,
        probeFailures: 0,
        restarts: 0,
        crashes: 0,
        notBefore: 0,
      };
      g.slots.set(index, s);
    } else if (s.templateHash !== w.templateHash) {
      // A new template is a new pod as far as counters go.
      s.restarts = 0;
      s.crashes = 0;
    } else {
      s.restarts++;
    }
    const slot = s;
    const name = `${w.name}-${index}`;
    const env: NodeJS.ProcessEnv = {
      ...hostEnv(),
      ...this.opts.baseEnv,
      ...w.env,
      HTTP_PORT: String(slot.port),
      JETMESH_REPLICA: name,
      HOSTNAME: name,
    };
    // A .py script runs with python3 (services in other languages, e.g. notifications).
    const python = w.script.endsWith(".py");
    const child = new ManagedChild({
      name,
      command: python ? (process.env.PYTHON ?? "python3") : this.opts.nodePath,
      args: python ? [resolve(this.opts.rootDir, w.script), ...w.args] : ["--conditions=source", resolve(this.opts.rootDir, w.script), ...w.args],
      env,
      cwd: this.opts.rootDir,
      log: this.opts.log,
    });
    slot.child = child;
    slot.templateHash = w.templateHash;
    slot.ready = false;
    slot.probeFailures = 0;
    this.say(`${name}: started pid ${child.pid} on port ${slot.port}${slot.restarts ? ` (restart ${slot.restarts})` : ""}`);
    void child.exited.then((info) => {
      if (slot.child !== child) return;
      slot.ready = false;
      if (info.requested || this.stopped) return;
      const ranMs = Date.now() - child.startedAt;
      slot.crashes = ranMs >= CRASH_RESET_AFTER_MS ? 1 : slot.crashes + 1;
      const delay = restartDelayMs(slot.crashes);
      slot.notBefore = Date.now() + delay;
      this.say(`${name}: exited (${info.signal ?? `code ${info.code}`}) after ${ranMs} ms; restarting in ${delay} ms`);
      setTimeout(() => this.kick(), delay + 10).unref();
      this.kick();
    });
  }

  private async probe(g: Group): Promise<void> {
    await Promise.all(
      [...g.slots.values()].map(async (s) => {
        if (!s.child?.running || s.child.stopping) {
          s.ready = false;
          return;
        }
        let ok = false;
        try {
          const res = await fetch(`http://127.0.0.1:${s.port}/readyz`, { signal: AbortSignal.timeout(800) });
          await res.body?.cancel();
          ok = res.ok;
        } catch {
          ok = false;
        }
        // One slow answer on a busy machine does not take a replica out of the order proxy.
        s.probeFailures = ok ? 0 : s.probeFailures + 1;
        s.ready = ok || (s.ready && s.probeFailures < PROBE_FAILURE_THRESHOLD);
      }),
    );
  }

  private async writeStatus(g: Group): Promise<void> {
    const w = g.workload;
    if (!w) return;
    const status: DeploymentStatusView = deploymentStatus(
      w,
      [...g.slots.values()].map((s) => ({ alive: s.child?.running ?? false, ready: s.ready, templateHash: s.templateHash })),
    );
    const text = JSON.stringify(status);
    if (text === g.lastStatus) return;
    try {
      await this.apps.patchNamespacedDeploymentStatus(
        { name: w.name, namespace: w.namespace, body: { status } },
        k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
      );
      g.lastStatus = text;
    } catch (err) {
      // Deleted meanwhile or the API server restarting: the next pass writes it again.
      if (!this.stopped) this.say(`${w.key}: status write failed: ${errorText(err)}`);
    }
  }

  private writeState(): void {
    const snap = this.snapshot();
    const text = JSON.stringify(snap.workloads);
    if (text === this.lastSnapshot) return;
    this.lastSnapshot = text;
    if (this.opts.stateFile) {
      mkdirSync(dirname(this.opts.stateFile), { recursive: true });
      const tmp = `${this.opts.stateFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(snap, null, 2) + "\n");
      renameSync(tmp, this.opts.stateFile);
    }
    this.opts.onChange?.(snap);
  }

  private say(msg: string): void {
    if (this.opts.log.writable) this.opts.log.write(`${"runner".padEnd(12)} | ${msg}\n`);
  }
}

function errorText(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { code?: number; statusCode?: number; message?: string; body?: unknown };
    const code = e.code ?? e.statusCode;
    const body = typeof e.body === "string" ? e.body.slice(0, 200) : "";
    return `${code ? `HTTP ${code} ` : ""}${e.message ?? String(err)}${body && !e.message?.includes(body) ? ` ${body}` : ""}`;
  }
  return String(err);
}
