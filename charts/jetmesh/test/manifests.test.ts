// The manifests that are not templated: the chart's CRDs (identical to crds/), the kind
// cluster config, the repo's examples/ and the chart's shop resources, each validated
// against its schema (compact schemas for the Kubernetes kinds, the CRDs' own
// openAPIV3Schema for EventStream/EventSubscription).
import { execFileSync } from "node:child_process";
import { basename, join } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { describe, expect, it } from "vitest";
import { chartDir, isRecord, listFiles, loadYaml, loadYamlDocuments, readText, repoRoot } from "./chart.ts";

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));

function check(validate: ValidateFunction, doc: unknown): string {
  return validate(doc) ? "" : ajv.errorsText(validate.errors, { separator: "\n" });
}

const dnsName = { type: "string", pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength: 253 };

// apiextensions.k8s.io/v1 CustomResourceDefinition, the parts a CRD author can get wrong.
const crdSchema = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  properties: {
    apiVersion: { const: "apiextensions.k8s.io/v1" },
    kind: { const: "CustomResourceDefinition" },
    metadata: { type: "object", required: ["name"], properties: { name: dnsName } },
    spec: {
      type: "object",
      required: ["group", "names", "scope", "versions"],
      properties: {
        group: dnsName,
        scope: { enum: ["Namespaced", "Cluster"] },
        names: {
          type: "object",
          required: ["plural", "kind"],
          properties: {
            plural: { type: "string", pattern: "^[a-z0-9]+$" },
            singular: { type: "string", pattern: "^[a-z0-9]+$" },
            kind: { type: "string", pattern: "^[A-Z][A-Za-z0-9]*$" },
            listKind: { type: "string" },
            shortNames: { type: "array", items: { type: "string", pattern: "^[a-z0-9]+$" } },
            categories: { type: "array", items: { type: "string" } },
          },
        },
        versions: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["name", "served", "storage", "schema"],
            properties: {
              name: { type: "string", pattern: "^v[0-9]+((alpha|beta)[0-9]+)?$" },
              served: { type: "boolean" },
              storage: { type: "boolean" },
              subresources: { type: "object", properties: { status: { type: "object" }, scale: { type: "object" } }, additionalProperties: false },
              additionalPrinterColumns: {
                type: "array",
                items: {
                  type: "object",
                  required: ["name", "type", "jsonPath"],
                  properties: { type: { enum: ["integer", "number", "string", "boolean", "date"] }, jsonPath: { type: "string", pattern: "^\\." } },
                },
              },
              schema: { type: "object", required: ["openAPIV3Schema"], properties: { openAPIV3Schema: { type: "object", required: ["type"] } } },
            },
          },
        },
      },
    },
  },
};

// kind.x-k8s.io/v1alpha4 Cluster, as far as this repo's config uses it.
const kindSchema = {
  type: "object",
  required: ["kind", "apiVersion", "nodes"],
  additionalProperties: false,
  properties: {
    kind: { const: "Cluster" },
    apiVersion: { const: "kind.x-k8s.io/v1alpha4" },
    name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" },
    networking: {
      type: "object",
      additionalProperties: false,
      properties: {
        disableDefaultCNI: { type: "boolean" },
        kubeProxyMode: { enum: ["iptables", "ipvs", "nftables", "none"] },
        podSubnet: { type: "string" },
        serviceSubnet: { type: "string" },
      },
    },
    nodes: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["role"],
        additionalProperties: false,
        properties: {
          role: { enum: ["control-plane", "worker"] },
          image: { type: "string" },
          labels: { type: "object", additionalProperties: { type: "string" } },
          extraPortMappings: {
            type: "array",
            items: {
              type: "object",
              required: ["containerPort", "hostPort"],
              additionalProperties: false,
              properties: {
                containerPort: { type: "integer", minimum: 1, maximum: 65535 },
                hostPort: { type: "integer", minimum: 1, maximum: 65535 },
                listenAddress: { type: "string", format: "ipv4" },
                protocol: { enum: ["TCP", "UDP", "SCTP"] },
              },
            },
          },
        },
      },
    },
  },
};

// Namespace, and the envelope every namespaced custom resource has.
const namespaceSchema = {
  type: "object",
  required: ["apiVersion", "kind", "metadata"],
  properties: { apiVersion: { const: "v1" }, kind: { const: "Namespace" }, metadata: { type: "object", required: ["name"], properties: { name: dnsName } } },
};
const objectMeta = { type: "object", required: ["name", "namespace"], properties: { name: dnsName, namespace: dnsName }, additionalProperties: true };

const chartCrdDir = join(chartDir, "crds");
const sourceCrds = listFiles(join(repoRoot, "crds"), ".yaml");
const crdDocs = sourceCrds.flatMap((f) => loadYamlDocuments(f)).filter(isRecord);

/** A validator for one custom resource kind from its CRD's openAPIV3Schema. */
function crValidators(): Map<string, ValidateFunction> {
  const byKind = new Map<string, ValidateFunction>();
  for (const crd of crdDocs) {
    const spec = crd.spec as {
      group: string;
      names: { kind: string };
      versions: { name: string; storage: boolean; schema: { openAPIV3Schema: Record<string, unknown> } }[];
    };
    for (const version of spec.versions) {
      const schema = structuredClone(version.schema.openAPIV3Schema);
      (schema.properties as Record<string, unknown>).metadata = objectMeta;
      (schema.properties as Record<string, unknown>).apiVersion = { const: `${spec.group}/${version.name}` };
      (schema.required as string[] | undefined)?.push("apiVersion", "kind", "metadata");
      byKind.set(`${spec.group}/${version.name}/${spec.names.kind}`, ajv.compile(schema));
    }
  }
  return byKind;
}

describe("chart CRDs", () => {
  it("crds/ has the CRDs, and the chart carries byte-identical copies (scripts/sync-chart-crds.sh)", () => {
    expect(sourceCrds.map((f) => basename(f))).toEqual(["eventstreams.jetmesh.io.yaml", "eventsubscriptions.jetmesh.io.yaml"]);
    const diff = (() => {
      try {
        return execFileSync(join(repoRoot, "scripts", "sync-chart-crds.sh"), ["--check"], { encoding: "utf8", stdio: "pipe" });
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? err);
      }
    })();
    expect(diff, "run scripts/sync-chart-crds.sh").toBe("");
    expect(listFiles(chartCrdDir, ".yaml").map((f) => [basename(f), readText(f)])).toEqual(sourceCrds.map((f) => [basename(f), readText(f)]));
  });

  it("each CRD is a valid apiextensions.k8s.io/v1 CustomResourceDefinition with one storage version", () => {
    const validate = ajv.compile(crdSchema);
    expect(crdDocs.length).toBe(2);
    for (const crd of crdDocs) {
      expect(check(validate, crd), String((crd.metadata as { name: string }).name)).toBe("");
      const spec = crd.spec as { group: string; names: { plural: string }; versions: { storage: boolean }[] };
      expect((crd.metadata as { name: string }).name).toBe(`${spec.names.plural}.${spec.group}`);
      expect(spec.versions.filter((v) => v.storage).length).toBe(1);
      // The chart's CRDs directory holds no templates: Helm installs it verbatim.
      expect(JSON.stringify(crd)).not.toContain("{{");
    }
  });
});

describe("kind cluster config", () => {
  const config = loadYaml(join(repoRoot, "k8s-kind-config.yaml")) as { nodes: { role: string; extraPortMappings?: { containerPort: number }[] }[] };
  it("validates against the kind v1alpha4 Cluster schema", () => {
    expect(check(ajv.compile(kindSchema), config)).toBe("");
  });
  it("has one control plane and two workers, and maps the order API, Grafana and Prometheus NodePorts", () => {
    expect(config.nodes.map((n) => n.role)).toEqual(["control-plane", "worker", "worker"]);
    const mapped = config.nodes.flatMap((n) => n.extraPortMappings ?? []).map((m) => m.containerPort);
    // `make deploy` installs with examples/kind.yaml, which puts the order API on its NodePort.
    const values = loadYaml(join(chartDir, "examples", "kind.yaml")) as { services: { order: { service: { nodePort: number } } } };
    const kps = loadYaml(join(repoRoot, "charts", "kube-prometheus-stack.kind.yaml")) as {
      grafana: { service: { nodePort: number } };
      prometheus: { service: { nodePort: number } };
    };
    expect(mapped.sort()).toEqual([values.services.order.service.nodePort, kps.grafana.service.nodePort, kps.prometheus.service.nodePort].sort());
  });
});

describe("shop resources", () => {
  const validators = crValidators();
  const exampleFiles = listFiles(join(repoRoot, "examples"), ".yaml");
  const examples = exampleFiles.flatMap((f) => loadYamlDocuments(f).map((doc) => ({ file: basename(f), doc }))).filter((e) => isRecord(e.doc));

  it("every manifest in examples/ validates against its schema (CRDs' openAPIV3Schema for JetMesh kinds)", () => {
    expect(examples.length).toBeGreaterThan(0);
    const nsValidate = ajv.compile(namespaceSchema);
    for (const { file, doc } of examples) {
      const d = doc as Record<string, unknown>;
      const key = d.kind === "Namespace" ? "Namespace" : `${String(d.apiVersion)}/${String(d.kind)}`;
      const validate = d.kind === "Namespace" ? nsValidate : validators.get(key);
      expect(validate, `${file}: no schema for ${key}`).toBeDefined();
      expect(check(validate!, d), `${file}: ${key} ${String((d.metadata as { name?: string })?.name)}`).toBe("");
    }
  });

  it("the CRD schemas refuse a broken EventSubscription (the validation is real)", () => {
    const validate = validators.get("jetmesh.io/v1alpha1/EventSubscription")!;
    const bad = {
      apiVersion: "jetmesh.io/v1alpha1",
      kind: "EventSubscription",
      metadata: { name: "x", namespace: "shop" },
      spec: { stream: "Events!", types: ["shop order"], delivery: { maxDeliver: 0 } },
    };
    expect(check(validate, bad)).toMatch(/stream[\s\S]*types[\s\S]*maxDeliver/);
  });

  it("the chart's shop streams and subscriptions equal examples/ and validate against the CRDs", () => {
    const values = loadYaml(join(chartDir, "values.yaml")) as {
      shop: { streams: Record<string, unknown>; subscriptions: Record<string, unknown> };
      notifications: { subscription: unknown };
    };
    const fromExamples = (kind: string) =>
      Object.fromEntries(
        examples
          .map((e) => e.doc as { kind: string; metadata: { name: string }; spec: unknown })
          .filter((d) => d.kind === kind)
          .map((d) => [d.metadata.name, d.spec]),
      );
    expect(values.shop.streams).toEqual(fromExamples("EventStream"));
    // The notifications subscription (HTTP push, docs/http.md) is rendered by templates/edge.yaml.
    const subscriptions = { ...values.shop.subscriptions, notifications: values.notifications.subscription };
    expect(subscriptions).toEqual(fromExamples("EventSubscription"));
    // As templates/shop.yaml and edge.yaml render them (release namespace "shop").
    for (const [kind, specs] of [
      ["EventStream", values.shop.streams],
      ["EventSubscription", subscriptions],
    ] as const) {
      for (const [name, spec] of Object.entries(specs)) {
        const cr = { apiVersion: "jetmesh.io/v1alpha1", kind, metadata: { name, namespace: "shop" }, spec };
        expect(check(validators.get(`jetmesh.io/v1alpha1/${kind}`)!, cr), `${kind} ${name}`).toBe("");
      }
    }
  });

  it("every shop service has a subscription whose subscriber is that service's Deployment", () => {
    const values = loadYaml(join(chartDir, "values.yaml")) as {
      services: Record<string, unknown>;
      shop: { subscriptions: Record<string, { subscriber: { deployment: string } }> };
    };
    for (const svc of Object.keys(values.services)) {
      expect(values.shop.subscriptions[svc]?.subscriber.deployment, svc).toBe(svc);
    }
  });
});

describe("the e2e workflow and the kind make targets", () => {
  const workflow = loadYaml(join(repoRoot, ".github", "workflows", "e2e.yml")) as {
    on: unknown;
    jobs: Record<string, { "runs-on": string; steps: { name?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown> }[] }>;
  };
  const kindMk = readText(join(repoRoot, "mk", "kind.mk"));
  const targets = new Set([...kindMk.matchAll(/^([a-z][a-z0-9-]*):/gm)].map((m) => m[1]));

  it("runs kind-up, images, deploy, the demo with the invariant checker, and dumps logs on failure", () => {
    const steps = workflow.jobs.e2e!.steps;
    const runs = steps.map((s) => s.run ?? "").join("\n");
    const order = ["make chart-check", "make kind-up", "make images", "make deploy", "make demo-kind"].map((c) => runs.indexOf(c));
    expect(
      order.every((i) => i >= 0),
      "every step present",
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(steps.find((s) => s.uses?.startsWith("actions/setup-node"))?.with?.["node-version-file"]).toBe(".node-version");
    expect(steps.find((s) => s.run?.includes("make kind-logs"))?.if).toBe("failure()");
    expect(steps.find((s) => s.run?.includes("make down"))?.if).toBe("always()");
  });

  it("every make target the workflow and docs use exists in mk/kind.mk, and demo-kind runs npm run verify", () => {
    const used = new Set([
      ...[...readText(join(repoRoot, ".github", "workflows", "e2e.yml")).matchAll(/\bmake ([a-z][a-z0-9-]*)/g)].map((m) => m[1]!),
      // In the docs, commands are in code: a line or a backtick span starting with make.
      ...[...readText(join(repoRoot, "docs", "install.md")).matchAll(/(?:^|`)make ([a-z][a-z0-9-]*)/gm)].map((m) => m[1]!),
    ]);
    const elsewhere = new Set(["test", "dev", "build", "install", "demo"]);
    expect([...used].filter((t) => !targets.has(t) && !elsewhere.has(t))).toEqual([]);
    expect(kindMk).toMatch(/^demo-kind:[\s\S]*npm run --silent verify -- --nats/m);
    for (const tool of ["docker", "kind", "helm", "kubectl"]) expect(kindMk).toContain(`need-tool,${tool},`);
  });
});
