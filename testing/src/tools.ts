// Where the pinned tools live: kube-apiserver, kube-controller-manager, etcd, nats-server, the
// nats CLI, kubectl and helm 3/4, jaeger. tools/ensure.sh builds or fetches them into a cache outside
// the clone (~/.cache/jetmesh) and prints their folders; `make test` runs it once up front, so
// here it answers from the cache at once. Run directly (a single `vitest run` file), a cold
// cache is built on first use, its progress lines going to stderr.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export type Tool = "kube-apiserver" | "kube-controller-manager" | "etcd" | "nats-server" | "nats" | "kubectl" | "helm" | "helm3" | "jaeger";

const ENSURE = fileURLToPath(new URL("../../tools/ensure.sh", import.meta.url));

// Which tool set of ensure.sh holds a tool, its file name there, and the env variable that
// overrides it (a path to a binary).
const TOOLS: Record<Tool, { set: string; file: string; env: string }> = {
  "kube-apiserver": { set: "k8s", file: "kube-apiserver", env: "KUBE_APISERVER_BIN" },
  "kube-controller-manager": { set: "k8s", file: "kube-controller-manager", env: "KUBE_CONTROLLER_MANAGER_BIN" },
  etcd: { set: "etcd", file: "etcd", env: "ETCD_BIN" },
  "nats-server": { set: "nats", file: "nats-server", env: "NATS_SERVER_BIN" },
  nats: { set: "nats", file: "nats", env: "NATS_BIN" },
  kubectl: { set: "kubectl", file: "kubectl", env: "KUBECTL" },
  helm: { set: "kubectl", file: "helm", env: "HELM" },
  helm3: { set: "helm3", file: "helm", env: "HELM3" },
  jaeger: { set: "jaeger", file: "jaeger", env: "JAEGER_BIN" },
};

const dirs = new Map<string, string>();

function setDir(set: string): string {
  const known = dirs.get(set);
  if (known) return known;
  // `kubectl` prints both the kubectl (helm 4) and the helm3 folders.
  const out = execFileSync("bash", [ENSURE, set === "helm3" ? "kubectl" : set], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  for (const line of out.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) dirs.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const dir = dirs.get(set);
  if (!dir) throw new Error(`tools/ensure.sh ${set} printed no folder for ${set}:\n${out}`);
  return dir;
}

/**
 * The path of a pinned tool if it is at hand (its env override, or built in the cache), else
 * undefined: for what uses a tool only when present (`make dev`'s Jaeger), never building it.
 */
export function toolPathIfBuilt(tool: Tool): string | undefined {
  const t = TOOLS[tool];
  const override = process.env[t.env];
  if (override) return existsSync(override) ? override : undefined;
  const out = execFileSync("bash", [ENSURE, t.set], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, JETMESH_TOOLS_NO_BUILD: "1" },
  });
  const dir = out
    .split("\n")
    .find((l) => l.startsWith(`${t.set}=`))
    ?.slice(t.set.length + 1);
  return dir && existsSync(join(dir, t.file)) ? join(dir, t.file) : undefined;
}

/** The path of a pinned tool: its env override, else the tools cache (built on first use). */
export function toolPath(tool: Tool): string {
  const t = TOOLS[tool];
  const override = process.env[t.env];
  if (override) return override;
  const path = join(setDir(t.set), t.file);
  if (!existsSync(path)) throw new Error(`${tool}: ${path} is missing; remove its cache folder and run tools/ensure.sh ${t.set}`);
  return path;
}
