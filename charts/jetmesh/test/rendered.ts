// The chart rendered like `helm template jetmesh charts/jetmesh -n shop -f <overlay>`, by
// the Go-template subset renderer in render.ts, for the tests that check its output.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { chartDir, isRecord, loadYaml, mergeValues, readText } from "./chart.ts";
import { ChartRenderer } from "./render.ts";

// Rendered manifests are checked field by field; a loose type keeps that readable.
export type Obj = Record<string, any>;

const defaults = loadYaml(join(chartDir, "values.yaml"));
const chart = loadYaml(join(chartDir, "Chart.yaml")) as { name: string; version: string; appVersion: string };

export function chartFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of ["files", "dashboards"]) {
    for (const f of readdirSync(join(chartDir, dir))) files.set(`${dir}/${f}`, readText(join(chartDir, dir, f)));
  }
  return files;
}

export function templateSources(): Map<string, string> {
  const dir = join(chartDir, "templates");
  return new Map(readdirSync(dir).map((f) => [f, readText(join(dir, f))]));
}

/** Renders every template like `helm template jetmesh charts/jetmesh -n shop -f <overlay>`. */
export function renderChart(overlay: unknown = {}): { objects: Obj[]; notes: string } {
  const values = mergeValues(defaults, overlay) as Record<string, unknown>;
  const renderer = new ChartRenderer(templateSources(), {
    values,
    release: { Name: "jetmesh", Namespace: "shop" },
    chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    files: chartFiles(),
  });
  const objects: Obj[] = [];
  let notes = "";
  for (const name of templateSources().keys()) {
    if (name.startsWith("_")) continue;
    const out = renderer.render(name);
    if (name === "NOTES.txt") {
      notes = out;
      continue;
    }
    // YAML 1.1, as Kubernetes and Helm parse it (go-yaml v2): 0400 is octal, "on" a bool.
    for (const doc of parseAllDocuments(out, { version: "1.1" })) {
      if (doc.errors.length) throw new Error(`${name}: invalid YAML: ${doc.errors[0]!.message}\n${out}`);
      const obj = doc.toJS() as unknown;
      if (obj === null || obj === undefined) continue;
      if (!isRecord(obj)) throw new Error(`${name}: a document that is not an object:\n${out}`);
      objects.push({ ...obj, __template: name });
    }
  }
  return { objects, notes };
}

