// The chart rendered by real helm (v4) like `helm install jetmesh charts/jetmesh -n shop -f
// <overlay> --dry-run=client`, for the tests that check its output. Rendering is cached per
// overlay, since many tests look at the same output.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { parseAllDocuments, stringify } from "yaml";
import { isRecord } from "./chart.ts";
import { helmBinary, helmEnv, offlineChart } from "./helm.ts";

// Rendered manifests are checked field by field; a loose type keeps that readable.
export type Obj = Record<string, any>;

const cache = new Map<string, { objects: Obj[]; notes: string }>();
const scratch = mkdtempSync(join(tmpdir(), "jetmesh-values-"));

/** Parses helm's manifest stream; each object gets `__template` from helm's `# Source:` line. */
export function parseManifest(manifest: string): Obj[] {
  const objects: Obj[] = [];
  for (const chunk of manifest.split(/^---\s*$/m)) {
    const source = /^# Source: [^/]+\/(.+)$/m.exec(chunk)?.[1] ?? "";
    // YAML 1.1, as Kubernetes and Helm parse it (go-yaml): 0400 is octal, "on" a bool.
    for (const doc of parseAllDocuments(chunk, { version: "1.1" })) {
      if (doc.errors.length) throw new Error(`${source}: invalid YAML: ${doc.errors[0]!.message}\n${chunk}`);
      const obj = doc.toJS() as unknown;
      if (obj === null || obj === undefined) continue;
      if (!isRecord(obj)) throw new Error(`${source}: a document that is not an object:\n${chunk}`);
      objects.push({ ...obj, __template: source.replace(/^templates\//, "") });
    }
  }
  return objects;
}

function helmOut(args: string[]): string {
  try {
    return execFileSync(helmBinary(4), args, { encoding: "utf8", env: helmEnv, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm refused the values: ${e.stderr || e.message}`);
  }
}

/**
 * Renders the chart with real helm, release `jetmesh` in namespace `shop`. A value the chart
 * refuses (`required`, `fail`, a schema violation) throws helm's own message. The objects come
 * from `helm template` for a cluster that serves `apiVersions` (by default the Prometheus
 * Operator's monitoring.coreos.com/v1, as with kube-prometheus-stack), without the `helm test`
 * hooks; the NOTES from `helm install --dry-run=client`, which knows no API beyond the built-in
 * ones (so its NOTES are those of a cluster without monitoring.coreos.com/v1).
 */
export function renderChart(overlay: unknown = {}, opts: { apiVersions?: string[] } = {}): { objects: Obj[]; notes: string } {
  const apiVersions = opts.apiVersions ?? ["monitoring.coreos.com/v1"];
  const key = JSON.stringify([overlay, apiVersions]);
  const known = cache.get(key);
  if (known) return known;
  const valuesFile = join(scratch, `values-${cache.size}.yaml`);
  writeFileSync(valuesFile, stringify(overlay ?? {}));
  const manifest = helmOut([
    "template",
    "jetmesh",
    offlineChart(),
    "-n",
    "shop",
    "--skip-tests",
    "-f",
    valuesFile,
    ...apiVersions.flatMap((v) => ["--api-versions", v]),
  ]);
  const release = JSON.parse(helmOut(["install", "jetmesh", offlineChart(), "-n", "shop", "--dry-run=client", "-o", "json", "-f", valuesFile])) as {
    info: { notes?: string };
  };
  const rendered = { objects: parseManifest(manifest), notes: release.info.notes ?? "" };
  cache.set(key, rendered);
  return rendered;
}
