// Pure decisions of the dev process runner: what a Deployment asks to run, how many local
// processes it wants, which replica slots to start or stop, and how long to wait before
// restarting a crashed process.
import { createHash } from "node:crypto";

export const PART_OF_SELECTOR = "app.kubernetes.io/part-of=jetmesh";
export const DEV_COMMAND_ANNOTATION = "jetmesh.io/dev-command";

/** The subset of apps/v1 Deployment the runner reads. */
export interface DeploymentLike {
  metadata?: {
    name?: string;
    namespace?: string;
    generation?: number;
    annotations?: Record<string, string>;
    deletionTimestamp?: unknown;
  };
  spec?: {
    replicas?: number;
    template?: {
      metadata?: { annotations?: Record<string, string> };
      spec?: { containers?: { name?: string; env?: { name: string; value?: string; valueFrom?: unknown }[] }[] };
    };
  };
}

/** What the runner runs for one Deployment. */
export interface Workload {
  key: string; // <namespace>/<name>
  namespace: string;
  name: string;
  generation: number;
  replicas: number;
  /** Script to run with node, relative to the repository root, plus its arguments. */
  script: string;
  args: string[];
  env: Record<string, string>;
  /** Changes when the command or env change: processes of an older template are replaced. */
  templateHash: string;
}

export type WorkloadResult = { ok: true; workload: Workload } | { ok: false; key: string; reason: string };

/**
 * Reads a Deployment into a Workload. The command comes from the `jetmesh.io/dev-command`
 * annotation (on the Deployment or its pod template), env from the first container's plain
 * `value`s (`valueFrom` has no meaning outside a cluster and is reported, not guessed).
 */
export function workloadFromDeployment(d: DeploymentLike): WorkloadResult {
  const namespace = d.metadata?.namespace ?? "default";
  const name = d.metadata?.name ?? "";
  const key = `${namespace}/${name}`;
  const command = d.metadata?.annotations?.[DEV_COMMAND_ANNOTATION] ?? d.spec?.template?.metadata?.annotations?.[DEV_COMMAND_ANNOTATION];
  if (!command || !command.trim()) {
    return { ok: false, key, reason: `no ${DEV_COMMAND_ANNOTATION} annotation: the dev runner does not know what to run` };
  }
  const [script, ...args] = command.trim().split(/\s+/);
  if (!script) return { ok: false, key, reason: `empty ${DEV_COMMAND_ANNOTATION} annotation` };
  if (script.startsWith("/") || script.split("/").includes("..")) {
    return { ok: false, key, reason: `${DEV_COMMAND_ANNOTATION} must be a path inside the repository, got ${script}` };
  }
  const env: Record<string, string> = {};
  const container = d.spec?.template?.spec?.containers?.[0];
  for (const e of container?.env ?? []) {
    if (e.valueFrom !== undefined) {
      return { ok: false, key, reason: `env ${e.name} uses valueFrom, which the dev runner does not support` };
    }
    env[e.name] = e.value ?? "";
  }
  const replicas = Math.max(0, Math.floor(d.spec?.replicas ?? 1));
  const templateHash = createHash("sha256")
    .update(JSON.stringify({ script, args, env: Object.entries(env).sort() }))
    .digest("hex")
    .slice(0, 10);
  return {
    ok: true,
    workload: { key, namespace, name, generation: d.metadata?.generation ?? 0, replicas, script, args, env, templateHash },
  };
}

/** A replica slot as the planner sees it. */
export interface SlotView {
  index: number;
  /** A process is alive (possibly stopping). */
  alive: boolean;
  /** stop() was already requested. */
  stopping: boolean;
  templateHash: string;
  /** Earliest time (ms) a new process may start in this slot (crash backoff). */
  notBefore: number;
}

export interface SlotPlan {
  start: number[];
  stop: number[];
}

/**
 * Slots 0..replicas-1 should each have one live process of the current template; slots at or
 * above `replicas` are stopped (highest first, like a ReplicaSet scaling down newest pods).
 * A slot whose process runs an older template is stopped and restarted on a later pass.
 */
export function planSlots(replicas: number, templateHash: string, slots: SlotView[], now: number): SlotPlan {
  const byIndex = new Map(slots.map((s) => [s.index, s]));
  const start: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < replicas; i++) {
    const s = byIndex.get(i);
    if (!s) {
      start.push(i);
    } else if (s.alive) {
      if (!s.stopping && s.templateHash !== templateHash) stop.push(i);
    } else if (now >= s.notBefore) {
      start.push(i);
    }
  }
  const extra = slots.filter((s) => s.index >= replicas && s.alive && !s.stopping).map((s) => s.index);
  extra.sort((a, b) => b - a);
  stop.push(...extra);
  return { start, stop };
}

/**
 * Delay before restarting a crashed process: doubling from 500 ms up to 30 s, like a kubelet's
 * CrashLoopBackOff but shorter. A process that ran for `resetAfterMs` counts as healthy again.
 */
export function restartDelayMs(consecutiveCrashes: number): number {
  if (consecutiveCrashes <= 0) return 0;
  return Math.min(500 * 2 ** (consecutiveCrashes - 1), 30_000);
}

export const CRASH_RESET_AFTER_MS = 10_000;

/** The Deployment status the runner reports (what `kubectl get deploy` shows). */
export interface DeploymentStatusView {
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  unavailableReplicas: number;
}

export function deploymentStatus(
  w: Pick<Workload, "generation" | "replicas" | "templateHash">,
  slots: { alive: boolean; ready: boolean; templateHash: string }[],
): DeploymentStatusView {
  const alive = slots.filter((s) => s.alive);
  const ready = alive.filter((s) => s.ready).length;
  return {
    observedGeneration: w.generation,
    replicas: alive.length,
    updatedReplicas: alive.filter((s) => s.templateHash === w.templateHash).length,
    readyReplicas: ready,
    availableReplicas: ready,
    unavailableReplicas: Math.max(0, w.replicas - ready),
  };
}
