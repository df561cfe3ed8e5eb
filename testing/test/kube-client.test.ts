// Acceptance: the real @kubernetes/client-node 2.x against the Kubernetes API test server —
// informers across dropped watches and expired history, object semantics, GC, faults.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, mkdtempSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import {
  ApiException,
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  V1MicroTime,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { startKubeApiServer, waitFor, type KubeApiServer } from "../src/index.ts";
import { fixture } from "./kube-helpers.ts";

type Widget = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

let server: KubeApiServer;
let kc: KubeConfig;
let custom: CustomObjectsApi;
let core: CoreV1Api;
const W = { group: "test.jetmesh.io", version: "v1alpha1", namespace: "default", plural: "widgets" };
const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof ApiException) return e.code;
    throw e;
  }
}

beforeAll(async () => {
  server = await startKubeApiServer({ bookmarkIntervalMs: 200 });
  kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  custom = kc.makeApiClient(CustomObjectsApi);
  core = kc.makeApiClient(CoreV1Api);
  // Raw JSON on purpose: client-node's typed serializer drops `default` and
  // `x-kubernetes-validations` from CRD schemas (it only knows `_default`, `xKubernetesValidations`).
  const crd = parse(readFileSync(fixture("widgets-crd.yaml"), "utf8")) as V1CustomResourceDefinition;
  const res = await fetch(`${server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(crd),
  });
  if (res.status !== 201) throw new Error(`CRD create failed: ${res.status} ${await res.text()}`);
});
afterAll(async () => {
  await server?.stop();
});

describe("client-node against the test server", () => {
  it("informer sees add/update/delete, reconnects after dropped watches and relists after 410", async () => {
    const path = "/apis/test.jetmesh.io/v1alpha1/namespaces/default/widgets";
    const informer = makeInformer<Widget>(kc, path, () => custom.listNamespacedCustomObject(W));
    const seen: string[] = [];
    informer.on("add", (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on("update", (o) => seen.push(`update ${o.metadata?.name} ${String(o.spec?.color)}`));
    informer.on("delete", (o) => seen.push(`delete ${o.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on("error", (e) => errors.push(e));
    await informer.start();
    try {
      await custom.createNamespacedCustomObject({
        ...W,
        body: { apiVersion: "test.jetmesh.io/v1alpha1", kind: "Widget", metadata: { name: "inf" }, spec: { color: "red" } },
      });
      await waitFor("add", () => seen.includes("add inf"));
      await custom.patchNamespacedCustomObject({ ...W, name: "inf", body: { spec: { color: "green" } } }, merge);
      await waitFor("update", () => seen.includes("update inf green"));

      // Dropped watch: the informer re-watches from its resourceVersion, no relist.
      const listsBefore = server.requests.filter((r) => r.verb === "list" && r.resource === "widgets").length;
      server.faults.dropWatches();
      await custom.patchNamespacedCustomObject({ ...W, name: "inf", body: { spec: { color: "blue" } } }, merge);
      await waitFor("update after reconnect", () => seen.includes("update inf blue"));
      expect(server.requests.filter((r) => r.verb === "list" && r.resource === "widgets").length).toBe(listsBefore);

      // Expired history: the re-watch gets an ERROR 410 event, the informer relists.
      server.faults.expireHistory();
      server.faults.dropWatches();
      await waitFor("relist after 410", () => server.requests.filter((r) => r.verb === "list" && r.resource === "widgets").length > listsBefore, {
        timeoutMs: 15_000,
      });
      await custom.deleteNamespacedCustomObject({ ...W, name: "inf" });
      await waitFor("delete", () => seen.includes("delete inf"), { timeoutMs: 15_000 });
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  it("a raw watch gets an ERROR event with a 410 Status for a compacted resourceVersion, and BOOKMARKs when asked", async () => {
    server.faults.expireHistory();
    const res = await fetch(`${server.url}/apis/test.jetmesh.io/v1alpha1/widgets?watch=1&resourceVersion=1`);
    expect(res.status).toBe(200);
    const ev = JSON.parse((await res.text()).trim()) as { type: string; object: { code: number; reason: string } };
    expect(ev).toMatchObject({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
    // A revision from the future (a client ahead of a restored snapshot) also makes clients relist.
    const ahead = JSON.parse((await (await fetch(`${server.url}/apis/test.jetmesh.io/v1alpha1/widgets?watch=1&resourceVersion=99999999`)).text()).trim()) as {
      object: { code: number };
    };
    expect(ahead.object.code).toBe(410);

    // timeoutSeconds ends the stream from the server side.
    const started = Date.now();
    const timed = await fetch(`${server.url}/apis/test.jetmesh.io/v1alpha1/widgets?watch=1&timeoutSeconds=1`);
    await timed.text();
    // A lower bound only (a slow machine makes it later, never earlier): not ended before the 1 s asked for.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const list = (await custom.listNamespacedCustomObject(W)) as { metadata: { resourceVersion: string } };
    const ctrl = new AbortController();
    const watch = await fetch(
      `${server.url}/apis/test.jetmesh.io/v1alpha1/widgets?watch=1&allowWatchBookmarks=true&resourceVersion=${list.metadata.resourceVersion}`,
      { signal: ctrl.signal },
    );
    const reader = watch.body!.getReader();
    const { value } = await reader.read();
    ctrl.abort();
    expect(JSON.parse(new TextDecoder().decode(value).split("\n")[0]!)).toMatchObject({
      type: "BOOKMARK",
      object: { kind: "Widget", metadata: { resourceVersion: list.metadata.resourceVersion } },
    });
  });

  it("enforces optimistic concurrency, status subresource and generation rules", async () => {
    const created = (await custom.createNamespacedCustomObject({
      ...W,
      body: {
        apiVersion: "test.jetmesh.io/v1alpha1",
        kind: "Widget",
        metadata: { name: "gen", labels: { a: "1" } },
        spec: { color: "red" },
        status: { replicas: 7 },
      },
    })) as Widget;
    expect(created.metadata?.generation).toBe(1);
    expect(created.status).toBeUndefined(); // status is dropped on create
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);

    // Status only through /status; it does not bump generation.
    const withStatus = (await custom.replaceNamespacedCustomObjectStatus({
      ...W,
      name: "gen",
      body: { ...created, spec: { color: "blue" }, status: { replicas: 2 } },
    })) as Widget;
    expect(withStatus.status).toEqual({ replicas: 2 });
    expect(withStatus.spec?.color).toBe("red");
    expect(withStatus.metadata?.generation).toBe(1);

    // Main resource: status changes ignored, metadata-only changes keep generation, spec bumps it.
    const labelled = (await custom.replaceNamespacedCustomObject({
      ...W,
      name: "gen",
      body: { ...withStatus, metadata: { ...withStatus.metadata, labels: { a: "2" } }, status: { replicas: 99 } },
    })) as Widget;
    expect(labelled.status).toEqual({ replicas: 2 });
    expect(labelled.metadata?.generation).toBe(1);
    const bumped = (await custom.replaceNamespacedCustomObject({ ...W, name: "gen", body: { ...labelled, spec: { color: "green" } } })) as Widget;
    expect(bumped.metadata?.generation).toBe(2);
    expect(Number(bumped.metadata?.resourceVersion)).toBeGreaterThan(Number(labelled.metadata?.resourceVersion));

    // Stale resourceVersion → 409 Conflict; missing object → 404; duplicate create → 409.
    expect(await status(custom.replaceNamespacedCustomObject({ ...W, name: "gen", body: { ...labelled, spec: { color: "blue" } } }))).toBe(409);
    expect(await status(custom.getNamespacedCustomObject({ ...W, name: "nope" }))).toBe(404);
    expect(
      await status(
        custom.createNamespacedCustomObject({
          ...W,
          body: { apiVersion: "test.jetmesh.io/v1alpha1", kind: "Widget", metadata: { name: "gen" }, spec: { color: "red" } },
        }),
      ),
    ).toBe(409);

    // 422 with causes carrying field paths.
    try {
      await custom.createNamespacedCustomObject({
        ...W,
        body: { apiVersion: "test.jetmesh.io/v1alpha1", kind: "Widget", metadata: { name: "bad" }, spec: { color: "red", replicas: -1 } },
      });
      expect.unreachable();
    } catch (e) {
      const body = JSON.parse(String((e as ApiException<string>).body)) as {
        code: number;
        message: string;
        details: { causes: { field: string; reason: string }[] };
      };
      expect(body.code).toBe(422);
      expect(body.message).toBe(
        'Widget.test.jetmesh.io "bad" is invalid: spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0',
      );
      expect(body.details.causes).toEqual([
        { reason: "FieldValueInvalid", field: "spec.replicas", message: "Invalid value: -1: spec.replicas in body should be greater than or equal to 0" },
      ]);
    }

    // Metadata-only reads (as client-go's metadata client asks for them).
    const partial = (await (
      await fetch(`${server.url}/apis/test.jetmesh.io/v1alpha1/namespaces/default/widgets?labelSelector=a%3D2`, {
        headers: { accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" },
      })
    ).json()) as { kind: string; items: Widget[] };
    expect(partial.kind).toBe("PartialObjectMetadataList");
    expect(partial.items.map((i) => [i.kind, i.metadata?.name, i.spec])).toEqual([["PartialObjectMetadata", "gen", undefined]]);

    // Label and field selectors.
    const byLabel = (await custom.listNamespacedCustomObject({ ...W, labelSelector: "a in (2,3)" })) as { items: Widget[] };
    expect(byLabel.items.map((i) => i.metadata?.name)).toEqual(["gen"]);
    const byField = (await custom.listClusterCustomObject({ group: W.group, version: W.version, plural: W.plural, fieldSelector: "metadata.name!=gen" })) as {
      items: Widget[];
    };
    expect(byField.items.map((i) => i.metadata?.name)).not.toContain("gen");
  });

  it("garbage-collects owned objects in the background and orphans on request", async () => {
    const owner = (await custom.createNamespacedCustomObject({
      ...W,
      body: { apiVersion: "test.jetmesh.io/v1alpha1", kind: "Widget", metadata: { name: "owner" }, spec: { color: "red" } },
    })) as Widget;
    const ownerRef = { apiVersion: "test.jetmesh.io/v1alpha1", kind: "Widget", name: "owner", uid: owner.metadata!.uid!, controller: true };
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "owned", ownerReferences: [ownerRef] }, data: { a: "b" } } });
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "kept", ownerReferences: [{ ...ownerRef, name: "owner2" }] } } });
    await custom.deleteNamespacedCustomObject({ ...W, name: "owner" });
    await waitFor("owned configmap collected", async () => (await status(core.readNamespacedConfigMap({ namespace: "default", name: "owned" }))) === 404);
    // "kept" pointed at the same uid, so it goes too; an Orphan delete keeps dependents instead.
    const owner2 = (await custom.createNamespacedCustomObject({
      ...W,
      body: { apiVersion: "test.jetmesh.io/v1alpha1", kind: "Widget", metadata: { name: "owner2" }, spec: { color: "red" } },
    })) as Widget;
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "orphan", ownerReferences: [{ ...ownerRef, name: "owner2", uid: owner2.metadata!.uid! }] } },
    });
    await custom.deleteNamespacedCustomObject({ ...W, name: "owner2", propagationPolicy: "Orphan" });
    // Read errors (a 404 if it were collected) are retried and reported when the wait times out.
    await waitFor(
      "the orphan's owner reference removed",
      async () => (await core.readNamespacedConfigMap({ namespace: "default", name: "orphan" })).metadata?.ownerReferences === undefined,
    );
    await waitFor("owner2 gone", async () => (await status(custom.getNamespacedCustomObject({ ...W, name: "owner2" }))) === 404);
    expect((await core.readNamespacedConfigMap({ namespace: "default", name: "orphan" })).metadata?.name).toBe("orphan");
  });

  it("serves Deployments with scale, Leases with create-on-update, Events; records RBAC verbs", async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const dep = parse(readFileSync(fixture("deployment.yaml"), "utf8"));
    await apps.createNamespacedDeployment({ namespace: "default", body: { ...dep, metadata: { ...dep.metadata, name: "svc" } } });
    const scale = await apps.readNamespacedDeploymentScale({ namespace: "default", name: "svc" });
    expect(scale).toMatchObject({ kind: "Scale", spec: { replicas: 1 }, status: { selector: "app=inventory" } });
    await apps.patchNamespacedDeploymentScale({ namespace: "default", name: "svc", body: { spec: { replicas: 4 } } }, merge);
    const d = await apps.readNamespacedDeployment({ namespace: "default", name: "svc" });
    expect(d.spec?.replicas).toBe(4);
    expect(d.metadata?.generation).toBe(2);

    // Immutable fields of built-ins: a Deployment's selector, an immutable ConfigMap's data.
    try {
      await apps.patchNamespacedDeployment(
        { namespace: "default", name: "svc", body: { spec: { selector: { matchExpressions: [{ key: "app", operator: "Exists" }] } } } },
        merge,
      );
      expect.unreachable();
    } catch (e) {
      expect(String((e as ApiException<string>).body)).toContain("spec.selector: Invalid value");
      expect(String((e as ApiException<string>).body)).toContain("field is immutable");
    }
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "frozen" }, data: { a: "1" }, immutable: true } });
    expect(await status(core.patchNamespacedConfigMap({ namespace: "default", name: "frozen", body: { data: { a: "2" } } }, merge))).toBe(422);

    const secret = await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "creds" }, stringData: { password: "s3cret" } } });
    expect(secret.data).toEqual({ password: Buffer.from("s3cret").toString("base64") });
    expect(secret.type).toBe("Opaque");

    const leases = kc.makeApiClient(CoordinationV1Api);
    const lease = await leases.replaceNamespacedLease({
      namespace: "default",
      name: "leader",
      body: { metadata: { name: "leader" }, spec: { holderIdentity: "a", leaseDurationSeconds: 15 } },
    });
    expect(lease.spec?.holderIdentity).toBe("a");
    expect(
      await status(
        leases.replaceNamespacedLease({
          namespace: "default",
          name: "leader",
          body: { metadata: { name: "leader", resourceVersion: "1" }, spec: { holderIdentity: "b" } },
        }),
      ),
    ).toBe(409);

    await core.createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { generateName: "svc." },
        involvedObject: { kind: "Deployment", name: "svc", namespace: "default" },
        reason: "Scaled",
        message: "scaled to 4",
        type: "Normal",
      },
    });
    // events.k8s.io/v1 is the same resource in another shape, as on a real server.
    await kc.makeApiClient(EventsV1Api).createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { name: "svc.v1" },
        eventTime: new V1MicroTime(),
        regarding: { kind: "Deployment", name: "svc", namespace: "default" },
        reason: "Noted",
        note: "via events.k8s.io",
        type: "Normal",
        action: "Note",
        reportingController: "test",
        reportingInstance: "test-1",
      },
    });
    const events = await core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=svc" });
    expect(events.items.map((e) => `${e.reason}: ${e.message}`).sort()).toEqual(["Noted: via events.k8s.io", "Scaled: scaled to 4"]);
    const v1 = await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: "default", fieldSelector: "regarding.name=svc" });
    expect(v1.items.map((e) => e.note).sort()).toEqual(["scaled to 4", "via events.k8s.io"]);

    const verbs = new Set(
      server.requests.filter((r) => r.namespace === "default").map((r) => `${r.verb} ${r.apiGroup}/${r.resource}${r.subresource ? `/${r.subresource}` : ""}`),
    );
    expect(verbs).toContain("patch apps/deployments/scale");
    expect(verbs).toContain("update coordination.k8s.io/leases");
    expect(verbs).toContain("watch test.jetmesh.io/widgets");
  });

  it("survives restart, refuses requests for a while, stalls watches, persists to a directory", async () => {
    const before = await custom.getNamespacedCustomObject({ ...W, name: "gen" });
    await server.restart();
    expect(await custom.getNamespacedCustomObject({ ...W, name: "gen" })).toEqual(before);

    server.faults.refuseRequests(true);
    expect(await status(custom.getNamespacedCustomObject({ ...W, name: "gen" }))).toBe(503);
    expect(await status(custom.getNamespacedCustomObject({ ...W, name: "gen" }))).toBe(503);
    server.faults.refuseRequests(false);
    expect(await status(custom.getNamespacedCustomObject({ ...W, name: "gen" }))).toBe(200);

    // A stalled watch stays open but delivers nothing until the stall ends.
    const ctrl = new AbortController();
    const res = await fetch(
      `${server.url}/apis/test.jetmesh.io/v1alpha1/namespaces/default/widgets?watch=1&resourceVersion=${(before as Widget).metadata!.resourceVersion}&fieldSelector=metadata.name%3Dgen`,
      { signal: ctrl.signal },
    );
    const reader = res.body!.getReader();
    server.faults.stallWatches(true);
    await custom.patchNamespacedCustomObject({ ...W, name: "gen", body: { metadata: { labels: { stalled: "yes" } } } }, merge);
    const pending = reader.read();
    let delivered = false;
    void pending.then(() => (delivered = true));
    // Not delivered by the time the server has answered a later request (an open watch gets
    // the event before the PATCH that caused it is answered).
    await custom.getNamespacedCustomObject({ ...W, name: "gen" });
    await new Promise((r) => setImmediate(r));
    expect(delivered).toBe(false);
    server.faults.stallWatches(false);
    const { value } = await pending;
    expect(new TextDecoder().decode(value)).toContain('"stalled":"yes"');
    ctrl.abort();

    const dir = mkdtempSync(join(tmpdir(), "kube-persist-"));
    const a = await startKubeApiServer({ persistDir: dir });
    const kcA = new KubeConfig();
    kcA.loadFromFile(a.kubeconfigPath);
    await kcA.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "persisted" }, data: { k: "v" } } });
    await a.stop();
    const b = await startKubeApiServer({ persistDir: dir });
    try {
      const kcB = new KubeConfig();
      kcB.loadFromFile(b.kubeconfigPath);
      const cm = await kcB.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: "default", name: "persisted" });
      expect(cm.data).toEqual({ k: "v" });
    } finally {
      await b.stop();
    }
  });

  it("serves cluster-scoped custom resources in every served version from one storage", async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const version = (name: string, storage: boolean) => ({
      name,
      served: true,
      storage,
      schema: { openAPIV3Schema: { type: "object", properties: { spec: { type: "object", properties: { size: { type: "integer", default: 1 } } } } } },
    });
    // Raw JSON: client-node's typed serializer would drop the schema's `default` (it expects `_default`).
    const created = await fetch(`${server.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "clusterthings.test.jetmesh.io" },
        spec: {
          group: "test.jetmesh.io",
          scope: "Cluster",
          names: { plural: "clusterthings", kind: "ClusterThing" },
          versions: [version("v1beta1", false), version("v1", true)],
        },
      }),
    });
    expect(created.status).toBe(201);
    const crd = await ext.readCustomResourceDefinition({ name: "clusterthings.test.jetmesh.io" });
    expect(crd.status?.conditions?.find((c) => c.type === "Established")?.status).toBe("True");
    const C = { group: "test.jetmesh.io", plural: "clusterthings" };
    await custom.createClusterCustomObject({
      ...C,
      version: "v1",
      body: { apiVersion: "test.jetmesh.io/v1", kind: "ClusterThing", metadata: { name: "one", namespace: "ignored" }, spec: {} },
    });
    const viaBeta = (await custom.getClusterCustomObject({ ...C, version: "v1beta1", name: "one" })) as Widget;
    expect(viaBeta.apiVersion).toBe("test.jetmesh.io/v1beta1");
    expect(viaBeta.metadata?.namespace).toBeUndefined();
    expect(viaBeta.spec).toEqual({ size: 1 });
    const groups = (await (await fetch(`${server.url}/apis/test.jetmesh.io`)).json()) as { preferredVersion: { version: string } };
    expect(groups.preferredVersion.version).toBe("v1");
    // Deleting the CRD deletes its instances, then the CRD.
    await ext.deleteCustomResourceDefinition({ name: "clusterthings.test.jetmesh.io" });
    expect(await status(custom.getClusterCustomObject({ ...C, version: "v1", name: "one" }))).toBe(404);
    expect((await fetch(`${server.url}/apis/test.jetmesh.io/v1`)).status).toBe(404);
  });

  it("runs standalone: one JSON line with url and kubeconfig, data kept across SIGTERM and restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kube-main-"));
    const main = fileURLToPath(new URL("../src/kube/main.ts", import.meta.url));
    const start = async (...extra: string[]) => {
      const child = spawn(
        process.execPath,
        ["--conditions=source", main, "--port", "0", "--data", join(dir, "data"), "--kubeconfig", join(dir, "kubeconfig"), ...extra],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const line = await waitFor("standalone server prints its JSON line", () => out.includes("\n") && out.split("\n")[0]);
      return { child, info: JSON.parse(line) as { url: string; kubeconfig: string }, stderr: () => err };
    };
    const stopped = (c: ChildProcess) => new Promise<number | null>((r) => c.once("exit", (code) => r(code)));
    const a = await start();
    try {
      expect(a.info.kubeconfig).toBe(join(dir, "kubeconfig"));
      const res = await fetch(`${a.info.url}/api/v1/namespaces/default/configmaps`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ metadata: { name: "kept" }, data: { x: "1" } }),
      });
      expect(res.status).toBe(201);
    } finally {
      const exited = stopped(a.child);
      a.child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
    const b = await start("--log");
    try {
      const cm = (await (await fetch(`${b.info.url}/api/v1/namespaces/default/configmaps/kept`)).json()) as { data: Record<string, string> };
      expect(cm.data).toEqual({ x: "1" });
      await waitFor("request log line", () => b.stderr().includes('"path":"/api/v1/namespaces/default/configmaps/kept","code":200'));
    } finally {
      const exited = stopped(b.child);
      b.child.kill("SIGTERM");
      await exited;
    }
    const bad = spawn(process.execPath, ["--conditions=source", main, "--port", "nope"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    bad.stderr.on("data", (d: Buffer) => (err += d.toString()));
    expect(await stopped(bad)).toBe(2);
    expect(err).toContain("invalid --port nope");
  });
});
