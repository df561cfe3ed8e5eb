// Acceptance: the real kubectl 1.32 against the Kubernetes API test server.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { startKubeApiServer, waitFor, type KubeApiServer } from "../src/index.ts";
import { fixture, kubectlFor } from "./kube-helpers.ts";

let server: KubeApiServer;
let kubectl: ReturnType<typeof kubectlFor>;

beforeAll(async () => {
  server = await startKubeApiServer();
  kubectl = kubectlFor(server.kubeconfigPath);
});
afterAll(async () => {
  await server?.stop();
});

describe("kubectl against the test server", () => {
  it("applies a CRD and custom resources, prints columns, validates, patches (default client-side validation on)", async () => {
    expect(await kubectl.ok(["apply", "-f", fixture("widgets-crd.yaml")])).toContain("widgets.test.jetmesh.io created");
    expect(await kubectl.ok(["apply", "-f", fixture("widget.yaml")])).toContain("widget.test.jetmesh.io/alpha created");

    // additionalPrinterColumns through a meta.k8s.io Table; category and short name resolve.
    const table = await kubectl.ok(["get", "widgets", "-A"]);
    expect(table.split("\n")[0]).toMatch(/^NAMESPACE\s+NAME\s+COLOR\s+REPLICAS\s+READY\s+AGE$/);
    expect(table).toMatch(/default\s+alpha\s+red\s+2\s+\d+s/);
    expect(await kubectl.ok(["get", "jetmesh", "-o", "name"])).toContain("widget.test.jetmesh.io/alpha");

    // Defaulting from the schema is visible in -o yaml.
    const yaml = await kubectl.ok(["get", "wdg", "alpha", "-o", "yaml"]);
    expect(yaml).toContain("size: 1Mi");
    expect(yaml).toMatch(/generation: 1\n/);

    // An invalid resource is refused with field paths and reasons (enum, maximum).
    const bad = await kubectl.run(["apply", "-f", fixture("widget-invalid.yaml")]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('The Widget "broken" is invalid');
    expect(bad.stderr).toContain('spec.color: Unsupported value: "purple": supported values: "red", "green", "blue"');
    expect(bad.stderr).toContain("spec.scaling.maxReplicas: Invalid value: 50: spec.scaling.maxReplicas in body should be less than or equal to 10");

    // A CEL rule (x-kubernetes-validations).
    const cel = await kubectl.run(["patch", "widget", "alpha", "--type", "merge", "-p", '{"spec":{"scaling":{"minReplicas":9,"maxReplicas":3}}}']);
    expect(cel.code).not.toBe(0);
    expect(cel.stderr).toContain("spec: Invalid value: minReplicas must not exceed maxReplicas");

    // A CEL rule that does not compile fails the CRD loudly instead of being skipped.
    const unsupported = await kubectl.run(
      ["apply", "-f", "-"],
      [
        "apiVersion: apiextensions.k8s.io/v1",
        "kind: CustomResourceDefinition",
        "metadata: {name: gadgets.test.jetmesh.io}",
        "spec: {group: test.jetmesh.io, scope: Namespaced, names: {plural: gadgets, kind: Gadget},",
        "  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object,",
        '    x-kubernetes-validations: [{rule: "self.metadata.name.noSuchMethod() == self.metadata.name"}]}}}]}',
        "",
      ].join("\n"),
    );
    expect(unsupported.code).not.toBe(0);
    expect(unsupported.stderr).toContain("spec.versions[0].schema.openAPIV3Schema.x-kubernetes-validations[0].rule: Invalid value");
    // A rule that does not type-check fails the CRD, as kube-apiserver's compilation does.
    expect(unsupported.stderr).toContain("compilation failed");

    // The custom resource's scale subresource.
    expect(await kubectl.ok(["scale", "widget", "alpha", "--replicas=3"])).toContain("scaled");
    expect(await kubectl.ok(["get", "widget", "alpha", "-o", "jsonpath={.spec.replicas}"])).toBe("3");

    // Unknown fields are rejected by kubectl's default strict field validation (server side).
    const unknown = await kubectl.run(
      ["apply", "-f", "-"],
      "apiVersion: test.jetmesh.io/v1alpha1\nkind: Widget\nmetadata: {name: gamma, namespace: default}\nspec: {color: red, colour: blue}\n",
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('Widget in version "v1alpha1" cannot be handled as a Widget: strict decoding error: unknown field "spec.colour"');
    // On an existing object kubectl sends a patch: the error names the patch (apiserver patch.go).
    const unknownPatch = await kubectl.run(
      ["apply", "-f", "-"],
      "apiVersion: test.jetmesh.io/v1alpha1\nkind: Widget\nmetadata: {name: alpha, namespace: default}\nspec: {color: red, colour: blue}\n",
    );
    expect(unknownPatch.stderr).toMatch(/The request is invalid: patch: Invalid value: ".*": strict decoding error: unknown field "spec.colour"/);
    const unknownApply = await kubectl.run(
      ["apply", "--server-side", "-f", "-"],
      "apiVersion: test.jetmesh.io/v1alpha1\nkind: Widget\nmetadata: {name: alpha, namespace: default}\nspec: {color: red, colour: blue}\n",
    );
    expect(unknownApply.stderr).toContain(
      "Error from server: failed to create typed patch object (test.jetmesh.io/v1alpha1, Kind=Widget): .spec.colour: field not declared in schema",
    );

    // Merge and JSON patches; spec changes bump generation.
    await kubectl.ok(["patch", "widget", "alpha", "--type", "merge", "-p", '{"spec":{"color":"green"}}']);
    await kubectl.ok(["patch", "widget", "alpha", "--type", "json", "-p", '[{"op":"replace","path":"/spec/replicas","value":4}]']);
    expect(await kubectl.ok(["get", "widget", "alpha", "-o", "jsonpath={.spec.color} {.spec.replicas} {.metadata.generation}"])).toBe("green 4 4");

    // Client-side apply again (last-applied annotation + merge patch) restores the manifest.
    expect(await kubectl.ok(["apply", "-f", fixture("widget.yaml")])).toContain("configured");
    expect(await kubectl.ok(["get", "widget", "alpha", "-o", "jsonpath={.spec.color} {.spec.replicas}"])).toBe("red 2");

    // Server-side apply creates and then updates a resource owned by the field manager.
    const ssa = "apiVersion: test.jetmesh.io/v1alpha1\nkind: Widget\nmetadata: {name: beta, namespace: default}\nspec: {color: blue, tags: [a, b]}\n";
    expect(await kubectl.ok(["apply", "--server-side", "-f", "-"], ssa)).toContain("serverside-applied");
    expect(await kubectl.ok(["apply", "--server-side", "-f", "-"], ssa.replace("tags: [a, b]", "replicas: 3"))).toContain("serverside-applied");
    expect(await kubectl.ok(["get", "widget", "beta", "-o", "jsonpath={.spec.color} {.spec.replicas} {.spec.tags}"])).toBe("blue 3 ");
  });

  it("waits for a Ready condition, streams changes with -w, and holds deletion on a finalizer", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    const api = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: "test.jetmesh.io", version: "v1alpha1", namespace: "default", plural: "widgets", name: "alpha" };

    const wait = kubectl.run(["wait", "--for=condition=Ready", "widget/alpha", "--timeout=20s"]);
    const watcher = kubectl.spawn(["get", "widget", "alpha", "-w", "-o", "custom-columns=NAME:.metadata.name,COLOR:.spec.color", "--no-headers"]);
    let watched = "";
    watcher.stdout!.on("data", (d: Buffer) => (watched += d.toString()));
    await waitFor("kubectl get -w prints the current state", () => watched.includes("alpha"));

    const current = (await api.getNamespacedCustomObject(ref)) as { metadata: { resourceVersion: string; generation: number }; status?: unknown };
    // kubectl wait also compares status.observedGeneration with metadata.generation.
    await api.replaceNamespacedCustomObjectStatus({
      ...ref,
      body: {
        ...current,
        status: {
          observedGeneration: current.metadata.generation,
          conditions: [{ type: "Ready", status: "True", reason: "Test", message: "ok", lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") }],
        },
      },
    });
    const waited = await wait;
    expect(waited.stderr).toBe("");
    expect(waited.stdout).toContain("widget.test.jetmesh.io/alpha condition met");
    expect(await kubectl.ok(["get", "widgets"])).toMatch(/alpha\s+red\s+2\s+True\s+/);

    await kubectl.ok(["patch", "widget", "alpha", "--type", "merge", "-p", '{"spec":{"color":"blue"}}']);
    await waitFor("kubectl get -w sees the change", () => /alpha\s+blue/.test(watched));
    watcher.kill();

    await kubectl.ok(["patch", "widget", "alpha", "--type", "merge", "-p", '{"metadata":{"finalizers":["test.jetmesh.io/hold"]}}']);
    await kubectl.ok(["delete", "widget", "alpha", "--wait=false"]);
    expect(await kubectl.ok(["get", "widget", "alpha", "-o", "jsonpath={.metadata.deletionTimestamp}"])).toMatch(/^\d{4}-/);
    await kubectl.ok(["patch", "widget", "alpha", "--type", "json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]']);
    const gone = await kubectl.run(["get", "widget", "alpha"]);
    expect(gone.stderr).toContain('widgets.test.jetmesh.io "alpha" not found');
  });

  it("scales a Deployment through the scale subresource and re-applies it with a strategic merge patch", async () => {
    // Built-ins are decoded strictly too: a misspelled field is refused, not silently dropped.
    const typo = await kubectl.run(["apply", "-f", "-"], readFileSync(fixture("deployment.yaml"), "utf8").replace("image:", "imag:"));
    expect(typo.stderr).toContain(
      'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imag"',
    );
    await kubectl.ok(["apply", "-f", fixture("deployment.yaml")]);
    expect(await kubectl.ok(["scale", "deployment", "inventory", "--replicas=3"])).toContain("scaled");
    expect(await kubectl.ok(["get", "deploy", "inventory", "-o", "jsonpath={.spec.replicas}"])).toBe("3");
    const scaleRequests = server.requests.filter((r) => r.resource === "deployments" && r.subresource === "scale");
    expect(scaleRequests.map((r) => r.verb)).toContain("patch");
    // kubectl set env → strategic merge patch of the containers list merged by name.
    await kubectl.ok(["set", "env", "deployment/inventory", "EXTRA=1"]);
    const env = await kubectl.ok(["get", "deploy", "inventory", "-o", "jsonpath={.spec.template.spec.containers[0].env[*].name}"]);
    expect(env).toBe("LOG_LEVEL EXTRA");
    // Field ownership: the scale write owns spec.replicas, so a server-side apply that sets it conflicts.
    const conflict = await kubectl.run(["apply", "--server-side", "-f", fixture("deployment.yaml")]);
    expect(conflict.stderr).toContain('Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using autoscaling/v1: .spec.replicas');
    await kubectl.ok(["apply", "--server-side", "--force-conflicts", "-f", fixture("deployment.yaml")]);
    expect(await kubectl.ok(["get", "deploy", "inventory", "-o", "jsonpath={.spec.replicas}"])).toBe("1");
    const table = await kubectl.ok(["get", "deployments"]);
    expect(table.split("\n")[0]).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);
  });

  // The project's own CRDs and example manifests (crds/, examples/) as a user applies them.
  const root = fileURLToPath(new URL("../../", import.meta.url));
  it.runIf(existsSync(`${root}crds`) && existsSync(`${root}examples`))("applies the project's crds/ and examples/ and shows their columns", async () => {
    const crds = await kubectl.ok(["apply", "-f", `${root}crds`]);
    expect(crds).toContain("eventstreams.jetmesh.io created");
    expect(crds).toContain("eventsubscriptions.jetmesh.io created");
    const examples = await kubectl.ok(["apply", "-f", `${root}examples`]);
    expect(examples).toContain("eventsubscription.jetmesh.io/inventory created");
    const table = await kubectl.ok(["get", "eventsubscriptions", "-A"]);
    expect(table.split("\n")[0]).toMatch(/^NAMESPACE\s+NAME\s+READY\s+/);
    expect(table).toMatch(/shop\s+inventory\s+/);
    // Re-applying unchanged manifests is a no-op, as on a real cluster.
    expect(await kubectl.ok(["apply", "-f", `${root}examples`])).toContain("eventsubscription.jetmesh.io/inventory unchanged");
    // A CEL rule of the real CRD refuses an inconsistent change with the rule's message.
    const bad = await kubectl.run([
      "patch",
      "eventsubscription",
      "inventory",
      "-n",
      "shop",
      "--type",
      "merge",
      "-p",
      '{"spec":{"scaling":{"minReplicas":9,"maxReplicas":3}}}',
    ]);
    expect(bad.stderr).toContain('The EventSubscription "inventory" is invalid: spec.scaling: Invalid value: minReplicas must not exceed maxReplicas');
    // The HTTP push target (docs/http.md): a Service or a URL, not both.
    expect(await kubectl.ok(["get", "eventsubscription", "notifications", "-n", "shop", "-o", "jsonpath={.spec.subscriber.http.service}"])).toBe(
      "notifications",
    );
    const both = await kubectl.run([
      "patch",
      "eventsubscription",
      "notifications",
      "-n",
      "shop",
      "--type",
      "merge",
      "-p",
      '{"spec":{"subscriber":{"http":{"url":"http://x/"}}}}',
    ]);
    expect(both.stderr).toContain("set either service (with port and path) or url");
  });
});
