// `jetmesh` as a kubectl plugin is expected to behave: --context, -n defaulting to the
// context's namespace, -A, -o json|yaml, --version; `dlq` finds the dead-letter streams from
// the EventSubscriptions' spec.deadLetter; `shop verify` reports progress on stderr. On the
// Kubernetes API test server and a real nats-server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startKubeApiServer, startNats, toolPath, type KubeApiServer, type NatsCluster } from "@jetmesh/testing";
import { SHOP_STREAM, SUBSCRIPTIONS } from "@jetmesh/shop";
import { runCli } from "@jetmesh/cli";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const exec = promisify(execFile);

const run = async (argv: string[], env: Record<string, string | undefined>) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
};

const subscription = (namespace: string, name: string, stream: string, deadLetter?: string) => `
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  stream: ${stream}
  types: ["${namespace}.thing.v1"]
${deadLetter ? `  deadLetter: { stream: ${deadLetter} }\n` : ""}---`;

describe("jetmesh: kubectl conventions and dead letters found from the subscriptions", () => {
  let dir: string;
  let kube: KubeApiServer;
  let nats: NatsCluster;
  let nc: NatsConnection;
  let env: Record<string, string>;
  const seq: Record<string, number> = {};

  const kubectl = (args: string[], input?: string) =>
    new Promise<string>((resolve, reject) => {
      const p = execFile(toolPath("kubectl"), ["--kubeconfig", kube.kubeconfigPath, ...args], (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
      );
      if (input !== undefined) p.stdin?.end(input);
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "jetmesh-cli-conv-"));
    [kube, nats] = await Promise.all([startKubeApiServer({ kubeconfigPath: join(dir, "kubeconfig") }), startNats()]);
    // Two contexts on the same server: "shop" (namespace shop, the current one) and "team-b".
    const kc = parse(readFileSync(kube.kubeconfigPath, "utf8")) as { contexts: { name: string; context: Record<string, string> }[]; "current-context": string };
    const base = kc.contexts[0]!.context;
    kc.contexts = [
      { name: "shop", context: { ...base, namespace: "shop" } },
      { name: "team-b", context: { ...base, namespace: "team-b" } },
    ];
    kc["current-context"] = "shop";
    writeFileSync(kube.kubeconfigPath, stringify(kc));
    env = { KUBECONFIG: kube.kubeconfigPath, NATS_URL: nats.url };

    await kubectl(["apply", "-f", join(root, "crds")]);
    await kubectl(["wait", "--for=condition=Established", "--timeout=30s", "-f", join(root, "crds")]);
    await kubectl(
      ["apply", "-f", "-"],
      "apiVersion: v1\nkind: Namespace\nmetadata: { name: shop }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: team-b }\n",
    );
    await kubectl(
      ["apply", "-f", "-"],
      [
        subscription("shop", "inventory", "events", "dead-letters"),
        subscription("shop", "payment", "events", "dead-letters"),
        subscription("shop", "audit", "events"),
        subscription("team-b", "billing", "jobs", "failures"),
      ].join("\n"),
    );

    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    // The JetStream streams the operator would have made of EventStreams shop/dead-letters and team-b/failures.
    await jsm.streams.add({ name: "shop_dead-letters", subjects: ["jetmesh.dlq.shop.>"] });
    await jsm.streams.add({ name: "team-b_failures", subjects: ["jetmesh.dlq.team-b.>"] });
    // Where replayed shop events go back to (the shop's events stream).
    await jsm.streams.add({ name: SHOP_STREAM, subjects: ["shop.>"] });
    const js = jetstream(nc);
    for (const [ns, sub] of [
      ["shop", "inventory"],
      ["shop", "payment"],
      ["shop", "inventory"],
      ["team-b", "billing"],
    ] as const) {
      const h = headers();
      const id = `${sub}-${Object.keys(seq).length + 1}`;
      h.set("ce-id", id);
      h.set("ce-type", `${ns}.thing.v1`);
      h.set("ce-source", "/test");
      h.set("ce-specversion", "1.0");
      h.set("JetMesh-Dlq-Reason", "terminal");
      seq[id] = (await js.publish(`jetmesh.dlq.${ns}.${sub}`, JSON.stringify({ id }), { headers: h })).seq;
    }
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await Promise.all([kube?.stop(), nats?.destroy()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("dlq list: the dead-letter streams of the context namespace's subscriptions", async () => {
    const r = await run(["dlq", "list"], env);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const rows = r.out.split("\n").slice(1);
    expect(
      rows.map((l) =>
        l
          .split(/\s+/)
          .slice(0, 4)
          .filter((_, i) => i !== 2),
      ),
    ).toEqual([
      ["shop_dead-letters", "1", "shop/inventory"],
      ["shop_dead-letters", "2", "shop/payment"],
      ["shop_dead-letters", "3", "shop/inventory"],
    ]);
  });

  it("dlq list --subscription: only that subscription's; -A every namespace's, as JSON or YAML", async () => {
    const one = await run(["dlq", "list", "--subscription", "payment", "-o", "json"], env);
    expect((JSON.parse(one.out) as { ceId: string; subscription: string }[]).map((d) => [d.subscription, d.ceId])).toEqual([["shop/payment", "payment-2"]]);
    const all = await run(["dlq", "list", "-A", "-o", "yaml"], env);
    expect(all.code).toBe(0);
    expect((parse(all.out) as { stream: string; ceId: string }[]).map((d) => `${d.stream} ${d.ceId}`)).toEqual([
      "shop_dead-letters inventory-1",
      "shop_dead-letters payment-2",
      "shop_dead-letters inventory-3",
      "team-b_failures billing-4",
    ]);
    // --context switches cluster context and with it the default namespace.
    const teamB = await run(["dlq", "list", "--context", "team-b", "-o", "json"], env);
    expect((JSON.parse(teamB.out) as { ceId: string }[]).map((d) => d.ceId)).toEqual(["billing-4"]);
    const explicit = await run(["dlq", "list", "-n", "team-b", "-o", "json"], env);
    expect(JSON.parse(explicit.out)).toEqual(JSON.parse(teamB.out));
  });

  it("dlq show/replay stay inside the subscription asked for", async () => {
    const other = await run(["dlq", "show", String(seq["payment-2"]), "--subscription", "inventory"], env);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(
      /no dead letter with sequence 2 in stream shop_dead-letters on jetmesh\.dlq\.shop\.inventory \(it is on jetmesh\.dlq\.shop\.payment\)/,
    );
    const refused = await run(["dlq", "replay", String(seq["payment-2"]), "--subscription", "inventory", "--keep"], env);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/is on jetmesh\.dlq\.shop\.payment, not of the subscription asked for/);

    const replay = await run(["dlq", "replay", "--all", "--subscription", "shop/inventory"], env);
    expect(replay.err).toBe("");
    expect(replay.out.split("\n").map((l) => /^replayed (\d+)/.exec(l)?.[1])).toEqual([String(seq["inventory-1"]), String(seq["inventory-3"])]);
    const left = await run(["dlq", "list", "-o", "json"], env);
    expect((JSON.parse(left.out) as { ceId: string }[]).map((d) => d.ceId)).toEqual(["payment-2"]);
    // A namespace with one dead-letter stream needs no --subscription to show one.
    const show = await run(["dlq", "show", String(seq["payment-2"])], env);
    expect(show.code).toBe(0);
    expect(show.out).toContain("ce-id: payment-2");
  });

  it("says what is missing: no deadLetter, an unknown subscription, several streams, an unknown context", async () => {
    const none = await run(["dlq", "list", "--subscription", "audit"], env);
    expect(none).toMatchObject({ code: 1 });
    expect(none.err).toMatch(/EventSubscription shop\/audit has no spec.deadLetter/);
    const unknown = await run(["dlq", "list", "--subscription", "nope"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no EventSubscription shop\/nope/);
    const empty = await run(["dlq", "list", "-n", "default"], env);
    expect(empty).toMatchObject({ code: 0, out: "no EventSubscription in namespace default names a dead-letter stream (spec.deadLetter)" });
    await kubectl(["apply", "-f", "-"], subscription("team-b", "reports", "jobs", "other-failures"));
    const several = await run(["dlq", "show", "1", "-n", "team-b"], env);
    expect(several.code).toBe(2);
    expect(several.err).toMatch(
      /several dead-letter streams: team-b_failures \(team-b\/billing\); team-b_other-failures \(team-b\/reports\); pick one with --subscription NAME or --stream NAME/,
    );
    // Listing them all: the stream that does not exist (yet) is named, the other one still listed.
    const partly = await run(["dlq", "list", "-n", "team-b", "-o", "json"], env);
    expect(partly.code).toBe(1);
    expect(partly.err).toMatch(/^jetmesh: stream team-b_other-failures does not exist on nats:\/\/127\.0\.0\.1:\d+/);
    expect((JSON.parse(partly.out) as { ceId: string }[]).map((d) => d.ceId)).toEqual(["billing-4"]);
    const context = await run(["status", "--context", "nope"], env);
    expect(context.code).toBe(2);
    expect(context.err).toMatch(/has no context nope \(it has: shop, team-b\)/);
  });

  it("status: the context's namespace by default, -A for all, -o yaml; --version", async () => {
    const ns = await run(["status", "-o", "json"], env);
    const report = JSON.parse(ns.out) as { subscriptions: { metadata: { namespace: string; name: string } }[] };
    expect(report.subscriptions.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(["shop/audit", "shop/inventory", "shop/payment"]);
    const all = parse((await run(["status", "-A", "-o", "yaml"], env)).out) as typeof report;
    expect(all.subscriptions.map((s) => s.metadata.namespace)).toEqual(["shop", "shop", "shop", "team-b", "team-b"]);
    const version = await run(["--version"], env);
    const pkg = JSON.parse(readFileSync(join(root, "services/cli/package.json"), "utf8")) as { version: string };
    expect(version).toEqual({ code: 0, out: `jetmesh ${pkg.version}`, err: "" });
  });

  it("shop verify shows its progress on stderr while --settle waits; verify is a deprecated alias", async () => {
    // One event the inventory consumer has not processed: the shop is never settled here.
    const jsm = await jetstreamManager(nc);
    const inventory = SUBSCRIPTIONS.find((s) => s.service === "inventory")!;
    await jsm.consumers.add(SHOP_STREAM, { durable_name: inventory.consumer, ack_policy: AckPolicy.Explicit, filter_subject: "shop.order.placed.v1" });
    await jetstream(nc).publish("shop.order.placed.v1", "{}");

    const r = await run(["shop", "verify", "--settle", "2.5", "-o", "json"], env);
    expect(r.code, r.err).toBe(0);
    const progress = r.err.split("\n");
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const line of progress) expect(line).toMatch(/^waiting for the shop to settle \(\ds of 3s\): 0 orders in flight, 1 event not yet processed$/);
    expect(JSON.parse(r.out)).toMatchObject({ settled: false, consumerBacklog: 1, violations: [] });

    const alias = await run(["verify"], env);
    expect(alias.err).toBe("jetmesh: `jetmesh verify` is deprecated and will be removed; use `jetmesh shop verify` (the demo shop's invariant checker)");
    expect(alias.code).toBe(0);
  });

  it("takes --context through the bin script (what kubectl runs as `kubectl jetmesh`)", async () => {
    const bin = join(root, "services/cli/bin/jetmesh.js");
    const r = await exec(process.execPath, [bin, "status", "--context", "team-b", "--kubeconfig", kube.kubeconfigPath]);
    expect(r.stdout).toMatch(/^team-b\s+billing\s+jobs\s+/m);
    expect(r.stdout).not.toMatch(/^shop\s/m);
  });
});
