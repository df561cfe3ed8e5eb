// The API test server kept honest: one scripted kubectl session (apply, label, patch, scale,
// wait, explain, events, create namespace/configmap, auth can-i, delete with finalizers,
// invalid objects, subscriber.http targets created and refused by the CRD's CEL rules, with the
// refusal messages compared) runs against the API test server and against the real kube-apiserver, and
// every step's outcome is compared. The differences must be exactly the ones listed in
// docs/testing.md ("Differences between the API test server and kube-apiserver"): a new one
// fails this test, and so does one that went away (so the list stays true).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { startControlPlane, startKubeApiServer, type ControlPlane, type KubeApiServer } from "@jetmesh/testing";
import { fixture, kubectlFor } from "./kube-helpers.ts";

const ROOT = new URL("../../", import.meta.url);
const CRDS = new URL("crds", ROOT).pathname;
const EXAMPLES = new URL("examples", ROOT).pathname;

interface Step {
  name: string;
  args: string[];
  input?: string;
  /** What to compare besides success: the output, made comparable (default: nothing). */
  compare?: (stdout: string) => string;
  /** For a refusal: the part of kubectl's error to compare (default: nothing). */
  compareError?: (stderr: string) => string;
}

const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name} }\n`;
const firstLine = (s: string) => s.split("\n")[0]!.replace(/\s+/g, " ").trim();
const trimmed = (s: string) => s.trim();
/** The apiserver's message, without kubectl's apply wrapping ("Error from server (Invalid): error when creating …"). */
const refusal = (s: string) => /is invalid: (.*)$/m.exec(s)?.[1]?.trim() ?? s.trim();
const httpSub = (name: string, http: string) =>
  `apiVersion: jetmesh.io/v1alpha1\nkind: EventSubscription\nmetadata: { name: ${name}, namespace: shop }\n` +
  `spec: { stream: events, types: ["shop.shipment.dispatched.v1"], subscriber: { deployment: notifications, http: ${http} } }\n`;
/** subscriber.http (docs/http.md): what the CRD's schema and CEL rules create and refuse, message for message. */
const HTTP_STEPS: Step[] = [
  { name: "http: a service target", args: ["apply", "-f", "-"], input: httpSub("http-service", "{ service: notifications, port: 8080, path: /events }") },
  { name: "http: a url target", args: ["apply", "-f", "-"], input: httpSub("http-url", '{ url: "https://notify.example.com:8443/hooks" }') },
  {
    name: "http: service and url refused",
    args: ["apply", "-f", "-"],
    input: httpSub("http-both", '{ service: notifications, url: "http://notify.example/events" }'),
    compareError: refusal,
  },
  { name: "http: neither refused", args: ["apply", "-f", "-"], input: httpSub("http-neither", "{ timeout: 5s }"), compareError: refusal },
  {
    name: "http: url with port refused",
    args: ["apply", "-f", "-"],
    input: httpSub("http-url-port", '{ url: "http://notify.example/events", port: 8080 }'),
    compareError: refusal,
  },
  {
    name: "http: url with path refused",
    args: ["apply", "-f", "-"],
    input: httpSub("http-url-path", '{ url: "http://notify.example", path: /events }'),
    compareError: refusal,
  },
  {
    name: "http: url with credentials refused",
    args: ["apply", "-f", "-"],
    input: httpSub("http-url-credentials", '{ url: "http://user:secret@notify.example/events" }'),
    compareError: refusal,
  },
  {
    name: "http: edit to service and url refused",
    args: ["-n", "shop", "patch", "jmsub", "http-url", "--type=merge", "-p", '{"spec":{"subscriber":{"http":{"service":"notifications"}}}}'],
    compareError: refusal,
  },
  {
    name: "http: edit from url to service",
    args: [
      "-n",
      "shop",
      "patch",
      "jmsub",
      "http-url",
      "--type=merge",
      "-p",
      '{"spec":{"subscriber":{"http":{"url":null,"service":"notifications","port":8080}}}}',
    ],
  },
  {
    name: "http: read the edit",
    args: ["-n", "shop", "get", "jmsub", "http-url", "-o", "jsonpath={.spec.subscriber.http}"],
    compare: (s) => JSON.stringify(JSON.parse(s || "null")),
  },
];
/** The refusals above, and the message kube-apiserver gives for each (the CRD's rule messages). */
const HTTP_REFUSALS: Record<string, string> = {
  "http: service and url refused": "spec.subscriber.http: Invalid value: set either service (with port and path) or url",
  "http: neither refused": "spec.subscriber.http: Invalid value: set either service (with port and path) or url",
  "http: url with port refused": "spec.subscriber.http: Invalid value: port and path go with service; a url carries its own",
  "http: url with path refused": "spec.subscriber.http: Invalid value: port and path go with service; a url carries its own",
  "http: url with credentials refused": `spec.subscriber.http.url: Invalid value: "http://user:secret@notify.example/events": spec.subscriber.http.url in body should match '^https?://[^\\s/@]+(/[^\\s]*)?$'`,
  "http: edit to service and url refused": "spec.subscriber.http: Invalid value: set either service (with port and path) or url",
};

const SCRIPT: Step[] = [
  { name: "apply the CRDs", args: ["apply", "-f", CRDS] },
  { name: "create namespace", args: ["create", "namespace", "diff-created"] },
  { name: "apply a namespace", args: ["apply", "-f", "-"], input: ns("shop") },
  { name: "create configmap", args: ["-n", "shop", "create", "configmap", "settings", "--from-literal=mode=fast"] },
  { name: "apply the examples", args: ["apply", "-f", EXAMPLES] },
  { name: "get eventstreams (table header)", args: ["-n", "shop", "get", "eventstreams"], compare: firstLine },
  { name: "get eventsubscriptions (table header)", args: ["-n", "shop", "get", "eventsubscriptions"], compare: firstLine },
  { name: "label", args: ["-n", "shop", "label", "eventstream", "events", "team=payments"] },
  { name: "read the label", args: ["-n", "shop", "get", "jmstream", "events", "-o", "jsonpath={.metadata.labels.team}"], compare: trimmed },
  { name: "merge patch", args: ["-n", "shop", "patch", "jmstream", "events", "--type=merge", "-p", '{"spec":{"maxAge":"24h"}}'] },
  {
    name: "read the patch and the defaults",
    args: ["-n", "shop", "get", "jmstream", "events", "-o", "jsonpath={.spec.maxAge} {.spec.retention} {.spec.storage} {.metadata.generation}"],
    compare: trimmed,
  },
  {
    name: "immutable field refused at admission",
    args: ["-n", "shop", "patch", "jmstream", "events", "--type=merge", "-p", '{"spec":{"retention":"workqueue"}}'],
  },
  {
    name: "invalid object refused",
    args: ["apply", "-f", "-"],
    input: 'apiVersion: jetmesh.io/v1alpha1\nkind: EventStream\nmetadata: { name: bad, namespace: shop }\nspec: { subjects: ["shop.bad.>"], replicas: 9 }\n',
  },
  { name: "apply a deployment", args: ["apply", "-f", fixture("deployment.yaml")] },
  { name: "scale", args: ["scale", "deployment", "inventory", "--replicas=3"] },
  { name: "wait for a jsonpath", args: ["wait", "--for=jsonpath={.spec.replicas}=3", "deployment/inventory", "--timeout=20s"] },
  {
    name: "explain a CRD field",
    args: ["explain", "eventstream.spec.retention"],
    compare: (s) => (/limits \| interest \| workqueue/.test(s) ? "explained" : s),
  },
  { name: "auth can-i", args: ["auth", "can-i", "create", "eventstreams", "-n", "shop"], compare: trimmed },
  { name: "events", args: ["-n", "shop", "get", "events", "-o", "name"] },
  {
    name: "add a finalizer",
    args: ["-n", "shop", "patch", "jmstream", "dead-letters", "--type=merge", "-p", '{"metadata":{"finalizers":["example.com/hold"]}}'],
  },
  { name: "delete without waiting", args: ["-n", "shop", "delete", "jmstream", "dead-letters", "--wait=false"] },
  {
    name: "held by its finalizer",
    args: ["-n", "shop", "get", "jmstream", "dead-letters", "-o", "jsonpath={.metadata.deletionTimestamp}"],
    compare: (s) => (s.trim() ? "deleting" : "not deleting"),
  },
  { name: "release the finalizer", args: ["-n", "shop", "patch", "jmstream", "dead-letters", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'] },
  { name: "gone", args: ["-n", "shop", "get", "jmstream", "dead-letters", "--ignore-not-found", "-o", "name"], compare: trimmed },
  ...HTTP_STEPS,
  { name: "delete a namespace", args: ["delete", "namespace", "shop", "--wait=false"] },
];

/** Differences we know of and keep, by step name, each as documented in docs/testing.md. */
const KNOWN_DIFFERENCES = ["create namespace", "create configmap"];

interface Outcome {
  ok: boolean;
  out: string;
  /** compareError's part of stderr ("" without compareError). */
  err: string;
  stderr: string;
}

async function runScript(kubeconfig: string): Promise<Map<string, Outcome>> {
  const kubectl = kubectlFor(kubeconfig);
  const outcomes = new Map<string, Outcome>();
  for (const step of SCRIPT) {
    const r = await kubectl.run(step.args, step.input);
    outcomes.set(step.name, {
      ok: r.code === 0,
      out: step.compare ? step.compare(r.stdout) : "",
      err: step.compareError ? step.compareError(r.stderr) : "",
      stderr: r.stderr.trim(),
    });
  }
  return outcomes;
}

let testServer: KubeApiServer;
let real: ControlPlane;
beforeAll(async () => {
  [testServer, real] = await Promise.all([startKubeApiServer(), startControlPlane()]);
}, 180_000);
afterAll(async () => {
  await testServer?.stop();
  await real?.stop();
});

describe("differential: the same kubectl session on the API test server and on kube-apiserver", () => {
  it("differs exactly where docs/testing.md says", async () => {
    const onTest = await runScript(testServer.kubeconfigPath);
    const onReal = await runScript(real.kubeconfigPath);
    const differences: string[] = [];
    for (const step of SCRIPT) {
      const a = onTest.get(step.name)!;
      const b = onReal.get(step.name)!;
      if (a.ok !== b.ok || a.out !== b.out || a.err !== b.err) {
        differences.push(step.name);
        console.log(`difference at "${step.name}":\n  test server: ok=${a.ok} ${a.out} ${a.stderr}\n  kube-apiserver: ok=${b.ok} ${b.out} ${b.stderr}`);
      }
    }
    // The real apiserver did what a user expects at each step (so the comparison means something).
    expect(
      [...onReal]
        .filter(([, o]) => !o.ok)
        .map(([name]) => name)
        .sort(),
    ).toEqual(["immutable field refused at admission", "invalid object refused", ...Object.keys(HTTP_REFUSALS)].sort());
    for (const [name, message] of Object.entries(HTTP_REFUSALS)) expect(onReal.get(name)!.err, name).toBe(message);
    expect(JSON.parse(onReal.get("http: read the edit")!.out)).toEqual({ service: "notifications", port: 8080 });
    expect(onReal.get("auth can-i")!.out).toBe("yes");
    expect(onReal.get("held by its finalizer")!.out).toBe("deleting");
    expect(differences).toEqual(KNOWN_DIFFERENCES);
    // And the list in the docs is this list.
    const docs = readFileSync(new URL("docs/testing.md", ROOT), "utf8");
    const section = docs.slice(docs.indexOf("## Differences between the API test server and kube-apiserver"));
    for (const d of KNOWN_DIFFERENCES) expect(section, `docs/testing.md lists "${d}"`).toContain(`\`${d}\``);
  }, 180_000);
});
