// Static checks of the chart's templates (there is no `helm` here; when there is, the
// rendered output is checked as well): balanced actions, only values that exist, only
// defined templates, known functions, hardened pods, least-privilege RBAC, and the env
// contract of docs/contracts.md.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { chartDir, isRecord, listFiles, loadYaml, readText, repoRoot, which } from "./chart.ts";
import {
  checkBalance,
  definedTemplates,
  includedTemplates,
  unknownFunctions,
  valuesPathExists,
  valuesReferences,
} from "./gotemplate.ts";

const templatesDir = join(chartDir, "templates");
const templates = readdirSync(templatesDir)
  .filter((f) => /\.(yaml|tpl|txt)$/.test(f))
  .sort()
  .map((f) => ({ name: f, text: readText(join(templatesDir, f)) }));
const values = loadYaml(join(chartDir, "values.yaml"));

function readOperatorSource(): string {
  const dir = join(repoRoot, "operator", "src");
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".ts"))
    .map((f) => readText(join(dir, f)))
    .join("\n");
}

describe("the template checker itself", () => {
  const cases: [string, string, string[]][] = [
    ["balanced blocks", "{{- if .a }}{{ range .b }}x{{ end }}{{- else }}y{{ end -}}", []],
    ["define with end", '{{- define "x" -}}a{{- end -}}', []],
    ["a missing end", "{{ if .a }}\n{{ with .b }}{{ end }}", ["line 1: if is never closed with end"]],
    ["an extra end", "{{ if .a }}{{ end }}\n{{ end }}", ["line 2: end without an open block"]],
    ["else outside a block", '{{ define "x" }}{{ else }}{{ end }}', ["line 1: else outside if/with/range"]],
    ["braces inside strings and comments", '{{/* {{ if */}}{{ printf "}}{{ if" }}', []],
  ];
  for (const [what, text, expected] of cases) {
    it(`balance: ${what}`, () => {
      expect(checkBalance(text).map((p) => `line ${p.line}: ${p.message}`)).toEqual(expected);
    });
  }
  it("finds .Values references, also through $", () => {
    expect(valuesReferences("{{ .Values.a.b | quote }} {{ $.Values.c }} {{ $x.Values }}").map((r) => r.path)).toEqual([
      "a.b",
      "c",
    ]);
  });
  it("knows which value paths exist", () => {
    const v = { a: { b: null, c: { d: 1 } } };
    expect([valuesPathExists(v, "a.b"), valuesPathExists(v, "a.c.d"), valuesPathExists(v, "a.x"), valuesPathExists(v, "a.c.d.e")]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
  it("flags misspelled functions, not variables or fields", () => {
    expect(unknownFunctions('{{- toYaml .x | nindnet 4 }}{{ $a := dict "k" 1 }}{{ else if eq .a "b" }}').map((u) => u.name)).toEqual([
      "nindnet",
    ]);
  });
});

describe("chart templates", () => {
  const defined = new Set(templates.flatMap((t) => definedTemplates(t.text)));

  for (const { name, text } of templates) {
    it(`${name}: actions balanced, values, includes and functions known`, () => {
      const problems = [
        ...checkBalance(text).map((p) => `line ${p.line}: ${p.message}`),
        ...valuesReferences(text)
          .filter((r) => !valuesPathExists(values, r.path))
          .map((r) => `line ${r.line}: .Values.${r.path} is not in values.yaml`),
        ...includedTemplates(text)
          .filter((i) => !defined.has(i.name))
          .map((i) => `line ${i.line}: include "${i.name}" is defined nowhere`),
        ...unknownFunctions(text).map((u) => `line ${u.line}: unknown function ${u.name}`),
      ];
      expect(problems).toEqual([]);
    });
  }

  it("every template that makes a workload sets the hardened pod and container securityContext", () => {
    const workloads = templates.filter((t) => /^kind:\s*(Deployment|StatefulSet|DaemonSet|Job|CronJob)\s*$/m.test(t.text));
    expect(workloads.map((t) => t.name).sort()).toEqual(["operator-deployment.yaml", "services.yaml"]);
    for (const { name, text } of workloads) {
      const podContexts = text.match(/^ {6}securityContext:\n\s+\{\{- toYaml \$?\.Values\.podSecurityContext /gm) ?? [];
      const containerContexts = text.match(/^ {10}securityContext:\n\s+\{\{- toYaml \$?\.Values\.containerSecurityContext /gm) ?? [];
      const containers = text.match(/^ {8}- name: /gm) ?? [];
      expect(podContexts.length, `${name}: pod securityContext`).toBe(1);
      expect(containerContexts.length, `${name}: one container securityContext per container`).toBe(containers.length);
      expect(text, `${name}: probes`).toContain('include "jetmesh.probes"');
      expect(text, `${name}: resources`).toMatch(/resources:\n\s+\{\{- toYaml/);
      expect(text, `${name}: a writable /tmp for a read-only root`).toContain('include "jetmesh.volumeMounts"');
    }
    const v = values as Record<string, Record<string, unknown>>;
    expect(v.podSecurityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(v.containerSecurityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("the services get exactly the pod env of docs/contracts.md", () => {
    const contracts = readText(join(repoRoot, "docs", "contracts.md"));
    const section = contracts.slice(contracts.indexOf("## Subscriber pod environment"), contracts.indexOf("## Metrics"));
    const contractEnv = new Set([...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
    const text = readText(join(templatesDir, "services.yaml")) + readText(join(templatesDir, "_helpers.tpl"));
    const chartEnv = new Set([...text.matchAll(/- name: ([A-Z][A-Z0-9_]+)\n/g)].map((m) => m[1]));
    expect([...chartEnv].filter((e) => !contractEnv.has(e))).toEqual([]);
    expect([...contractEnv].filter((e) => !chartEnv.has(e))).toEqual([]);
  });

  it("the operator's RBAC is the documented least-privilege set, in one template", () => {
    const rbac = loadYaml(join(chartDir, "files", "operator-rbac.yaml")) as Record<string, { apiGroups: string[]; resources: string[]; verbs: string[] }[]>;
    const grants = (rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] | undefined) =>
      (rules ?? []).flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)))).sort();
    const all = [...grants(rbac.resourceRules), ...grants(rbac.leaderElectionRules)];
    // No wildcard, no delete, no write on anything the operator only reads.
    expect(all.filter((g) => g.includes("*"))).toEqual([]);
    expect(all.filter((g) => /:(delete|deletecollection|escalate|bind|impersonate)$/.test(g))).toEqual([]);
    expect(all.filter((g) => g.startsWith("apps/deployments:") && !/:(get|list|watch)$/.test(g))).toEqual([]);
    expect(grants(rbac.leaderElectionRules)).toEqual([
      "coordination.k8s.io/leases:create",
      "coordination.k8s.io/leases:get",
      "coordination.k8s.io/leases:update",
    ]);
    // Each granted resource is one the operator's code names (NATS credentials come from
    // mounted files, so no Secrets).
    const operatorSource = readOperatorSource();
    // The optional rules for scaling.mode keda/hpa touch only those two kinds.
    expect(grants(rbac.renderedScalerRules).map((g) => g.split(":")[0]).sort()).toEqual([
      ...Array(4).fill("autoscaling/horizontalpodautoscalers"),
      ...Array(4).fill("keda.sh/scaledobjects"),
    ]);
    for (const rule of [...(rbac.resourceRules ?? []), ...(rbac.leaderElectionRules ?? []), ...(rbac.renderedScalerRules ?? [])]) {
      for (const res of rule.resources) {
        expect(operatorSource, `operator/src uses ${res}`).toMatch(new RegExp(`\\b${res.split("/")[0]}\\b`));
      }
    }
    expect(all.filter((g) => g.includes("secrets"))).toEqual([]);
    const rbacTemplates = templates.filter((t) => /kind: (Cluster)?Role\n/.test(t.text));
    expect(rbacTemplates.map((t) => t.name)).toEqual(["operator-rbac.yaml"]);
  });
});

// With a real `helm`, render the chart with every example and check the output too.
const helm = which("helm");
describe.skipIf(!helm)("helm lint and helm template (needs helm on PATH)", () => {
  const exampleFiles = [join(chartDir, "values.yaml"), ...listFiles(join(chartDir, "examples"), ".yaml")];
  it("helm dependency build, helm lint", () => {
    if (!existsSync(join(chartDir, "charts"))) {
      // The NATS dependency is fetched, never vendored; helm needs its repository added.
      execFileSync(helm!, ["repo", "add", "nats", "https://nats-io.github.io/k8s/helm/charts/", "--force-update"], { stdio: "pipe", timeout: 60_000 });
      execFileSync(helm!, ["dependency", "build", chartDir], { stdio: "pipe", timeout: 120_000 });
    }
    execFileSync(helm!, ["lint", "--strict", chartDir], { stdio: "pipe" });
  });
  for (const file of exampleFiles) {
    it(`helm template -f ${basename(file)}: hardened workloads, contract env`, () => {
      const out = execFileSync(helm!, ["template", "jetmesh", chartDir, "-n", "shop", "-f", file], { encoding: "utf8", maxBuffer: 64 << 20 });
      const docs = parseAllDocuments(out).map((d) => d.toJS() as unknown).filter(isRecord);
      const ours = docs.filter((d) => isRecord(d.metadata) && isRecord(d.metadata.labels) && d.metadata.labels["app.kubernetes.io/part-of"] === "jetmesh");
      for (const doc of ours.filter((d) => d.kind === "Deployment")) {
        const pod = ((doc.spec as Record<string, unknown>).template as Record<string, Record<string, unknown>>).spec!;
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        for (const c of pod.containers as Record<string, unknown>[]) {
          expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
          expect(c).toHaveProperty("readinessProbe");
          expect(c).toHaveProperty("livenessProbe");
        }
      }
    });
  }
});
if (!helm) {
  describe("helm lint and helm template", () => {
    it.skip("SKIPPED: helm not on PATH (no helm on development machines; .github/workflows/e2e.yml runs the real one)", () => {});
  });
  console.log("SKIPPED: helm not on PATH — helm lint / helm template not run; static template checks ran instead");
}
