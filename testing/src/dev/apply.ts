// Applying manifests to the dev API server: with the real `kubectl apply` when it is on PATH
// (the same path a user takes), otherwise with @kubernetes/client-node (create, or merge-patch
// what exists).
import { spawn, spawnSync } from "node:child_process";
import * as k8s from "@kubernetes/client-node";
import type { Manifest } from "./manifests.ts";

export function kubectlAvailable(bin = "kubectl"): boolean {
  const r = spawnSync(bin, ["version", "--client"], { stdio: "ignore", timeout: 10_000 });
  return r.status === 0;
}

/** `kubectl apply -f <path>` for each path; resolves with kubectl's output, rejects with its stderr. */
export function kubectlApply(kubeconfig: string, paths: string[], bin = "kubectl"): Promise<string> {
  const args = ["--kubeconfig", kubeconfig, "apply", ...paths.flatMap((p) => ["-f", p])];
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBECONFIG: kubeconfig } });
    let out = "";
    let err = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr.on("data", (b: Buffer) => (err += b.toString()));
    p.once("error", reject);
    p.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(" ")} failed (exit ${code}):\n${err || out}`))));
  });
}

/** Creates each object, or merge-patches it when it exists (`preserve` lists spec fields an existing object keeps). */
export async function clientApply(kc: k8s.KubeConfig, manifests: Manifest[], preserve: string[] = []): Promise<string[]> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  const done: string[] = [];
  for (const m of manifests) {
    const id = `${m.kind.toLowerCase()}/${m.metadata.name}`;
    let exists = true;
    try {
      await api.read({
        apiVersion: m.apiVersion,
        kind: m.kind,
        metadata: { name: m.metadata.name, namespace: m.metadata.namespace },
      } as k8s.KubernetesObject & {
        metadata: { name: string; namespace: string };
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      exists = false;
    }
    if (!exists) {
      await api.create(m as k8s.KubernetesObject);
      done.push(`${id} created`);
      continue;
    }
    const patch = structuredClone(m);
    if (patch.spec) for (const f of preserve) delete patch.spec[f];
    await api.patch(patch as k8s.KubernetesObject, undefined, undefined, "jetmesh-dev", undefined, k8s.PatchStrategy.MergePatch);
    done.push(`${id} configured`);
  }
  return done;
}

/** Retries `fn` while the API server does not know a just-created CRD yet (bounded). */
export async function retryUntilKnown<T>(what: string, fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const msg = (err as Error).message ?? "";
      const unknownKind = /no matches for kind|could not find the requested resource|ensure CRDs are installed|Unrecognized API version|404/i.test(msg);
      if (!unknownKind || Date.now() > deadline) throw new Error(`${what}: ${msg}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
