// The chart rendered by real helm (test/rendered.ts)
// with its defaults and every example values file, and the output checked the way a cluster
// would see it: valid YAML objects in the right namespace, hardened pods whose mounts,
// probes and env are consistent, Services/PDBs/ServiceMonitors/NetworkPolicies that select
// the pods they mean, the shop's resources valid against the CRDs, the RBAC from its file.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { chartDir, isRecord, listFiles, loadYaml, loadYamlDocuments, mergeValues, readText, repoRoot } from "./chart.ts";
import { parseManifest, renderChart, type Obj } from "./rendered.ts";
import { helmTemplate, offlineChart } from "./helm.ts";
import { K8S_SCHEMAS } from "./k8s-schemas.ts";
import { parseConfig as operatorConfig } from "../../../operator/src/config.ts";
import { parseBaseConfig } from "../../../services/mesh/src/config.ts";
import { orderConfig } from "../../../services/order/src/config.ts";
import { inventoryConfig } from "../../../services/inventory/src/config.ts";
import { paymentConfig } from "../../../services/payment/src/config.ts";
import { shippingConfig } from "../../../services/shipping/src/config.ts";

const defaults = loadYaml(join(chartDir, "values.yaml"));

describe("the strict kind schemas", () => {
  it("refuse a misspelled field", () => {
    const validate = new Ajv({ strict: false }).compile(K8S_SCHEMAS.Deployment!);
    const d = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: { selector: {}, template: { spec: { containers: [{ name: "x", image: "i", readinessProbes: {} }] } } },
    };
    expect(validate(d)).toBe(false);
    d.spec.template.spec.containers[0] = { name: "x", image: "i" } as never;
    expect(validate(d)).toBe(true);
  });
});

const examples = listFiles(join(chartDir, "examples"), ".yaml");
const crdValidators = (() => {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const byKind = new Map<string, ReturnType<typeof ajv.compile>>();
  for (const f of listFiles(join(repoRoot, "crds"), ".yaml")) {
    for (const crd of loadYamlDocuments(f) as Obj[]) byKind.set(crd.spec.names.kind, ajv.compile(crd.spec.versions[0].schema.openAPIV3Schema));
  }
  return byKind;
})();
const k8sAjv = new Ajv({ strict: false, allErrors: true });
const contractEnv = (() => {
  const c = readText(join(repoRoot, "docs", "contracts.md"));
  return new Set([...c.slice(c.indexOf("## Subscriber pod environment"), c.indexOf("## Metrics")).matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
})();

function labelsMatch(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

for (const [name, overlay] of [["values.yaml", {}] as const, ...examples.map((f) => [`examples/${basename(f)}`, loadYaml(f)] as const)]) {
  describe(`rendered with ${name}`, () => {
    const { objects, notes } = renderChart(overlay);
    const values = mergeValues(defaults, overlay) as Obj;
    const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
    const deployments = byKind("Deployment");

    it("renders objects with apiVersion, kind, a DNS name and the release namespace", () => {
      expect(objects.length).toBeGreaterThan(0);
      const clusterScoped = new Set(["ClusterRole", "ClusterRoleBinding"]);
      for (const o of objects) {
        const where = `${o.__template}: ${o.kind} ${o.metadata?.name}`;
        expect(typeof o.apiVersion, where).toBe("string");
        expect(o.metadata?.name, where).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        if (clusterScoped.has(o.kind)) expect(o.metadata.namespace, where).toBeUndefined();
        else
          expect(o.metadata.namespace, where).toBe(
            o.kind === "ConfigMap" && values.monitoring.grafanaDashboards.namespace ? values.monitoring.grafanaDashboards.namespace : "shop",
          );
        expect(o.metadata.labels?.["app.kubernetes.io/part-of"], where).toBe("jetmesh");
      }
      const keys = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(keys).size, "no duplicate objects").toBe(keys.length);
    });

    it("every object validates against the (strict) schema of its kind", () => {
      for (const o of objects) {
        const { __template: _t, ...plain } = o;
        if (o.kind === "EventStream" || o.kind === "EventSubscription") continue; // CRD schemas, below
        const schema = K8S_SCHEMAS[o.kind];
        expect(schema, `a schema for ${o.kind}`).toBeDefined();
        const validate = k8sAjv.compile(schema!);
        expect(validate(plain) ? "" : k8sAjv.errorsText(validate.errors), `${o.__template}: ${o.kind} ${o.metadata.name}`).toBe("");
      }
    });

    it("every Deployment runs hardened pods with probes, resources and a writable /tmp only", () => {
      expect(deployments.length).toBe((values.operator.enabled ? 1 : 0) + Object.values(values.services as Obj).filter((s) => s.enabled).length);
      for (const d of deployments) {
        const pod = d.spec.template.spec;
        expect(labelsMatch(d.spec.selector.matchLabels, d.spec.template.metadata.labels), d.metadata.name).toBe(true);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } });
        const volumes = new Set((pod.volumes as Obj[]).map((v) => v.name));
        for (const c of pod.containers as Obj[]) {
          expect(c.securityContext).toEqual({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
          });
          expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
          expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
          expect((c.ports as Obj[]).map((p) => p.name)).toContain("http");
          expect(c.resources.requests).toBeDefined();
          expect(c.resources.limits.memory).toBeDefined();
          for (const m of c.volumeMounts as Obj[]) expect(volumes.has(m.name), `${d.metadata.name}: mount ${m.name} has a volume`).toBe(true);
          expect((c.volumeMounts as Obj[]).find((m) => m.mountPath === "/tmp")).toBeDefined();
          const envNames = (c.env as Obj[]).map((e) => e.name);
          expect(new Set(envNames).size, `${d.metadata.name}: no duplicate env`).toBe(envNames.length);
          for (const e of c.env as Obj[]) {
            if (e.value !== undefined) expect(typeof e.value, `${d.metadata.name} ${e.name} is a string`).toBe("string");
            if (e.name.endsWith("_FILE")) {
              expect(
                (c.volumeMounts as Obj[]).some((m) => (e.value as string).startsWith(m.mountPath + "/")),
                `${e.name} points into a mount`,
              ).toBe(true);
            }
          }
        }
      }
    });

    it("the shop services get the contract env, derived from their EventSubscription", () => {
      for (const [svc, cfg] of Object.entries(values.services as Obj)) {
        const d = deployments.find((x) => x.metadata.name === `jetmesh-${svc}`);
        if (!cfg.enabled) {
          expect(d).toBeUndefined();
          continue;
        }
        expect(d, svc).toBeDefined();
        expect(d!.spec.replicas, `${svc}: replicas left to the autoscaler`).toBeUndefined();
        const env = Object.fromEntries((d!.spec.template.spec.containers[0].env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom]));
        const sub = values.shop.subscriptions[svc];
        expect(env.JETMESH_STREAM).toBe(`shop_${sub.stream}`);
        expect(env.JETMESH_CONSUMER).toBe(`shop_${svc}`);
        expect(env.JETMESH_TYPES).toBe(sub.types.join(","));
        expect(env.JETMESH_DEAD_LETTER_SUBJECT).toBe(`jetmesh.dlq.shop.${svc}`);
        expect(env.HTTP_PORT).toBe(String(values.serviceDefaults.httpPort));
        expect(env.NATS_URL).toBe(values.natsConnection.url || "nats://jetmesh-nats.shop.svc:4222");
        const extra = new Set((cfg.extraEnv as Obj[]).map((e) => e.name));
        expect(Object.keys(env).filter((k) => !contractEnv.has(k) && !extra.has(k))).toEqual([]);
      }
    });

    it("the operator runs 2 replicas with leader election on its Lease", () => {
      const op = deployments.find((d) => d.metadata.name === "jetmesh-operator");
      if (!values.operator.enabled) return expect(op).toBeUndefined();
      const env = Object.fromEntries((op!.spec.template.spec.containers[0].env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom]));
      expect(op!.spec.replicas).toBe(values.operator.replicas);
      expect(env.LEADER_ELECTION).toBe("true");
      expect(env.LEASE_NAME).toBe(values.operator.leaderElection.leaseName || "jetmesh-operator");
      expect(env.POD_NAME).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
      expect(op!.spec.template.spec.serviceAccountName).toBe("jetmesh-operator");
      if (values.nats.enabled && !values.natsConnection.url) expect(env.NATS_MONITORING_ENDPOINT).toBe("jetmesh-nats-headless.shop.svc:8222");
      const sa = byKind("ServiceAccount").find((s) => s.metadata.name === "jetmesh-operator");
      expect(sa).toBeDefined();
      const rbac = loadYaml(join(chartDir, "files", "operator-rbac.yaml")) as Obj;
      const role = byKind("ClusterRole").find((r) => r.metadata.name === "jetmesh-operator")!;
      expect(role.rules).toEqual([...rbac.resourceRules, ...(values.operator.rbac.renderedScalers ? rbac.renderedScalerRules : [])]);
      const leaseRole = byKind("Role").find((r) => r.metadata.name.endsWith("leader-election"))!;
      expect(leaseRole.rules).toEqual(rbac.leaderElectionRules);
      for (const b of [...byKind("ClusterRoleBinding"), ...byKind("RoleBinding")]) {
        expect(b.subjects).toEqual([{ kind: "ServiceAccount", name: "jetmesh-operator", namespace: "shop" }]);
        expect(
          objects.some((o) => o.kind === b.roleRef.kind && o.metadata.name === b.roleRef.name),
          `${b.metadata.name} refers to an existing role`,
        ).toBe(true);
      }
    });

    it("Services, PodDisruptionBudgets, ServiceMonitors and NetworkPolicies select real pods and ports", () => {
      const podLabels = deployments.map((d) => d.spec.template.metadata.labels as Record<string, string>);
      const selects = (sel: Record<string, string>) => podLabels.some((l) => labelsMatch(sel, l));
      for (const s of byKind("Service")) {
        expect(selects(s.spec.selector), `Service ${s.metadata.name}`).toBe(true);
        expect(s.spec.ports[0].targetPort).toBe("http");
      }
      for (const p of byKind("PodDisruptionBudget")) expect(selects(p.spec.selector.matchLabels), `PDB ${p.metadata.name}`).toBe(true);
      for (const np of byKind("NetworkPolicy")) {
        expect(selects(np.spec.podSelector.matchLabels), `NetworkPolicy ${np.metadata.name}`).toBe(true);
        expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
        const egressPorts = (np.spec.egress as Obj[]).flatMap((e) => (e.ports as Obj[]).map((p) => p.port));
        expect(egressPorts).toEqual(expect.arrayContaining([53, ...values.networkPolicy.nats.ports]));
      }
      if (values.networkPolicy.enabled) expect(byKind("NetworkPolicy").length).toBe(deployments.length);
      const operatorPolicy = byKind("NetworkPolicy").find((n) => n.metadata.name === "jetmesh-operator");
      if (operatorPolicy) expect(JSON.stringify(operatorPolicy.spec.egress)).toContain("6443");
      for (const sm of byKind("ServiceMonitor")) {
        const svc = byKind("Service").find((s) => labelsMatch(sm.spec.selector.matchLabels, s.metadata.labels));
        expect(svc, `ServiceMonitor ${sm.metadata.name} selects a Service`).toBeDefined();
        expect(svc!.spec.ports.map((p: Obj) => p.name)).toContain(sm.spec.endpoints[0].port);
      }
      expect(byKind("ServiceMonitor").length).toBe(values.monitoring.serviceMonitors.enabled ? deployments.length : 0);
    });

    it("the shop's EventStreams and EventSubscriptions are valid custom resources", () => {
      const crs = [...byKind("EventStream"), ...byKind("EventSubscription")];
      expect(crs.length).toBe(values.shop.enabled ? Object.keys(values.shop.streams).length + Object.keys(values.shop.subscriptions).length : 0);
      for (const cr of crs) {
        const { __template: _t, ...plain } = cr;
        const validate = crdValidators.get(cr.kind)!;
        expect(validate(plain) ? "" : JSON.stringify(validate.errors), `${cr.kind} ${cr.metadata.name}`).toBe("");
      }
      // Each subscriber is the chart's own Deployment of that service (<fullname>-<service>).
      for (const sub of byKind("EventSubscription")) {
        const target = sub.spec.subscriber?.deployment as string | undefined;
        if (!target || !values.services[target.replace(/^jetmesh-/, "")]?.enabled) continue;
        expect(target, `EventSubscription ${sub.metadata.name}`).toBe(`jetmesh-${sub.metadata.name}`);
        expect(
          deployments.map((d) => d.metadata.name),
          `EventSubscription ${sub.metadata.name} scales a rendered Deployment`,
        ).toContain(target);
      }
    });

    it("monitoring objects carry the rules file and the dashboards", () => {
      const rules = byKind("PrometheusRule");
      expect(rules.length).toBe(values.monitoring.prometheusRules.enabled ? 1 : 0);
      if (rules[0]) expect(rules[0].spec).toEqual(loadYaml(join(chartDir, "files", "prometheus-rules.yaml")));
      const dashboards = byKind("ConfigMap").filter((c) => c.metadata.labels?.grafana_dashboard === "1");
      expect(dashboards.length).toBe(values.monitoring.grafanaDashboards.enabled ? listFiles(join(chartDir, "dashboards"), ".json").length : 0);
      for (const cm of dashboards) for (const json of Object.values(cm.data as Record<string, string>)) expect(JSON.parse(json).uid).toBeTruthy();
    });

    it("each pod's env is accepted by the config parser of the code it runs", () => {
      // Secrets and the downward API resolved as the kubelet would; mounted files created.
      const dir = mkdtempSync(join(tmpdir(), "jetmesh-env-"));
      try {
        const parsers: Record<string, (env: Record<string, string>) => unknown> = {
          "jetmesh-operator": (env) => operatorConfig(env),
          order: (env) => (parseBaseConfig(env), orderConfig(env)),
          inventory: (env) => (parseBaseConfig(env), inventoryConfig(env)),
          payment: (env) => (parseBaseConfig(env), paymentConfig(env)),
          shipping: (env) => (parseBaseConfig(env), shippingConfig(env)),
        };
        for (const d of deployments) {
          const env: Record<string, string> = {};
          for (const e of d.spec.template.spec.containers[0].env as Obj[]) {
            // A value as long as the generated ones (a token must be at least 16 characters).
            if (e.valueFrom?.secretKeyRef) env[e.name] = `secret-${e.valueFrom.secretKeyRef.key}-${"x".repeat(32)}`;
            else if (e.valueFrom?.fieldRef) env[e.name] = e.valueFrom.fieldRef.fieldPath === "metadata.namespace" ? "shop" : `${d.metadata.name}-7d9f-x2k`;
            else if (typeof e.value === "string" && e.value.startsWith("/etc/jetmesh/")) {
              const file = join(dir, e.value);
              mkdirSync(dirname(file), { recursive: true });
              writeFileSync(file, "placeholder\n");
              env[e.name] = file;
            } else env[e.name] = String(e.value);
          }
          const parse = parsers[d.metadata.labels["app.kubernetes.io/name"]];
          expect(parse, `a config parser for ${d.metadata.name}`).toBeDefined();
          expect(() => parse!(env), d.metadata.name).not.toThrow();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("NOTES.txt tells the user what to do next", () => {
      expect(notes).toContain("kubectl -n shop");
      expect(notes).toContain("wait --for=condition=Ready");
      if (values.services.order.enabled) expect(notes).toContain("/orders");
      // It speaks of what the cluster has, never of files in this repository.
      expect(notes).not.toMatch(/docs\/|examples\/|charts\/|k8s-kind-config|\.md\b|\.ya?ml\b/);
      if (values.shop.enabled && values.tests.enabled) expect(notes).toContain("helm test jetmesh -n shop --logs");
    });
  });
}

function leafPaths(value: unknown, path = ""): string[] {
  if (!isRecord(value) || Object.keys(value).length === 0) return [path];
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, path ? `${path}.${k}` : k));
}

describe("values.yaml has no dead keys", () => {
  // Every leaf of values.yaml is read by a template: through its own path, or through an
  // enclosing map a template takes whole (`toYaml .Values.podSecurityContext`, `range ...
  // .Values.services`). nats.* goes to the subchart, shop.* is rendered as the shop's resources.
  it("every value is referenced by some template", () => {
    const templatesDir = join(chartDir, "templates");
    const text = [...listFiles(templatesDir, ""), ...listFiles(join(templatesDir, "tests"), "")]
      .filter((f) => !f.endsWith("/tests"))
      .map((f) => readText(f))
      .join("\n");
    const referenced = new Set([...text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1]!.slice(1)));
    const read = (path: string) => [...referenced].some((r) => path === r || path.startsWith(`${r}.`));
    const unused = leafPaths(defaults).filter((p) => !p.startsWith("nats.") && !p.startsWith("shop.") && !read(p));
    expect(unused).toEqual([]);
  });
});

describe("values the chart refuses while rendering", () => {
  // values.schema.json refuses these before a template's `required` could: helm names the
  // values path in its message.
  const cases: [string, unknown, RegExp][] = [
    ["no NATS at all", { nats: { enabled: false } }, /at '\/natsConnection\/url': minLength/],
    ["user/password auth without a Secret", { natsConnection: { auth: { type: "userPassword" } } }, /at '\/natsConnection\/auth\/secretName': minLength/],
    ["TLS without a Secret", { natsConnection: { tls: { enabled: true } } }, /at '\/natsConnection\/tls\/secretName': minLength/],
    [
      "a service's own credential without its Secret",
      { services: { payment: { natsAuth: { type: "creds" } } } },
      /at '\/services\/payment\/natsAuth': missing property 'secretName'/,
    ],
    [
      "the operator's own credential without its Secret",
      { operator: { natsAuth: { type: "userPassword" } } },
      /at '\/operator\/natsAuth': missing property 'secretName'/,
    ],
    ["a service without its EventSubscription", { shop: { subscriptions: { payment: null } } }, /services.payment needs shop.subscriptions.payment/],
  ];
  for (const [what, overlay, message] of cases) {
    it(what, () => {
      expect(() => renderChart(overlay)).toThrow(message);
    });
  }
  it("tracing: every component gets the OTEL_* env naming itself, and its NetworkPolicy lets spans out", () => {
    const { objects } = renderChart(loadYaml(join(chartDir, "examples", "tracing.yaml")));
    const deployments = objects.filter((o) => o.kind === "Deployment");
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
      "jetmesh-inventory",
      "jetmesh-operator",
      "jetmesh-order",
      "jetmesh-payment",
      "jetmesh-shipping",
    ]);
    for (const d of deployments) {
      // Traces name the component (order, payment, ...), not the release's object.
      const service = d.metadata.name === "jetmesh-operator" ? "jetmesh-operator" : d.metadata.name.replace(/^jetmesh-/, "");
      const env = Object.fromEntries((d.spec.template.spec.containers[0].env as Obj[]).map((e) => [e.name, e.value]));
      expect(env, d.metadata.name).toMatchObject({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability:4318",
        OTEL_SERVICE_NAME: service,
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0.1",
        OTEL_RESOURCE_ATTRIBUTES: "k8s.namespace.name=shop,service.namespace=shop,deployment.environment.name=production",
      });
    }
    for (const np of objects.filter((o) => o.kind === "NetworkPolicy")) {
      expect(
        (np.spec.egress as Obj[]).some((e) => e.ports?.some((p: Obj) => p.port === 4318)),
        np.metadata.name,
      ).toBe(true);
    }
    // Off by default: no OTEL_* variable anywhere.
    expect(JSON.stringify(renderChart({}).objects)).not.toContain("OTEL_");
  });

  it("per-service NATS users: each pod reads only its own Secret, the operator its own", () => {
    const { objects } = renderChart(loadYaml(join(chartDir, "examples", "per-service-nats-users.yaml")));
    const pod = (name: string) => objects.find((o) => o.kind === "Deployment" && o.metadata.labels["app.kubernetes.io/name"] === name)!.spec.template.spec;
    const env = (name: string) => Object.fromEntries((pod(name).containers[0].env as Obj[]).map((e) => [e.name, e]));
    // Every Secret a pod references, through env or volumes.
    const secretsOf = (name: string) =>
      new Set([
        ...(pod(name).containers[0].env as Obj[]).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.name] : [])),
        ...(pod(name).volumes as Obj[]).flatMap((v) => (v.secret ? [v.secret.secretName] : [])),
      ]);
    for (const c of ["jetmesh-operator", "order", "inventory", "payment"]) {
      const secret = `jetmesh-nats-${c.replace("jetmesh-", "")}`;
      expect(env(c).NATS_USER.valueFrom, c).toEqual({ secretKeyRef: { name: secret, key: "user" } });
      expect(env(c).NATS_PASSWORD.valueFrom, c).toEqual({ secretKeyRef: { name: secret, key: "password" } });
      // order also reads its API token (the chart's generated Secret).
      expect([...secretsOf(c)], c).toEqual(c === "order" ? [secret, "jetmesh-order-api-token"] : [secret]);
      expect(
        (pod(c).volumes as Obj[]).map((v) => v.name),
        `${c}: no credential volume for user/password`,
      ).toEqual(["tmp"]);
    }
    // shipping uses an nkey: its seed mounted from its own Secret, no user/password env.
    expect(env("shipping").NATS_NKEY_SEED_FILE.value).toBe("/etc/jetmesh/nats-auth/nkey.seed");
    expect(env("shipping").NATS_USER).toBeUndefined();
    expect(pod("shipping").volumes).toContainEqual({ name: "nats-auth", secret: { secretName: "jetmesh-nats-shipping", defaultMode: 256 } });
    expect([...secretsOf("shipping")]).toEqual(["jetmesh-nats-shipping"]);
  });

  it("a component without its own credential falls back to natsConnection.auth", () => {
    const { objects } = renderChart({
      natsConnection: { auth: { type: "creds", secretName: "shared" } },
      services: { payment: { natsAuth: { type: "userPassword", secretName: "pay" } } },
    });
    const pod = (name: string) => objects.find((o) => o.kind === "Deployment" && o.metadata.labels["app.kubernetes.io/name"] === name)!.spec.template.spec;
    const envNames = (name: string) => (pod(name).containers[0].env as Obj[]).map((e) => e.name);
    for (const c of ["jetmesh-operator", "order", "inventory", "shipping"]) {
      expect(pod(c).volumes, c).toContainEqual({ name: "nats-auth", secret: { secretName: "shared", defaultMode: 256 } });
      expect(envNames(c), c).toContain("NATS_CREDS_FILE");
    }
    expect(envNames("payment")).not.toContain("NATS_CREDS_FILE");
    expect((pod("payment").volumes as Obj[]).map((v) => v.name)).toEqual(["tmp"]);
    expect((pod("payment").containers[0].volumeMounts as Obj[]).map((v) => v.name)).toEqual(["tmp"]);
  });

  it("external NATS with credentials and TLS from Secrets mounts and references them", () => {
    const { objects } = renderChart(loadYaml(join(chartDir, "examples", "external-nats.yaml")));
    const order = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "jetmesh-order")!;
    const c = order.spec.template.spec.containers[0];
    const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e]));
    expect(env.NATS_USER.valueFrom).toEqual({ secretKeyRef: { name: "jetmesh-nats-auth", key: "user" } });
    expect(env.NATS_TLS_CA_FILE.value).toBe("/etc/jetmesh/nats-tls/ca.crt");
    expect(order.spec.template.spec.volumes).toContainEqual({ name: "nats-tls", secret: { secretName: "jetmesh-nats-tls", defaultMode: 256 } });
    const np = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "jetmesh-order")!;
    expect(JSON.stringify(np.spec.egress)).toContain("10.244.0.0/16");
  });
});

describe("ServiceMonitors and PrometheusRules need the cluster's monitoring.coreos.com/v1", () => {
  const asked = { monitoring: { serviceMonitors: { enabled: true }, prometheusRules: { enabled: true } } };
  const kinds = (objects: Obj[]) => [...new Set(objects.map((o) => o.kind))];

  it("render when the values ask and the cluster serves the API", () => {
    const { objects } = renderChart(asked, { apiVersions: ["monitoring.coreos.com/v1"] });
    expect(kinds(objects)).toEqual(expect.arrayContaining(["ServiceMonitor", "PrometheusRule"]));
  });

  it("are left out, with a NOTES warning, when the cluster lacks the API", () => {
    const { objects, notes } = renderChart(asked, { apiVersions: [] });
    expect(kinds(objects)).not.toContain("ServiceMonitor");
    expect(kinds(objects)).not.toContain("PrometheusRule");
    expect(notes).toMatch(/WARNING: .*enabled, but this cluster does not serve\s+monitoring.coreos.com\/v1/);
    // The dashboards are plain ConfigMaps for Grafana's sidecar: they need no CRD.
    expect(objects.some((o) => o.kind === "ConfigMap" && o.metadata.name === "jetmesh-dashboard-jetmesh")).toBe(true);
  });

  it("are left out without a warning when the values do not ask", () => {
    const { objects, notes } = renderChart({}, { apiVersions: ["monitoring.coreos.com/v1"] });
    expect(notes).toContain("Alerts and scraping are off");
    expect(kinds(objects)).not.toContain("ServiceMonitor");
    expect(notes).not.toContain("WARNING");
  });
});

describe("platform options: ServiceAccount, scheduling, image digests, namespaced mode", () => {
  const operatorPod = (objects: Obj[]) => objects.find((o) => o.kind === "Deployment" && o.metadata.name === "jetmesh-operator")!.spec.template.spec;
  const digest = `sha256:${"ab".repeat(32)}`;

  it("serviceAccount: annotations on the chart's own, or an existing one bound instead", () => {
    const own = renderChart({ serviceAccount: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/jm" } } }).objects;
    expect(own.find((o) => o.kind === "ServiceAccount")!.metadata.annotations).toEqual({ "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/jm" });
    const existing = renderChart({ serviceAccount: { create: false, name: "platform-operator" } }).objects;
    expect(existing.filter((o) => o.kind === "ServiceAccount")).toEqual([]);
    expect(operatorPod(existing).serviceAccountName).toBe("platform-operator");
    for (const b of existing.filter((o) => o.kind.endsWith("RoleBinding")))
      expect(b.subjects).toEqual([{ kind: "ServiceAccount", name: "platform-operator", namespace: "shop" }]);
  });

  it("priorityClassName and topologySpreadConstraints, spreading each component's own pods", () => {
    const spread = { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" };
    const { objects } = renderChart({
      operator: { priorityClassName: "platform-critical", topologySpreadConstraints: [spread] },
      serviceDefaults: {
        priorityClassName: "shop",
        topologySpreadConstraints: [spread, { ...spread, topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { tier: "x" } } }],
      },
    });
    const op = operatorPod(objects);
    expect(op.priorityClassName).toBe("platform-critical");
    expect(op.topologySpreadConstraints).toEqual([
      { ...spread, labelSelector: { matchLabels: { "app.kubernetes.io/name": "jetmesh-operator", "app.kubernetes.io/instance": "jetmesh" } } },
    ]);
    const payment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "jetmesh-payment")!.spec.template.spec;
    expect(payment.priorityClassName).toBe("shop");
    expect(payment.topologySpreadConstraints[0].labelSelector).toEqual({
      matchLabels: { "app.kubernetes.io/name": "payment", "app.kubernetes.io/instance": "jetmesh" },
    });
    expect(payment.topologySpreadConstraints[1].labelSelector).toEqual({ matchLabels: { tier: "x" } });
    // Unset: the fields are absent, not empty.
    expect(operatorPod(renderChart({}).objects).priorityClassName).toBeUndefined();
  });

  it("an image digest wins over the tag", () => {
    const { objects } = renderChart({
      image: { registry: "ghcr.io/acme/", tag: "1.2.3" },
      operator: { image: { digest } },
      services: { order: { image: { digest } } },
    });
    const image = (name: string) => objects.find((o) => o.kind === "Deployment" && o.metadata.name === name)!.spec.template.spec.containers[0].image;
    expect(image("jetmesh-operator")).toBe(`ghcr.io/acme/jetmesh-operator@${digest}`);
    expect(image("jetmesh-order")).toBe(`ghcr.io/acme/jetmesh-order@${digest}`);
    expect(image("jetmesh-payment")).toBe("ghcr.io/acme/jetmesh-payment:1.2.3");
    expect(() => renderChart({ operator: { image: { digest: "latest" } } })).toThrow(/at '\/operator\/image\/digest': 'latest' does not match pattern/);
  });

  it("namespaced mode: a Role and RoleBinding per watched namespace, nothing cluster-wide for the operator", () => {
    const { objects } = renderChart({ operator: { watchNamespaces: ["shop", "payments"] } });
    const env = Object.fromEntries((operatorPod(objects).containers[0].env as Obj[]).map((e) => [e.name, e.value]));
    expect(env.WATCH_NAMESPACES).toBe("shop,payments");
    expect(operatorConfig(env as Record<string, string>).watchNamespaces).toEqual(["shop", "payments"]);
    expect(objects.filter((o) => o.kind.startsWith("ClusterRole") && o.metadata.name.startsWith("jetmesh-operator"))).toEqual([]);
    const rbac = loadYaml(join(chartDir, "files", "operator-rbac.yaml")) as Obj;
    for (const ns of ["shop", "payments"]) {
      const role = objects.find((o) => o.kind === "Role" && o.metadata.name === "jetmesh-operator" && o.metadata.namespace === ns);
      expect(role?.rules, ns).toEqual(rbac.resourceRules);
      const binding = objects.find((o) => o.kind === "RoleBinding" && o.metadata.name === "jetmesh-operator" && o.metadata.namespace === ns);
      expect(binding?.roleRef, ns).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "jetmesh-operator" });
      expect(binding?.subjects, ns).toEqual([{ kind: "ServiceAccount", name: "jetmesh-operator", namespace: "shop" }]);
    }
    expect(() => renderChart({ operator: { watchNamespaces: ["Not_A_Namespace"] } })).toThrow(/watchNamespaces/);
  });
});

describe("the `helm test` hook", () => {
  const hooks = (values: string[] = []) =>
    parseManifest(
      helmTemplate(["jetmesh", offlineChart(), "-n", "shop", "--show-only", "templates/tests/selftest.yaml", ...values.flatMap((v) => ["--set", v])]),
    );

  it("is a Pod of the operator image running the selftest, with a ServiceAccount that may only list jetmesh.io resources", () => {
    const objects = hooks();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceAccount/jetmesh-selftest",
      "Role/jetmesh-selftest",
      "RoleBinding/jetmesh-selftest",
      "Pod/jetmesh-selftest",
    ]);
    for (const o of objects) expect(o.metadata.annotations["helm.sh/hook"], o.kind).toBe("test");
    expect(objects.find((o) => o.kind === "Role")!.rules).toEqual([
      { apiGroups: ["jetmesh.io"], resources: ["eventstreams", "eventsubscriptions"], verbs: ["list"] },
    ]);
    const pod = objects.find((o) => o.kind === "Pod")!;
    expect(pod.spec.restartPolicy).toBe("Never");
    expect(pod.spec.serviceAccountName).toBe("jetmesh-selftest");
    const c = pod.spec.containers[0];
    expect(c.image).toBe("jetmesh-operator:0.1.0");
    // The command runs what the operator image builds from operator/src/selftest-main.ts.
    expect(c.command).toEqual(["node", "dist/selftest-main.js"]);
    expect(readText(join(repoRoot, "operator", "src", "selftest-main.ts"))).toContain("runSelfTest");
    const env = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toMatchObject({
      SELFTEST_NAMESPACE: "shop",
      SELFTEST_LABEL_SELECTOR: "app.kubernetes.io/instance=jetmesh",
      SELFTEST_STREAM: "events",
      SELFTEST_TIMEOUT_SECONDS: "180",
    });
    // With the bundled NATS it publishes as the generated admin user.
    expect(env.NATS_USER).toEqual({ secretKeyRef: { name: "jetmesh-nats-auth-admin", key: "user" } });
    const plain = Object.fromEntries((c.env as Obj[]).map((e) => [e.name, e.value ?? "secret"]));
    expect(() => operatorConfig(plain as Record<string, string>)).not.toThrow();
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it("is left out with tests.enabled=false or without the shop's resources", () => {
    expect(() => hooks(["tests.enabled=false"])).toThrow(/could not find template/);
    expect(() => hooks(["shop.enabled=false"])).toThrow(/could not find template/);
  });
});
