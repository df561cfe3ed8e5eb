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

/**
 * Renders the chart with real helm, release `jetmesh` in namespace `shop`. A value the chart
 * refuses (`required`, `fail`, a schema violation) throws helm's own message.
 */
export function renderChart(overlay: unknown = {}): { objects: Obj[]; notes: string } {
  const key = JSON.stringify(overlay);
  const known = cache.get(key);
  if (known) return known;
  const valuesFile = join(scratch, `values-${cache.size}.yaml`);
  writeFileSync(valuesFile, stringify(overlay ?? {}));
  let out: string;
  try {
    out = execFileSync(helmBinary(4), ["install", "jetmesh", offlineChart(), "-n", "shop", "--dry-run=client", "-o", "json", "-f", valuesFile], {
      encoding: "utf8",
      env: helmEnv,
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm refused the values: ${e.stderr || e.message}`);
  }
  const release = JSON.parse(out) as { manifest: string; info: { notes?: string } };
  const rendered = { objects: parseManifest(release.manifest), notes: release.info.notes ?? "" };
  cache.set(key, rendered);
  return rendered;
}
