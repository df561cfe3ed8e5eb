// Real helm (v4, and v3 for the compatibility checks) for the chart tests, from the pinned
// tools cache (tools/ensure.sh kubectl).
//
// Offline, helm refuses a chart whose `dependencies` are missing from charts/ — even when the
// dependency's condition is false — and the official NATS chart cannot be fetched here. So
// the tests work on a temporary copy of the chart whose Chart.yaml lists no dependencies:
// every template of ours renders the same, and the values that would go to the subchart
// (`nats:`) are simply unused. Installs with `nats.enabled: true` need the real subchart
// (`helm dependency build`, done by `make deploy` on a machine that reaches the NATS chart
// repository) and are exercised by the kind workflow (.github/workflows/e2e.yml).
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { toolPath } from "@jetmesh/testing";
import { chartDir } from "./chart.ts";

export type HelmVersion = 3 | 4;

let offlineCopy: string | undefined;

/** A copy of charts/jetmesh without the `nats` dependency (see the header comment). */
export function offlineChart(): string {
  if (offlineCopy) return offlineCopy;
  const dir = join(mkdtempSync(join(tmpdir(), "jetmesh-chart-")), "jetmesh");
  cpSync(chartDir, dir, { recursive: true, filter: (src) => !src.startsWith(join(chartDir, "test")) });
  const chart = parse(readFileSync(join(dir, "Chart.yaml"), "utf8")) as Record<string, unknown>;
  delete chart.dependencies;
  writeFileSync(join(dir, "Chart.yaml"), stringify(chart));
  offlineCopy = dir;
  return dir;
}

export function helmBinary(version: HelmVersion = 4): string {
  return toolPath(version === 4 ? "helm" : "helm3");
}

// helm keeps its caches and repository config under $HOME unless told otherwise; a test must
// not read or write the user's.
const helmHome = mkdtempSync(join(tmpdir(), "jetmesh-helm-home-"));
export const helmEnv = {
  ...process.env,
  HELM_CACHE_HOME: join(helmHome, "cache"),
  HELM_CONFIG_HOME: join(helmHome, "config"),
  HELM_DATA_HOME: join(helmHome, "data"),
};

/** `helm template` of the offline chart; throws helm's own error message on failure. */
export function helmTemplate(args: string[], version: HelmVersion = 4): string {
  try {
    return execFileSync(helmBinary(version), ["template", ...args], { encoding: "utf8", env: helmEnv, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${version} template ${args.join(" ")}: ${e.stderr || e.message}`);
  }
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Any helm command, asynchronously (installs talk to an API server). */
export function helm(args: string[], opts: { version?: HelmVersion; kubeconfig?: string; timeoutMs?: number } = {}): Promise<HelmResult> {
  const base = opts.kubeconfig ? ["--kubeconfig", opts.kubeconfig] : [];
  return new Promise((resolve) => {
    execFile(
      helmBinary(opts.version ?? 4),
      [...base, ...args],
      { env: helmEnv, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
