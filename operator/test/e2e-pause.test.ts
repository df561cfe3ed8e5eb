// spec.paused end to end: `jetmesh pause` (the CLI as a user runs it) sets it through the API,
// the operator pauses the real JetStream consumer (nothing is delivered, the position is kept),
// status and the printer column say so, `jetmesh resume` delivers what waited, and a consumer
// paused or resumed behind the operator's back is put back as the spec says.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { waitFor } from "@jetmesh/testing";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { CRDS, ROOT, startEnv, waitReason, type Env } from "./harness.ts";
import type { JetStreamAdmin } from "../src/jetstream/admin.ts";

const exec = promisify(execFile);
let env: Env;
let js: JetStreamAdmin;
let nc: NatsConnection;

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: ps }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: events, namespace: ps }
spec: { subjects: ["ps.>"], storage: memory }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: worker, namespace: ps }
spec:
  stream: events
  types: ["ps.job.v1", "ps.urgent.v1"]
  delivery: { startFrom: all }
`;

beforeAll(async () => {
  env = await startEnv();
  await env.k(["apply", "-f", CRDS]);
  await env.operator();
  js = await env.js();
  nc = await connect({ servers: env.nats.url });
});
afterAll(async () => {
  await nc?.close();
  await env?.stop();
});

async function jetmesh(...args: string[]): Promise<string> {
  const r = await exec(process.execPath, [`${ROOT}services/cli/bin/jetmesh.js`, ...args, "--kubeconfig", env.kube.kubeconfigPath], { timeout: 30_000 });
  return r.stdout;
}

/** What one pull gets within a second (a paused consumer answers with nothing). */
async function pull(max: number): Promise<string[]> {
  const c = await jetstream(nc).consumers.get("ps_events", "ps_worker");
  const got: string[] = [];
  const it = await c.fetch({ max_messages: max, expires: 1000 });
  for await (const m of it) {
    got.push(m.subject);
    m.ack();
  }
  return got;
}

describe("pausing a subscription", () => {
  it("pauses and resumes the consumer with jetmesh pause|resume, shown in status and kubectl get", async () => {
    await env.k(["apply", "-f", "-"], MANIFESTS);
    await waitReason(env, "jmsub", "ps", "worker", "Ready", 30_000);
    const p = jetstream(nc);

    expect(await jetmesh("pause", "ps/worker")).toMatch(/ps\/worker: spec.paused=true/);
    await waitReason(env, "jmsub", "ps", "worker", "Paused", 30_000);
    expect((await env.getJson("jmsub", "ps", "worker"))?.status?.paused).toBe(true);
    expect((await js.consumerInfo("ps_events", "ps_worker"))?.paused).toBe(true);
    expect(await env.k(["get", "jmsub", "-n", "ps", "worker"])).toMatch(/PAUSED[\s\S]*worker\s+True\s+Paused\s+events\s+ps_worker\s+true/);
    expect(await jetmesh("pause", "worker", "-n", "ps")).toMatch(/already paused/);

    for (const s of ["ps.job.v1", "ps.urgent.v1", "ps.job.v1"]) await p.publish(s, "{}");
    expect(await pull(10)).toEqual([]);
    // Kept its position: the waiting events count as lag.
    await waitFor("lag of the paused subscription", async () => (await env.getJson("jmsub", "ps", "worker"))?.status?.lag?.pending === 3, {
      timeoutMs: 15_000,
    });

    expect(await jetmesh("resume", "ps/worker")).toMatch(/spec.paused=false/);
    await waitReason(env, "jmsub", "ps", "worker", "Ready", 30_000);
    expect((await env.getJson("jmsub", "ps", "worker"))?.status?.paused).toBe(false);
    expect(await pull(10)).toEqual(["ps.job.v1", "ps.urgent.v1", "ps.job.v1"]);
  });

  it("puts a consumer paused or resumed by hand back as spec.paused says", async () => {
    await waitReason(env, "jmsub", "ps", "worker", "Ready", 30_000);
    await js.setPaused("ps_events", "ps_worker", true);
    await waitFor("resumed by the operator", async () => (await js.consumerInfo("ps_events", "ps_worker"))?.paused === false, { timeoutMs: 15_000 });

    await jetmesh("pause", "ps/worker");
    await waitReason(env, "jmsub", "ps", "worker", "Paused", 30_000);
    await js.setPaused("ps_events", "ps_worker", false);
    await waitFor("paused again by the operator", async () => (await js.consumerInfo("ps_events", "ps_worker"))?.paused === true, { timeoutMs: 15_000 });
    const events = await env.k(["get", "events", "-n", "ps", "--field-selector", "involvedObject.name=worker", "-o", "jsonpath={.items[*].message}"]);
    expect(events).toMatch(/was resumed outside the operator; paused it again/);
  });

  it("refuses a name that cannot be a subscription, and says which one is missing", async () => {
    const bad = await exec(process.execPath, [`${ROOT}services/cli/bin/jetmesh.js`, "pause", "Not_A_Name"]).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not an EventSubscription name: Not_A_Name/);
    const missing = await exec(process.execPath, [`${ROOT}services/cli/bin/jetmesh.js`, "resume", "ps/nope", "--kubeconfig", env.kube.kubeconfigPath]).catch(
      (e) => e,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no EventSubscription ps\/nope/);
  });
});
