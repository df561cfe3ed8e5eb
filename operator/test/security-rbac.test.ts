// Least privilege, measured: the operator runs a scenario (streams, a subscription, finalizers,
// status, leader election, autoscaling on lag with Events) against the Kubernetes API test
// server, which records every request. The operator's requests, mapped to RBAC rules
// (apiGroup, resource[/subresource], verb), must equal the chart's grants exactly: a grant
// never used is a finding, a call without a grant would be a 403 in a real cluster.
import { afterAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parse, parseAllDocuments } from "yaml";
import { pino } from "pino";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { startKubeApiServer, startNats, waitFor, type KubeApiServer, type NatsCluster, type RecordedRequest } from "@jetmesh/testing";
import { parseConfig, startOperator, type OperatorHandle } from "../src/index.ts";

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
const ROOT = new URL("../../", import.meta.url);
const grantsOf = (rules: Rule[] = []) => rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))));
const ruleOf = (r: RecordedRequest) => `${r.apiGroup}/${r.resource}${r.subresource ? `/${r.subresource}` : ""}:${r.verb}`;

// The autoscaling scenario of the operator's own e2e test.
const SCENARIO = readFileSync(new URL("operator/test/fixtures/scaling-scenario.yaml", ROOT), "utf8");

describe("security: operator RBAC is exactly what the operator uses", () => {
  let kube: KubeApiServer;
  let nats: NatsCluster;
  let op: OperatorHandle | undefined;
  afterAll(async () => {
    await op?.stop().catch(() => undefined);
    await kube?.stop();
    await nats?.destroy();
  });

  it("the operator's recorded API calls equal the chart's ClusterRole + Role rules", { timeout: 90_000 }, async () => {
    kube = await startKubeApiServer();
    nats = await startNats();
    // The test's own calls, marked so they are not taken for the operator's.
    const ours = new Set<RecordedRequest>();
    const call = async (method: string, path: string, body?: unknown) => {
      const before = kube.requests.length;
      const res = await fetch(kube.url + path, {
        method,
        headers: { "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await res.json()) as Record<string, any>;
      // The exact record (verb, namespace, resource, name): the operator's own requests to the
      // same resource land in between while it runs.
      const segs = path.split("?")[0]!.split("/").filter(Boolean);
      let rest = segs.slice(segs[0] === "api" ? 2 : 3);
      let namespace: string | undefined;
      if (rest[0] === "namespaces" && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
      const [resource, name] = rest;
      const verb = { GET: name ? "get" : "list", POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" }[method];
      const mine = kube.requests
        .slice(before)
        .find((r) => !ours.has(r) && r.code === res.status && r.verb === verb && r.resource === resource && r.namespace === namespace && r.name === name);
      if (mine) ours.add(mine);
      else throw new Error(`test request ${method} ${path} not found in the server's record`);
      return { status: res.status, json };
    };
    const create = async (obj: { apiVersion: string; kind: string; metadata: { namespace?: string } }) => {
      const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
      const plural = obj.kind.toLowerCase() + (obj.kind.endsWith("s") ? "es" : "s");
      const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
      const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : "";
      const r = await call("POST", `${base}${ns}/${plural}`, obj);
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    };
    for (const f of ["eventstreams.jetmesh.io.yaml", "eventsubscriptions.jetmesh.io.yaml"]) {
      await create(parse(readFileSync(new URL(`crds/${f}`, ROOT), "utf8")));
    }
    await create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "jetmesh-system" } } as never);
    for (const d of parseAllDocuments(SCENARIO)) await create(d.toJS());

    op = await startOperator(
      parseConfig({
        KUBECONFIG: kube.kubeconfigPath,
        NATS_URL: nats.url,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        RESYNC_SECONDS: "1",
        LEASE_DURATION_SECONDS: "2",
        LEASE_RENEW_DEADLINE_SECONDS: "1.5",
        LEASE_RETRY_PERIOD_SECONDS: "0.25",
        POD_NAMESPACE: "jetmesh-system",
        AUTOSCALE: "true",
        NATS_MONITORING_ENDPOINT: "nats.nats.svc:8222",
      }),
      { logger: pino({ level: "silent" }) },
    );
    const ready = async () => {
      const r = await call("GET", "/apis/jetmesh.io/v1alpha1/namespaces/sc/eventsubscriptions/worker");
      return (r.json.status?.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === "Ready" && c.status === "True");
    };
    await waitFor("subscription Ready", ready, { timeoutMs: 20_000, intervalMs: 250 });
    // Lag → the autoscaler reads the Deployment, scales it through /scale, and records an Event.
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    await Promise.all(Array.from({ length: 350 }, (_, i) => js.publish("sc.job.v1", `job ${i}`)));
    await nc.close();
    await waitFor("deployment scaled", async () => (await call("GET", "/apis/apps/v1/namespaces/sc/deployments/worker")).json.spec?.replicas === 4, {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    // Deleting the subscription runs its finalizer (the operator removes the consumer, then the finalizer).
    expect((await call("DELETE", "/apis/jetmesh.io/v1alpha1/namespaces/sc/eventsubscriptions/worker")).status).toBeLessThan(300);
    await waitFor("subscription gone", async () => (await call("GET", "/apis/jetmesh.io/v1alpha1/namespaces/sc/eventsubscriptions/worker")).status === 404, {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    await op.stop();
    op = undefined;

    const used = new Map<string, number>();
    for (const r of kube.requests) if (!ours.has(r)) used.set(ruleOf(r), (used.get(ruleOf(r)) ?? 0) + 1);
    const rbac = parse(readFileSync(new URL("charts/jetmesh/files/operator-rbac.yaml", ROOT), "utf8")) as Record<string, Rule[]>;
    // renderedScalerRules are only granted with operator.rbac.renderedScalers (keda/hpa modes,
    // not exercised here): the default chart grants resourceRules + leaderElectionRules.
    const granted = new Set([...grantsOf(rbac.resourceRules), ...grantsOf(rbac.leaderElectionRules)]);
    console.log(`RBAC used by the operator: ${JSON.stringify(Object.fromEntries([...used].sort()))}`);
    // The lease grant is a Role: every lease call stays in the operator's own namespace.
    expect(kube.requests.filter((r) => !ours.has(r) && r.resource === "leases").every((r) => r.namespace === "jetmesh-system")).toBe(true);
    expect({ missing: [...used.keys()].filter((g) => !granted.has(g)).sort(), unused: [...granted].filter((g) => !used.has(g)).sort() }).toEqual({
      missing: [],
      unused: [],
    });
  });
});
