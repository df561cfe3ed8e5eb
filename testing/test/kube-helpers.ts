// Helpers for the Kubernetes API test server's acceptance tests: run the real kubectl.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toolPath } from "@jetmesh/testing";

export const KUBECTL = toolPath("kubectl");
export const fixture = (name: string): string => join(import.meta.dirname, "fixtures", name);

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A kubectl bound to one kubeconfig, with its own discovery cache directory. */
export function kubectlFor(kubeconfig: string): {
  run(args: string[], input?: string): Promise<KubectlResult>;
  ok(args: string[], input?: string): Promise<string>;
  spawn(args: string[]): ChildProcess;
} {
  const cache = mkdtempSync(join(tmpdir(), "kubectl-cache-"));
  const base = ["--kubeconfig", kubeconfig, "--cache-dir", cache];
  const run = (args: string[], input?: string) =>
    new Promise<KubectlResult>((resolve) => {
      const child = execFile(KUBECTL, [...base, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  return {
    run,
    async ok(args, input) {
      const r = await run(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    spawn: (args) => spawn(KUBECTL, [...base, ...args], { stdio: ["ignore", "pipe", "pipe"] }),
  };
}
