// The chart installed for real: helm 4 and helm 3 against kube-apiserver v1.35 (etcd and the
// controller manager beside it), with an external NATS. Every object must pass the real
// apiserver's validation; `helm upgrade` applies changed values; `helm uninstall` leaves only
// the CRDs; two releases in two namespaces live side by side. No kubelet runs here, so the
// Pods stay Pending: the operator itself is run against this cluster in
// operator/test/real-cluster.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { join } from "node:path";
import { startControlPlane, waitFor, type ControlPlane } from "@jetmesh/testing";
import { chartDir, loadYamlDocuments, readText, repoRoot } from "./chart.ts";
import { helm, offlineChart, type HelmVersion } from "./helm.ts";
import { parseManifest, type Obj } from "./rendered.ts";
import { kubectlFor } from "../../../testing/test/kube-helpers.ts";

let cp: ControlPlane;
let kubectl: ReturnType<typeof kubectlFor>;
const NATS_URL = "nats://nats.messaging.svc:4222";
const externalNats = join(chartDir, "examples", "external-nats.yaml");

beforeAll(async () => {
  cp = await startControlPlane({ controllerManager: true });
  kubectl = kubectlFor(cp.kubeconfigPath);
}, 180_000);
afterAll(async () => cp?.stop());

async function helmOk(version: HelmVersion, args: string[]): Promise<string> {
  const r = await helm(args, { version, kubeconfig: cp.kubeconfigPath });
  if (r.code !== 0) throw new Error(`helm ${version} ${args.join(" ")} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The objects of a release as helm recorded them. */
async function releaseObjects(version: HelmVersion, release: string, namespace: string): Promise<Obj[]> {
  return parseManifest(await helmOk(version, ["get", "manifest", release, "-n", namespace]));
}

/** `kind/name` of every object that exists on the server, of the given manifest objects. */
async function existing(objects: Obj[]): Promise<string[]> {
  const found: string[] = [];
  for (const o of objects) {
    const ns = o.metadata.namespace ? ["-n", o.metadata.namespace] : [];
    const r = await kubectl.run(["get", o.kind, o.metadata.name, ...ns, "-o", "name", "--ignore-not-found"]);
    if (r.code !== 0) throw new Error(`kubectl get ${o.kind} ${o.metadata.name}: ${r.stderr}`);
    if (r.stdout.trim()) found.push(`${o.kind}/${o.metadata.name}`);
  }
  return found;
}

const names = (objects: Obj[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);

for (const version of [4, 3] as const) {
  describe(`helm ${version}: install, upgrade and uninstall on the real apiserver`, () => {
    const ns = `helm${version}`;
    const release = `jm${version}`;

    it("installs every object, accepted by the apiserver's validation", async () => {
      await helmOk(version, [
        "install",
        release,
        offlineChart(),
        "-n",
        ns,
        "--create-namespace",
        "-f",
        externalNats,
        "--set",
        `natsConnection.url=${NATS_URL}`,
      ]);
      const objects = await releaseObjects(version, release, ns);
      expect(names(objects)).toEqual(
        expect.arrayContaining([
          `Deployment/jm${version}-jetmesh-order`,
          `ClusterRole/jm${version}-jetmesh-operator`,
          "EventStream/events",
          "EventSubscription/payment",
        ]),
      );
      expect(await existing(objects)).toEqual(names(objects));
      // The CRDs came from the chart's crds/ folder.
      await kubectl.ok(["get", "crd", "eventstreams.jetmesh.io", "eventsubscriptions.jetmesh.io"]);
      expect(await helmOk(version, ["status", release, "-n", ns])).toMatch(/STATUS: deployed/);
    });

    it("upgrades with changed values", async () => {
      await helmOk(version, [
        "upgrade",
        release,
        offlineChart(),
        "-n",
        ns,
        "-f",
        externalNats,
        "--set",
        `natsConnection.url=${NATS_URL}`,
        "--set",
        "operator.replicas=3",
        "--set",
        "services.shipping.enabled=false",
      ]);
      const operator = JSON.parse(await kubectl.ok(["-n", ns, "get", "deployment", `${release}-jetmesh-operator`, "-o", "json"])) as Obj;
      expect(operator.spec.replicas).toBe(3);
      expect(await kubectl.ok(["-n", ns, "get", "deployment", `${release}-jetmesh-shipping`, "--ignore-not-found", "-o", "name"])).toBe("");
      expect(await helmOk(version, ["history", release, "-n", ns])).toMatch(/2\s+.*deployed\s+jetmesh-0\.1\.0/);
    });

    it("uninstalls everything but the CRDs", async () => {
      const objects = await releaseObjects(version, release, ns);
      await helmOk(version, ["uninstall", release, "-n", ns, "--wait", "--timeout", "120s"]);
      await waitFor("every object of the release to be gone", async () => (await existing(objects)).length === 0, { timeoutMs: 60_000, intervalMs: 500 });
      await kubectl.ok(["get", "crd", "eventstreams.jetmesh.io", "eventsubscriptions.jetmesh.io"]);
      // Garbage collection removed what the Deployments had made.
      await waitFor(
        "ReplicaSets of the release to be collected",
        async () => (await kubectl.ok(["-n", ns, "get", "replicasets", "-o", "name"])).trim() === "",
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    });
  });
}

describe("the HTTP edge with its NetworkPolicies", () => {
  it("installs, every object accepted by the apiserver's validation (CRD CEL rules included)", async () => {
    const ns = "edge";
    const values = join(cp.dir, "edge.yaml");
    writeFileSync(
      values,
      JSON.stringify({
        nats: { enabled: false },
        natsConnection: { url: NATS_URL },
        edge: {
          ingress: { enabled: true, tokensSecret: "ingress-tokens", allowedFrom: [{ namespaceSelector: { matchLabels: { team: "billing" } } }] },
          dispatchers: { enabled: true, egress: { billing: [{ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }], ports: [{ port: 443, protocol: "TCP" }] }] } },
        },
        notifications: { enabled: true },
        shop: {
          subscriptions: {
            billing: {
              stream: "events",
              types: ["shop.order.confirmed.v1"],
              deadLetter: { stream: "dead-letters" },
              subscriber: { deployment: "billing", http: { url: "https://billing.example.com/events" } },
            },
          },
        },
      }),
    );
    await helmOk(4, ["install", "edge", offlineChart(), "-n", ns, "--create-namespace", "-f", values]);
    const objects = await releaseObjects(4, "edge", ns);
    const policies = objects.filter((o) => o.kind === "NetworkPolicy").map((o) => o.metadata.name as string);
    expect(policies).toEqual(
      expect.arrayContaining([
        "edge-jetmesh-ingress",
        "edge-jetmesh-notifications",
        "edge-jetmesh-notifications-dispatcher",
        "edge-jetmesh-billing-dispatcher",
      ]),
    );
    expect((await existing(objects)).sort()).toEqual(names(objects).sort());
    await helmOk(4, ["uninstall", "edge", "-n", ns, "--wait"]);
  });
});

describe("two releases side by side", () => {
  it("install into two namespaces without a name collision", async () => {
    const values = join(cp.dir, "operator-only.yaml");
    writeFileSync(values, `nats: {enabled: false}\nnatsConnection: {url: "${NATS_URL}"}\n`);
    await helmOk(4, ["install", "team-a", offlineChart(), "-n", "team-a", "--create-namespace", "-f", values]);
    await helmOk(4, ["install", "team-b", offlineChart(), "-n", "team-b", "--create-namespace", "-f", values]);
    const a = names(await releaseObjects(4, "team-a", "team-a"));
    const b = names(await releaseObjects(4, "team-b", "team-b"));
    // Cluster-scoped objects carry the release's full name, so they cannot collide.
    const clusterScoped = (list: string[]) => list.filter((n) => n.startsWith("ClusterRole")).sort();
    for (const [release, list] of [
      ["team-a", a],
      ["team-b", b],
    ] as const) {
      expect(clusterScoped(list)).toEqual([
        `ClusterRole/${release}-jetmesh-edit`,
        `ClusterRole/${release}-jetmesh-operator`,
        `ClusterRole/${release}-jetmesh-view`,
        `ClusterRoleBinding/${release}-jetmesh-operator`,
      ]);
    }
    const list = await helmOk(4, ["list", "-A", "-o", "json"]);
    const releases = (JSON.parse(list) as { name: string; namespace: string; status: string }[]).filter((r) => r.name.startsWith("team-"));
    expect(releases.map((r) => `${r.namespace}/${r.name}:${r.status}`).sort()).toEqual(["team-a/team-a:deployed", "team-b/team-b:deployed"]);
  });
});

describe("two releases in one namespace", () => {
  // Everything the chart makes is named <release>-jetmesh-<component>, so a second release (here
  // without the shop's resources, whose names are the user's: one shop per namespace) installs
  // beside the first, and each release's selectors and references stay within it.
  it("install without a name collision, each selecting only its own pods", async () => {
    const ns = "together";
    const values = join(cp.dir, "together.yaml");
    writeFileSync(values, `nats: {enabled: false}\nnatsConnection: {url: "${NATS_URL}"}\n`);
    await helmOk(4, ["install", "blue", offlineChart(), "-n", ns, "--create-namespace", "-f", values]);
    await helmOk(4, ["install", "green", offlineChart(), "-n", ns, "-f", values, "--set", "shop.enabled=false"]);
    const blue = await releaseObjects(4, "blue", ns);
    const green = await releaseObjects(4, "green", ns);
    expect(await existing(blue)).toEqual(names(blue));
    expect(await existing(green)).toEqual(names(green));
    const own = (objects: Obj[], release: string) =>
      objects
        .filter((o) => !["EventStream", "EventSubscription"].includes(o.kind) && !o.metadata.name.startsWith(`${release}-`))
        .map((o) => `${o.kind}/${o.metadata.name}`);
    expect(own(blue, "blue"), "every chart object of blue carries its release prefix").toEqual([]);
    expect(own(green, "green"), "every chart object of green carries its release prefix").toEqual([]);
    expect(names(green).filter((n) => names(blue).includes(n))).toEqual([]);
    expect(names(blue)).toEqual(
      expect.arrayContaining([
        "Deployment/blue-jetmesh-order",
        "Service/blue-jetmesh-order",
        "NetworkPolicy/blue-jetmesh-order",
        "PodDisruptionBudget/blue-jetmesh-order",
      ]),
    );
    // The shop's subscriptions scale blue's Deployments, which exist.
    const subs = JSON.parse(await kubectl.ok(["-n", ns, "get", "eventsubscriptions", "-o", "json"])) as { items: Obj[] };
    const targets = subs.items.map((s) => s.spec.subscriber.deployment as string).sort();
    expect(targets).toEqual(["blue-jetmesh-inventory", "blue-jetmesh-order", "blue-jetmesh-payment", "blue-jetmesh-shipping"]);
    for (const t of targets) await kubectl.ok(["-n", ns, "get", "deployment", t]);
    // Each Service selects only its own release's pods (the apiserver's Endpoints controller
    // would follow these selectors): the selectors differ by app.kubernetes.io/instance.
    for (const release of ["blue", "green"]) {
      const svc = JSON.parse(await kubectl.ok(["-n", ns, "get", "service", `${release}-jetmesh-order`, "-o", "json"])) as Obj;
      const selector = Object.entries(svc.spec.selector as Record<string, string>)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      const rs = await waitFor(
        `${release}'s order ReplicaSet`,
        async () => {
          const list = JSON.parse(await kubectl.ok(["-n", ns, "get", "replicasets", "-l", selector, "-o", "json"])) as { items: Obj[] };
          return list.items.length > 0 ? list.items : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(rs.map((r) => r.metadata.ownerReferences[0].name)).toEqual([`${release}-jetmesh-order`]);
    }
    // Separate leader Leases: one release's operator never stands by for the other's.
    const lease = (objects: Obj[]) =>
      (objects.find((o) => o.kind === "Deployment" && o.metadata.name.endsWith("-operator"))!.spec.template.spec.containers[0].env as Obj[]).find(
        (e) => e.name === "LEASE_NAME",
      )!.value as string;
    expect([lease(blue), lease(green)]).toEqual(["blue-jetmesh-operator", "green-jetmesh-operator"]);
  });
});

describe("cluster users get JetMesh's resources through the default roles", () => {
  // The chart's ClusterRoles carry the aggregate-to-view/edit/admin labels; kube-controller-
  // manager folds their rules into `view`, `edit` and `admin`. Users are impersonated.
  const ns = "rbac-users";
  const as = (user: string, args: string[]) => kubectl.run([`--as=${user}`, "-n", ns, ...args]);

  beforeAll(async () => {
    const values = join(cp.dir, "rbac-users.yaml");
    writeFileSync(values, `nats: {enabled: false}\nnatsConnection: {url: "${NATS_URL}"}\n`);
    await helmOk(4, ["install", "rbac", offlineChart(), "-n", ns, "--create-namespace", "-f", values]);
    await kubectl.ok(["-n", ns, "create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice"]);
    await kubectl.ok(["-n", ns, "create", "rolebinding", "bob-edit", "--clusterrole=edit", "--user=bob"]);
    await kubectl.ok(["-n", ns, "create", "rolebinding", "carol-admin", "--clusterrole=admin", "--user=carol"]);
    for (const role of ["view", "edit", "admin"]) {
      await waitFor(
        `the ${role} role to aggregate jetmesh.io`,
        async () => (await kubectl.ok(["get", "clusterrole", role, "-o", "json"])).includes('"jetmesh.io"'),
        { timeoutMs: 60_000, intervalMs: 300 },
      );
    }
  }, 120_000);

  it("view: get and list, no changes, no status writes", async () => {
    expect((await as("alice", ["get", "eventstream", "events", "-o", "name"])).stdout.trim()).toBe("eventstream.jetmesh.io/events");
    expect((await as("alice", ["get", "eventsubscriptions", "-o", "name"])).stdout.trim().split("\n")).toHaveLength(4);
    const patch = await as("alice", ["label", "eventstream", "events", "team=a"]);
    expect(patch.code).not.toBe(0);
    expect(patch.stderr).toMatch(/forbidden/i);
    expect((await as("alice", ["delete", "eventsubscription", "payment"])).stderr).toMatch(/forbidden/i);
  });

  it("edit: creates, changes and deletes them, but cannot write their status", async () => {
    await as("bob", ["label", "eventstream", "events", "team=b"]).then((r) => expect(r.stderr).toBe(""));
    const stream = { apiVersion: "jetmesh.io/v1alpha1", kind: "EventStream", metadata: { name: "audit" }, spec: { subjects: [`${ns}.audit.>`] } };
    const created = await kubectl.run(["--as=bob", "-n", ns, "create", "-f", "-"], JSON.stringify(stream));
    expect(created.code, created.stderr).toBe(0);
    const status = await as("bob", ["patch", "eventstream", "audit", "--subresource=status", "--type=merge", "-p", '{"status":{"messages":1}}']);
    expect(status.stderr).toMatch(/forbidden/i);
    expect((await as("bob", ["delete", "eventstream", "audit"])).code).toBe(0);
  });

  it("admin: what edit may, through the edit rules", async () => {
    expect((await as("carol", ["auth", "can-i", "delete", "eventsubscriptions.jetmesh.io"])).stdout.trim()).toBe("yes");
    expect((await as("carol", ["auth", "can-i", "patch", "eventsubscriptions.jetmesh.io", "--subresource=status"])).stdout.trim()).toBe("no");
    // Someone bound to nothing sees nothing.
    expect((await as("mallory", ["get", "eventstreams"])).stderr).toMatch(/forbidden/i);
  });
});

describe("the chart's CRDs on kube-apiserver", () => {
  const ns = "crd-rules";
  beforeAll(async () => {
    await kubectl.ok(["create", "namespace", ns]);
    const stream = {
      apiVersion: "jetmesh.io/v1alpha1",
      kind: "EventStream",
      metadata: { name: "orders", namespace: ns },
      spec: { subjects: [`${ns}.orders.>`] },
    };
    await kubectl.ok(["apply", "-f", "-"], JSON.stringify(stream));
  });

  it("answer to short names no popular operator uses", async () => {
    const crds = JSON.parse(await kubectl.ok(["get", "crd", "eventstreams.jetmesh.io", "eventsubscriptions.jetmesh.io", "-o", "json"])) as { items: Obj[] };
    expect(crds.items.map((c) => c.spec.names.shortNames)).toEqual([["jmstream"], ["jmsub"]]);
    expect((await kubectl.ok(["-n", ns, "get", "jmstream", "orders", "-o", "name"])).trim()).toBe("eventstream.jetmesh.io/orders");
    expect((await kubectl.ok(["-n", ns, "get", "jmsub", "-o", "name"])).trim()).toBe("");
  });

  it("refuse a change of an immutable field, saying what to do instead", async () => {
    for (const [field, value] of [
      ["retention", "workqueue"],
      ["storage", "memory"],
    ] as const) {
      const r = await kubectl.run(["-n", ns, "patch", "jmstream", "orders", "--type=merge", "-p", JSON.stringify({ spec: { [field]: value } })]);
      expect(r.code, field).not.toBe(0);
      expect(r.stderr).toContain(`spec.${field}: Invalid value`);
      expect(r.stderr).toContain(
        `${field} is immutable: JetStream cannot change it on an existing stream. Keep the old value, or create a new EventStream with the new ${field}`,
      );
    }
    // An updatable field still changes.
    await kubectl.ok(["-n", ns, "patch", "jmstream", "orders", "--type=merge", "-p", '{"spec":{"maxAge":"24h"}}']);
    expect(await kubectl.ok(["-n", ns, "get", "jmstream", "orders", "-o", "jsonpath={.spec.retention} {.spec.storage} {.spec.maxAge}"])).toBe(
      "limits file 24h",
    );
  });

  it("upgrade with docs/upgrading.md's command (Helm never upgrades crds/)", async () => {
    // A newer CRD: the chart's, with one more printer column, standing in for a new version.
    const crds = loadYamlDocuments(join(chartDir, "crds", "eventstreams.jetmesh.io.yaml")) as Obj[];
    const newer = structuredClone(crds[0]!);
    newer.spec.versions[0].additionalPrinterColumns.push({ name: "Upgraded", type: "string", jsonPath: ".spec.storage" });
    const dir = join(cp.dir, "crds-next");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "eventstreams.jetmesh.io.yaml"), stringify(newer));
    const doc = readText(join(repoRoot, "docs", "upgrading.md"));
    const command = /^kubectl apply --server-side --force-conflicts -f charts\/jetmesh\/crds\/$/m.exec(doc)?.[0];
    expect(command, "the command in docs/upgrading.md").toBeDefined();
    const args = command!
      .split(" ")
      .slice(1)
      .map((a) => (a === "charts/jetmesh/crds/" ? dir : a));
    // Without --force-conflicts the server refuses: Helm's field manager owns the fields.
    const plain = await kubectl.run(args.filter((a) => a !== "--force-conflicts"));
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/conflict/i);
    await kubectl.ok(args);
    await kubectl.ok(["wait", "--for=condition=Established", "crd/eventstreams.jetmesh.io", "--timeout=60s"]);
    await waitFor("the new printer column served", async () => (await kubectl.ok(["-n", ns, "get", "jmstream", "orders"])).includes("UPGRADED"), {
      timeoutMs: 30_000,
      intervalMs: 300,
    });
    // Back to the chart's own, the same way.
    await kubectl.ok(args.map((a) => (a === dir ? join(chartDir, "crds") : a)));
  });

  it("take only metav1.Condition conditions in status", async () => {
    const status = (condition: Obj) =>
      kubectl.run([
        "-n",
        ns,
        "patch",
        "jmstream",
        "orders",
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status: { conditions: [condition] } }),
      ]);
    const full = { type: "Ready", status: "True", reason: "StreamReady", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1 };
    expect((await status(full)).code).toBe(0);
    for (const missing of ["reason", "message", "lastTransitionTime"] as const) {
      const { [missing]: _dropped, ...partial } = full;
      const r = await status(partial);
      expect(r.code, missing).not.toBe(0);
      expect(r.stderr).toContain(`status.conditions[0].${missing}: Required value`);
    }
    const badReason = await status({ ...full, reason: "not a reason" });
    expect(badReason.stderr).toMatch(/status.conditions\[0\].reason: Invalid value: "not a reason": conditions\[0\].reason in body should match/);
  });
});

describe("ServiceMonitors and PrometheusRules follow what the cluster serves", () => {
  // A minimal stand-in for the Prometheus Operator's CRDs: kube-apiserver then serves
  // monitoring.coreos.com/v1, which is all the chart asks of it.
  const crd = (plural: string, kind: string) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: "monitoring.coreos.com",
      scope: "Namespaced",
      names: { plural, kind, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
    },
  });

  it("without monitoring.coreos.com/v1: none, and NOTES says why; with it: created on upgrade", async () => {
    const ns = "monitored";
    const values = join(cp.dir, "monitored.yaml");
    writeFileSync(
      values,
      `nats: {enabled: false}\nnatsConnection: {url: "${NATS_URL}"}\nmonitoring: {serviceMonitors: {enabled: true}, prometheusRules: {enabled: true}}\n`,
    );
    const first = await helmOk(4, ["install", "mon", offlineChart(), "-n", ns, "--create-namespace", "-f", values]);
    expect(first).toMatch(/WARNING: monitoring.serviceMonitors\/prometheusRules are enabled, but this cluster does not serve\s+monitoring.coreos.com\/v1/);
    expect(names(await releaseObjects(4, "mon", ns)).filter((n) => n.startsWith("ServiceMonitor") || n.startsWith("PrometheusRule"))).toEqual([]);

    await kubectl.ok(
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: [crd("servicemonitors", "ServiceMonitor"), crd("prometheusrules", "PrometheusRule")] }),
    );
    await kubectl.ok([
      "wait",
      "--for=condition=Established",
      "crd/servicemonitors.monitoring.coreos.com",
      "crd/prometheusrules.monitoring.coreos.com",
      "--timeout=60s",
    ]);
    const second = await helmOk(4, ["upgrade", "mon", offlineChart(), "-n", ns, "-f", values]);
    expect(second).not.toContain("WARNING");
    expect(second).toContain(`kubectl -n ${ns} get prometheusrule mon-jetmesh -o yaml`);
    const sms = JSON.parse(await kubectl.ok(["-n", ns, "get", "servicemonitors", "-o", "json"])) as { items: Obj[] };
    expect(sms.items.map((s) => s.metadata.name).sort()).toEqual([
      "mon-jetmesh-inventory",
      "mon-jetmesh-operator",
      "mon-jetmesh-order",
      "mon-jetmesh-payment",
      "mon-jetmesh-shipping",
    ]);
    await kubectl.ok(["-n", ns, "get", "prometheusrule", "mon-jetmesh"]);
  });
});
