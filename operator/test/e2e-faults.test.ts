// What goes wrong around the operator: specs the schema refuses and specs only the operator can
// judge, a subscription before its stream, overlapping streams, NATS down at start and later
// (memory streams lost), watch faults, and leader failover between two operators.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@jetmesh/testing";
import { CRDS, startEnv, waitReason, type Env } from "./harness.ts";
import type { OperatorHandle } from "../src/index.ts";
import type { JetStreamAdmin } from "../src/jetstream/admin.ts";

let env: Env;
let js: JetStreamAdmin;

const stream = (name: string, subjects: string[], extra = "") => `
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: ${name}, namespace: f }
spec:
  subjects: ${JSON.stringify(subjects)}
${extra}`;
const sub = (name: string, streamName: string, types: string[], extra = "") => `
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: ${name}, namespace: f }
spec:
  stream: ${streamName}
  types: ${JSON.stringify(types)}
${extra}`;

async function metrics(op: { httpPort: number }): Promise<string> {
  return (await fetch(`http://127.0.0.1:${op.httpPort}/metrics`)).text();
}

/** Sum of the samples of `name` whose labels include `labels` (Prometheus text format). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** The names of the per-object series (streams, subscriptions, autoscaler) in a scrape. */
const perObjectSeries = (text: string) => [...new Set([...text.matchAll(/^(jetmesh_(?:stream|subscription|autoscaler)_\w+)[{ ]/gm)].map((m) => m[1]))];

beforeAll(async () => {
  env = await startEnv();
  await env.k(["apply", "-f", CRDS]);
  await env.k(["apply", "-f", "-"], "apiVersion: v1\nkind: Namespace\nmetadata: { name: f }\n");
  js = await env.js();
});
afterAll(async () => env?.stop());

describe("operator under faults", () => {
  let op: OperatorHandle;

  it("keeps running with NATS down at start, reports it, and converges when NATS is back", async () => {
    await env.nats.node(0).stop();
    op = await env.operator();
    await env.k(["apply", "-f", "-"], stream("mem", ["f.mem.>"], "  storage: memory"));
    const c = await waitReason(env, "jmstream", "f", "mem", "NatsUnavailable");
    expect(c.status).toBe("False");
    const ready = await fetch(`http://127.0.0.1:${op.httpPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ natsConnected: false });
    expect(await metrics(op)).toMatch(/^jetmesh_operator_nats_connected 0$/m);

    await env.nats.node(0).start();
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmstream/mem", "--timeout=20s"]);
    expect((await fetch(`http://127.0.0.1:${op.httpPort}/readyz`)).status).toBe(200);
    expect(await metrics(op)).toMatch(/^jetmesh_operator_nats_connected 1$/m);

    // Later outages too: the next resync reports it, and the return is converged at once.
    await env.nats.node(0).stop();
    await waitReason(env, "jmstream", "f", "mem", "NatsUnavailable");
    await env.nats.node(0).start();
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmstream/mem", "--timeout=20s"]);
  });

  it("recreates a memory stream lost in a NATS restart, and its consumers", async () => {
    await env.k(["apply", "-f", "-"], sub("memsub", "mem", ["f.mem.a"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/memsub", "--timeout=10s"]);
    js = await env.js();
    expect(await js.consumerInfo("f_mem", "f_memsub")).toBeDefined();
    await env.nats.node(0).restart();
    js = await env.js();
    await waitFor("memory stream back", async () => (await js.streamInfo("f_mem")) !== undefined, { timeoutMs: 20_000, intervalMs: 200 });
    await waitFor("its consumer back", async () => (await js.consumerInfo("f_mem", "f_memsub")) !== undefined, { timeoutMs: 20_000, intervalMs: 200 });
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmstream/mem", "jmsub/memsub", "--timeout=10s"]);
  });

  it("lets the schema refuse what it can, and reports the rest in status", async () => {
    const bad = await env.kubectl(["apply", "-f", "-"], stream("bad", ["has space"], "  replicas: 9"));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/subjects|replicas/);
    const cel = await env.kubectl(["apply", "-f", "-"], sub("bad", "mem", ["f.mem.a"], "  delivery: { maxDeliver: 1, backoff: [1s, 2s] }"));
    expect(cel.code).not.toBe(0);
    expect(cel.stderr).toMatch(/backoff may not have more entries than maxDeliver/);

    // What only the operator can judge: duplicateWindow longer than maxAge.
    await env.k(["apply", "-f", "-"], stream("window", ["f.window.>"], "  maxAge: 30s\n  duplicateWindow: 2m"));
    const c = await waitReason(env, "jmstream", "f", "window", "InvalidSpec");
    expect(c.message).toMatch(/duplicateWindow \(2m\) must not exceed spec.maxAge \(30s\)/);
    // observedGeneration is written only on success: still unset here.
    expect((await env.getJson("jmstream", "f", "window"))?.status?.observedGeneration).toBeUndefined();
    // Fixing the spec is enough; nothing has to be restarted or re-created.
    await env.k(["patch", "jmstream", "-n", "f", "window", "--type=merge", "-p", '{"spec":{"duplicateWindow":"10s"}}']);
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmstream/window", "--timeout=10s"]);
    const fixed = await env.getJson("jmstream", "f", "window");
    expect(fixed?.status?.observedGeneration).toBe(fixed?.metadata?.generation);
    expect(fixed?.status?.lastError).toBeUndefined();
    // Types the stream does not capture.
    await env.k(["apply", "-f", "-"], sub("stray", "mem", ["f.other.thing"]));
    expect((await waitReason(env, "jmsub", "f", "stray", "TypesNotInStream")).message).toMatch(/other.thing are not captured by EventStream mem/);
  });

  it("reports overlapping streams by name before JetStream does", async () => {
    await env.k(["apply", "-f", "-"], stream("overlap", ["f.mem.x"]));
    const c = await waitReason(env, "jmstream", "f", "overlap", "SubjectsOverlap");
    expect(c.message).toMatch(/"f\.mem\.x" overlaps "f\.mem\.>" of EventStream f\/mem \(stream f_mem\)/);
  });

  it("lets only streams that exist block others: one JetStream refused holds no subjects, and says why", async () => {
    // Three replicas on a single server: JetStream refuses the stream.
    await env.k(["apply", "-f", "-"], stream("greedy", ["f.shared.>"], "  replicas: 3"));
    const refused = await waitReason(env, "jmstream", "f", "greedy", "JetStreamRefused");
    expect(refused.message).toMatch(/^JetStream refused stream f_greedy: .*replicas/i);
    expect(await js.streamInfo("f_greedy")).toBeUndefined();
    await env.k(["apply", "-f", "-"], stream("narrow", ["f.shared.orders"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmstream/narrow", "--timeout=15s"]);
    expect((await js.streamInfo("f_narrow"))?.config.subjects).toEqual(["f.shared.orders"]);
  });

  it("refuses reserved subjects in the schema and other namespaces' subjects in status, counted as terminal errors rather than failures", async () => {
    for (const subject of ["_INBOX.>", "$JS.>", "$JS.ACK.>", "$KV.>", "$SYS.>", "$O.>", ">", "*.>"]) {
      const r = await env.kubectl(["apply", "-f", "-"], stream("capture", [subject]));
      expect(r.code, subject).not.toBe(0);
      expect(r.stderr, subject).toMatch(/must not capture reserved subjects/);
    }
    const type = await env.kubectl(["apply", "-f", "-"], sub("capture", "mem", ["$JS.ACK.f_mem.>"]));
    expect(type.code).not.toBe(0);
    expect(type.stderr).toMatch(/must not name reserved subjects/);
    // Before the operator sees them: no fractional byte counts (0.5 used to mean unlimited).
    const half = await env.kubectl(["apply", "-f", "-"], stream("half", ["f.half.>"], '  maxBytes: "0.5"'));
    expect(half.code).not.toBe(0);
    expect(half.stderr).toMatch(/maxBytes/);

    const before = await metrics(op);
    const es = { controller: "eventstream" };
    const terminal = (text: string) => value(text, "controller_runtime_terminal_reconcile_errors_total", es);
    const failures = (text: string) => value(text, "controller_runtime_reconcile_errors_total", es) - terminal(text);
    // Another namespace's subjects, or every namespace's dead letters: refused in status.
    await env.k(["apply", "-f", "-"], stream("foreign", ["shop.>"]));
    const foreign = await waitReason(env, "jmstream", "f", "foreign", "SubjectNotAllowed");
    expect(foreign.message).toMatch(/^spec.subjects: "shop.>" is outside namespace f's subjects \(f.>, jetmesh.dlq.f.>\)/);
    await env.k(["apply", "-f", "-"], stream("all-dead-letters", ["jetmesh.dlq.>"]));
    await waitReason(env, "jmstream", "f", "all-dead-letters", "SubjectNotAllowed");
    expect(await js.streamInfo("f_foreign")).toBeUndefined();
    expect(await js.streamInfo("f_all-dead-letters")).toBeUndefined();
    // Its own dead letters are its own.
    await env.k(["apply", "-f", "-"], stream("dead-letters", ["jetmesh.dlq.f.>"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmstream/dead-letters", "--timeout=15s"]);
    await env.k(["apply", "-f", "-"], sub("foreign", "mem", ["shop.order.placed.v1"]));
    expect((await waitReason(env, "jmsub", "f", "foreign", "SubjectNotAllowed")).message).toMatch(
      /^spec.types: "shop.order.placed.v1" is outside namespace f's subjects/,
    );

    // Resyncs (every second here) count the refusals as invalid, not as reconcile errors.
    const after = await waitFor(
      "refusals resynced",
      async () => {
        const text = await metrics(op);
        return terminal(text) >= terminal(before) + 6 ? text : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    // controller-runtime counts a terminal error as an error too; the alert looks at the rest.
    expect(failures(after)).toBe(failures(before));
    await env.k(["delete", "jmstream", "-n", "f", "foreign", "all-dead-letters", "--timeout=15s"]);
    await env.k(["delete", "jmsub", "-n", "f", "foreign", "--timeout=15s"]);
  });

  it("waits for a missing stream and converges when it is created", async () => {
    await env.k(["apply", "-f", "-"], sub("early", "later", ["f.later.a"]));
    const c = await waitReason(env, "jmsub", "f", "early", "StreamNotFound", 15_000, "StreamReady");
    expect(c.message).toMatch(/EventStream f\/later does not exist yet/);
    expect(await env.condition("jmsub", "f", "early", "Ready")).toMatchObject({ status: "False", reason: "StreamNotFound" });
    await env.k(["apply", "-f", "-"], stream("later", ["f.later.>"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/early", "--timeout=15s"]);
    expect(await js.consumerInfo("f_later", "f_early")).toBeDefined();
  });

  it("survives dropped watches, expired history and stalled watches", async () => {
    const before = op.watchStats().eventsubscriptions!;
    env.kube.faults.dropWatches();
    await env.k(["apply", "-f", "-"], sub("w1", "later", ["f.later.b"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/w1", "--timeout=15s"]);

    env.kube.faults.expireHistory();
    env.kube.faults.dropWatches();
    await env.k(["apply", "-f", "-"], sub("w2", "later", ["f.later.c"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/w2", "--timeout=15s"]);

    env.kube.faults.stallWatches(true);
    await env.k(["apply", "-f", "-"], sub("w3", "later", ["f.later.d"]));
    // The watchdog gives up on the silent watch and opens a new one, which sees w3.
    await waitFor("watchdog restarted the watch", () => op.watchStats().eventsubscriptions!.stalls > before.stalls, { timeoutMs: 15_000, intervalMs: 100 });
    env.kube.faults.stallWatches(false);
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/w3", "--timeout=15s"]);
    const after = op.watchStats().eventsubscriptions!;
    expect(after.watches).toBeGreaterThan(before.watches + 2);
    expect(after.lists + after.gone).toBeGreaterThan(before.lists + before.gone);
  });

  it("rides out an API server that refuses requests or restarts", async () => {
    const before = op.watchStats().eventsubscriptions!;
    env.kube.faults.refuseRequests(true);
    env.kube.faults.dropWatches();
    // The outage lasts until the operator has run into it (a re-watch refused with 503).
    await waitFor("the operator's re-watch refused", () => op.watchStats().eventsubscriptions!.errors > before.errors, { timeoutMs: 15_000, intervalMs: 50 });
    env.kube.faults.refuseRequests(false);
    await env.k(["apply", "-f", "-"], sub("w4", "later", ["f.later.f"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/w4", "--timeout=15s"]);

    await env.kube.restart();
    await env.k(["apply", "-f", "-"], sub("w5", "later", ["f.later.g"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/w5", "--timeout=15s"]);
  });

  it("moves a consumer when its subscription names another stream", async () => {
    expect(await js.consumerInfo("f_later", "f_w1")).toBeDefined();
    await env.k(["patch", "jmsub", "-n", "f", "w1", "--type=merge", "-p", '{"spec":{"stream":"mem","types":["f.mem.q"]}}']);
    await waitFor("consumer on the new stream", async () => (await js.consumerInfo("f_mem", "f_w1"))?.config.filter_subject === "f.mem.q", {
      timeoutMs: 10_000,
    });
    expect(await js.consumerInfo("f_later", "f_w1")).toBeUndefined();
    expect((await env.getJson("jmsub", "f", "w1"))?.status?.streamName).toBe("f_mem");
  });

  it("exports controller-runtime's and client-go's metrics with their meanings, and JetMesh's own", async () => {
    const text = await metrics(op);
    for (const controller of ["eventstream", "eventsubscription"]) {
      const c = { controller };
      const q = { name: controller, controller };
      const results = Object.fromEntries(
        ["success", "error", "requeue", "requeue_after"].map((result) => [result, value(text, "controller_runtime_reconcile_total", { controller, result })]),
      );
      const reconciles = Object.values(results).reduce((a, b) => a + b, 0);
      expect(results.success, controller).toBeGreaterThan(0);
      // The earlier tests refused specs of both kinds (terminal) and hit a missing stream (requeue_after).
      expect(value(text, "controller_runtime_terminal_reconcile_errors_total", c), controller).toBeGreaterThan(0);
      expect(value(text, "controller_runtime_reconcile_errors_total", c)).toBe(results.error);
      expect(value(text, "controller_runtime_reconcile_time_seconds_count", c)).toBe(reconciles);
      expect(value(text, "controller_runtime_reconcile_time_seconds_bucket", { controller, le: "+Inf" })).toBe(reconciles);
      expect(value(text, "controller_runtime_max_concurrent_reconciles", c)).toBeGreaterThan(0);
      // client-go's workqueue: every key a worker took waited in the queue first; what was
      // added and not yet taken is the depth; every delayed re-add (backoff or requeue after)
      // is a retry — terminal errors are not retried.
      const taken = value(text, "workqueue_queue_duration_seconds_count", q);
      expect(taken).toBe(reconciles + value(text, "controller_runtime_active_workers", c));
      expect(value(text, "workqueue_work_duration_seconds_count", q)).toBe(reconciles);
      expect(value(text, "workqueue_depth", q)).toBe(value(text, "workqueue_adds_total", q) - taken);
      expect(value(text, "workqueue_retries_total", q)).toBe(
        results.error! - value(text, "controller_runtime_terminal_reconcile_errors_total", c) + results.requeue! + results.requeue_after!,
      );
    }
    expect(value(text, "controller_runtime_reconcile_total", { controller: "eventsubscription", result: "requeue_after" })).toBeGreaterThan(0);
    expect(value(text, "leader_election_master_status", { name: "jetmesh-operator" })).toBe(1);
    // client-go's rest client: by status code, method and API server host:port.
    const host = new URL(env.kube.url).host;
    expect(value(text, "rest_client_requests_total", { code: "200", method: "GET", host })).toBeGreaterThan(0);
    expect(value(text, "rest_client_requests_total", { code: "201", method: "POST", host })).toBeGreaterThan(0);
    expect(value(text, "rest_client_requests_total", { code: "404", method: "GET", host })).toBeGreaterThan(0);
    expect(value(text, "rest_client_request_duration_seconds_count", { host })).toBe(value(text, "rest_client_requests_total", { host }));
    // No jetmesh_* duplicate of what controller-runtime's names say.
    expect(text).not.toMatch(/^jetmesh_operator_(reconcile|queue|is_leader)/m);
    for (const name of [
      "jetmesh_operator_nats_connected 1",
      'jetmesh_subscription_ready{namespace="f",subscription="early"} 1',
      'jetmesh_subscription_ready{namespace="f",subscription="stray"} 0',
      'jetmesh_subscription_pending_messages{namespace="f",subscription="early"} 0',
      'jetmesh_stream_messages{namespace="f",stream="mem"} 0',
    ]) {
      expect(text).toContain(name);
    }
  });

  it("fails over to a standby operator when the leader process is killed", async () => {
    await op.stop(); // a clean stop hands the lease back at once
    const leader = await env.operatorProcess();
    const leaderText = await waitFor(
      "process leads and has reconciled",
      async () => {
        const text = await metrics(leader);
        return value(text, "leader_election_master_status", { name: "jetmesh-operator" }) === 1 &&
          text.includes('jetmesh_subscription_ready{namespace="f",subscription="early"} 1')
          ? text
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(perObjectSeries(leaderText)).toEqual(
      expect.arrayContaining(["jetmesh_stream_messages", "jetmesh_subscription_ready", "jetmesh_subscription_pending_messages"]),
    );
    const lease = async () =>
      (
        (await (await fetch(`${env.kube.url}/apis/coordination.k8s.io/v1/namespaces/default/leases/jetmesh-operator`)).json()) as {
          spec?: { holderIdentity?: string; renewTime?: string };
        }
      ).spec;
    const standby = await env.operator();
    // The standby polls the lease on the leader's cadence (retry period 0.25 s): two renewals
    // by the leader after it started mean it has looked at a live lease and left it alone.
    let renewals = 0;
    let last = (await lease())?.renewTime;
    await waitFor(
      "the leader renewed its lease twice while the standby ran",
      async () => {
        const now = (await lease())?.renewTime;
        if (now !== last) (renewals++, (last = now));
        return renewals >= 2;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(standby.isLeader()).toBe(false);
    expect((await lease())?.holderIdentity).not.toBe(standby.identity);
    // Only the leader exports per-object series: the standby's scrape has none of them (its
    // caches hold every object), so rules need not ask which replica leads.
    const standbyText = await metrics(standby);
    expect(value(standbyText, "leader_election_master_status", { name: "jetmesh-operator" })).toBe(0);
    expect(perObjectSeries(standbyText)).toEqual([]);
    expect(standbyText).toContain("jetmesh_operator_nats_connected 1");
    // SIGKILL: the lease is not released, the standby must see it expire (2 s in these tests;
    // the 20 s bound only leaves room for a loaded machine).
    leader.proc.kill("SIGKILL");
    await waitFor("standby leads", () => standby.isLeader(), { timeoutMs: 20_000, intervalMs: 50 });
    await env.k(["apply", "-f", "-"], sub("after-failover", "later", ["f.later.e"]));
    await env.k(["wait", "--for=condition=Ready", "-n", "f", "jmsub/after-failover", "--timeout=15s"]);
    // The new leader exports them now, from its own reconciles.
    await waitFor(
      "the new leader exports the subscription",
      async () => (await metrics(standby)).includes('jetmesh_subscription_ready{namespace="f",subscription="after-failover"} 1'),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(value(await metrics(standby), "leader_election_master_status", { name: "jetmesh-operator" })).toBe(1);
  });
});
