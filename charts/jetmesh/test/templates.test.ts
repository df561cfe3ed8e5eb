// The chart's templates: `helm lint --strict` with helm 3 and 4 and every example values
// file, the same output from both, hardened pods, least-privilege RBAC, and the env contract
// of docs/contracts.md.
import { execFileSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { chartDir, listFiles, loadYaml, readText, repoRoot } from "./chart.ts";
import { helmBinary, helmEnv, helmTemplate, offlineChart } from "./helm.ts";
import { parseManifest, type Obj } from "./rendered.ts";

function helmRun(version: 3 | 4, args: string[]): string {
  try {
    return execFileSync(helmBinary(version), args, { encoding: "utf8", env: helmEnv, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`helm ${version} ${args.join(" ")}:\n${e.stdout ?? ""}${e.stderr || e.message}`);
  }
}

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

describe("chart templates", () => {
  for (const version of [4, 3] as const) {
    for (const file of [join(chartDir, "values.yaml"), ...listFiles(join(chartDir, "examples"), ".yaml")]) {
      it(`helm ${version} lint --strict -f ${basename(file)}`, () => {
        const out = helmRun(version, ["lint", "--strict", offlineChart(), "-n", "shop", "-f", file]);
        expect(out).toContain("1 chart(s) linted, 0 chart(s) failed");
      });
    }
  }

  it("helm 3 and helm 4 render the same objects", () => {
    for (const file of [join(chartDir, "values.yaml"), ...listFiles(join(chartDir, "examples"), ".yaml")]) {
      // Generated secrets (randAlphaNum) differ from render to render: compare their keys only.
      const comparable = (o: Obj) => (o.kind === "Secret" && o.data ? { ...o, data: Object.keys(o.data).sort() } : o);
      const byVersion = ([3, 4] as const).map((v) =>
        parseManifest(helmTemplate(["jetmesh", offlineChart(), "-n", "shop", "-f", file], v)).map(({ __template: _t, ...o }) => comparable(o)),
      );
      expect(byVersion[0], basename(file)).toEqual(byVersion[1]);
    }
  });

  it("every template that makes a workload sets the hardened pod and container securityContext", () => {
    const workloads = templates.filter((t) => /^kind:\s*(Deployment|StatefulSet|DaemonSet|Job|CronJob)\s*$/m.test(t.text));
    expect(workloads.map((t) => t.name).sort()).toEqual(["edge.yaml", "operator-deployment.yaml", "services.yaml"]);
    for (const { name, text } of workloads) {
      const deployments = (text.match(/^kind:\s*Deployment\s*$/gm) ?? []).length;
      const podContexts = text.match(/^ {6}securityContext:\n\s+\{\{- toYaml \$?\.Values\.podSecurityContext /gm) ?? [];
      const containerContexts = text.match(/^ {10}securityContext:\n\s+\{\{- toYaml \$?\.Values\.containerSecurityContext /gm) ?? [];
      const containers = text.match(/^ {8}- name: /gm) ?? [];
      expect(podContexts.length, `${name}: pod securityContext`).toBe(deployments);
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
    expect(
      grants(rbac.renderedScalerRules)
        .map((g) => g.split(":")[0])
        .sort(),
    ).toEqual([...Array(6).fill("autoscaling/horizontalpodautoscalers"), ...Array(6).fill("keda.sh/scaledobjects")]);
    for (const rule of [...(rbac.resourceRules ?? []), ...(rbac.leaderElectionRules ?? []), ...(rbac.renderedScalerRules ?? [])]) {
      for (const res of rule.resources) {
        expect(operatorSource, `operator/src uses ${res}`).toMatch(new RegExp(`\\b${res.split("/")[0]}\\b`));
      }
    }
    expect(all.filter((g) => g.includes("secrets"))).toEqual([]);
    const rbacTemplates = templates.filter((t) => /kind: (Cluster)?Role\n/.test(t.text));
    // The operator's roles in one template; beside it only the cluster users' aggregated
    // roles, which grant nothing outside jetmesh.io.
    expect(rbacTemplates.map((t) => t.name)).toEqual(["aggregate-roles.yaml", "operator-rbac.yaml"]);
    const aggregated = rbacTemplates.find((t) => t.name === "aggregate-roles.yaml")!.text;
    expect([...aggregated.matchAll(/apiGroups: \[(.*)\]/g)].map((m) => m[1])).toEqual(['"jetmesh.io"', '"jetmesh.io"']);
  });
});

// The edge on, with the ingress's NATS user's types (nats.jetmeshAuth.ingress.types).
const EDGE_ON =
  "edge:\n  ingress: {enabled: true, tokensSecret: ingress-tokens}\n  dispatchers: {enabled: true}\nnotifications: {enabled: true}\nnats: {jetmeshAuth: {ingress: {types: [shop.>]}}}\n";

describe("the HTTP edge (docs/http.md)", () => {
  const render = (values: string): Obj[] => {
    const file = join(offlineChart(), "..", `edge-values-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, values);
    return parseManifest(helmTemplate(["jetmesh", offlineChart(), "-n", "shop", "-f", file]));
  };
  const env = (o: Obj | undefined) =>
    Object.fromEntries(((o?.spec.template.spec.containers[0].env ?? []) as { name: string; value?: string }[]).map((e) => [e.name, e.value]));

  it("is off by default", () => {
    const names = render("{}\n")
      .filter((o) => o.kind === "Deployment")
      .map((o) => o.metadata.name as string);
    expect(names.filter((n) => n === "jetmesh-ingress" || n.endsWith("notifications") || n.endsWith("-dispatcher"))).toEqual([]);
  });

  it("renders the ingress, a dispatcher per HTTP subscription and the notifications service with its subscription", () => {
    const objs = render(EDGE_ON);
    const deploy = (name: string) => objs.find((o) => o.kind === "Deployment" && o.metadata.name === name);
    expect(deploy("jetmesh-ingress")?.spec.template.spec.containers[0].args).toEqual(["node", "dist/main.js", "ingress"]);
    expect(env(deploy("jetmesh-ingress"))).toMatchObject({
      INGRESS_TOKENS_FILE: "/etc/jetmesh/ingress/tokens.json",
      INGRESS_SCHEMAS_DIR: "/app/services/shop/schemas,/app/services/notifications/schemas",
    });
    expect(deploy("jetmesh-notifications-dispatcher")?.spec.template.spec.containers[0].args).toEqual(["node", "dist/main.js", "dispatcher"]);
    expect(env(deploy("jetmesh-notifications-dispatcher"))).toMatchObject({
      JETMESH_STREAM: "shop_events",
      JETMESH_CONSUMER: "shop_notifications",
      JETMESH_DEAD_LETTER_SUBJECT: "jetmesh.dlq.shop.notifications",
      DISPATCH_URL: "http://jetmesh-notifications.shop.svc:8080/events",
      DISPATCH_TIMEOUT: "10s",
      DISPATCH_REPLY_TYPES: "shop.notification.sent.v1",
      CONCURRENCY: "64",
      // The reply's schema (shop.notification.sent.v1) ships in the edge image (images.test.ts).
      DISPATCH_SCHEMAS_DIR: "/app/services/shop/schemas,/app/services/notifications/schemas",
    });
    expect(deploy("jetmesh-notifications")?.spec.template.spec.containers[0].image).toMatch(/jetmesh-notifications:/);
    // With tracing on, the ingress and the dispatchers (Node, the runtime's spans) export too.
    const traced = render(`${EDGE_ON}tracing: {otlpEndpoint: "http://collector:4318"}\n`);
    const tdeploy = (name: string) => traced.find((o) => o.kind === "Deployment" && o.metadata.name === name);
    expect(env(tdeploy("jetmesh-ingress"))).toMatchObject({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_SERVICE_NAME: "jetmesh-ingress" });
    expect(env(tdeploy("jetmesh-notifications-dispatcher"))).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_SERVICE_NAME: "notifications-dispatcher",
    });
    expect(objs.find((o) => o.kind === "EventSubscription" && o.metadata.name === "notifications")?.spec.subscriber.http.service).toBe("jetmesh-notifications");
    // The subscription scales the renamed Deployment, and the Service it pushes to selects its pods.
    expect(objs.find((o) => o.kind === "EventSubscription" && o.metadata.name === "notifications")?.spec.subscriber.deployment).toBe("jetmesh-notifications");
    const svc = objs.find((o) => o.kind === "Service" && o.metadata.name === "jetmesh-notifications");
    expect(deploy("jetmesh-notifications")?.spec.template.metadata.labels).toMatchObject(svc?.spec.selector);
  });

  it("refuses an enabled ingress without its tokens Secret, naming the value", () => {
    expect(() => render("edge:\n  ingress: {enabled: true}\nnats: {jetmeshAuth: {ingress: {types: [shop.>]}}}\n")).toThrow(/edge.ingress.tokensSecret/);
  });

  it("with the generated NATS users, refuses an edge Deployment whose least-privilege user is not declared (docs/http.md#nats-users)", () => {
    expect(() => render("edge:\n  ingress: {enabled: true, tokensSecret: t}\n")).toThrow(/nats\.jetmeshAuth\.ingress\.types/);
    expect(() =>
      render("edge:\n  dispatchers: {enabled: true}\nnotifications: {enabled: true}\nnats: {jetmeshAuth: {dispatchers: {notifications: {stream: other}}}}\n"),
    ).toThrow(/nats\.jetmeshAuth\.dispatchers\.notifications .*set it to \{"replyTypes":\["shop\.notification\.sent\.v1"\],"stream":"events"\}/);
    // With the edge's own credential (or a shared one) the chart has nothing to check.
    const own = render(
      "edge:\n  natsAuth: {type: userPassword, secretName: edge-nats}\n  ingress: {enabled: true, tokensSecret: t}\n  dispatchers: {enabled: true}\nnotifications: {enabled: true}\nnats: {jetmeshAuth: {dispatchers: {}}}\n",
    );
    const user = (name: string) =>
      (own.find((o) => o.kind === "Deployment" && o.metadata.name === name)?.spec.template.spec.containers[0].env as Obj[]).find((e) => e.name === "NATS_USER")
        ?.valueFrom.secretKeyRef.name;
    expect([user("jetmesh-ingress"), user("jetmesh-notifications-dispatcher")]).toEqual(["edge-nats", "edge-nats"]);
  });
});
