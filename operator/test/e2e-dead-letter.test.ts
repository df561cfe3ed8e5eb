// "Retries exhausted" always ends in the dead-letter stream, even when the subscriber dies on the
// last delivery and nobody is left to dead-letter it: a real subscriber process is SIGKILLed
// while holding each delivery, and the operator moves the message from JetStream's
// MAX_DELIVERIES advisory, exactly once (a repeated advisory is deduplicated).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { waitFor } from "@jetmesh/testing";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { CRDS, ROOT, startEnv, waitReason, type Env } from "./harness.ts";

let env: Env;
let nc: NatsConnection;
const children: ChildProcess[] = [];

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: dl }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: events, namespace: dl }
spec: { subjects: ["dl.>"], storage: memory }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: dead-letters, namespace: dl }
spec: { subjects: ["jetmesh.dlq.dl.>"], storage: memory }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: worker, namespace: dl }
spec:
  stream: events
  types: ["dl.job.v1"]
  delivery: { startFrom: all, ackWait: 1s, maxDeliver: 2 }
  deadLetter: { stream: dead-letters }
`;

// A subscriber that takes one delivery at a time and never answers: it dies holding it.
const SUBSCRIBER = `
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
const nc = await connect({ servers: process.env.NATS_URL });
const c = await jetstream(nc).consumers.get("dl_events", "dl_worker");
for await (const m of await c.consume({ max_messages: 1 })) console.log("delivery " + m.info.deliveryCount + " of " + m.seq);
`;

beforeAll(async () => {
  env = await startEnv();
  await env.k(["apply", "-f", CRDS]);
  await env.operator();
  nc = await connect({ servers: env.nats.url });
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await nc?.close();
  await env?.stop();
});

/** A subscriber pod: `holds(seq, n)` waits until it holds delivery n of seq. */
function subscriber() {
  const child = spawn(process.execPath, ["--input-type=module", "-e", SUBSCRIBER], {
    cwd: `${ROOT}operator`,
    env: { ...process.env, NATS_URL: env.nats.url },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  return {
    holds: (seq: number, n: number) =>
      waitFor(`subscriber holds delivery ${n} of ${seq}`, () => out.includes(`delivery ${n} of ${seq}`), { timeoutMs: 20_000, intervalMs: 50 }).catch((err) => {
        throw new Error(`${(err as Error).message}; subscriber said: ${out}`);
      }),
    kill: () => child.kill("SIGKILL"),
  };
}

/**
 * Kills a subscriber holding each of the 2 deliveries of `seq`, and starts the replacement a
 * Deployment would (JetStream notices the exhausted message when the consumer is pulled again).
 */
async function dieOnEveryDelivery(first: ReturnType<typeof subscriber>, seq: number): Promise<ReturnType<typeof subscriber>> {
  await first.holds(seq, 1);
  first.kill();
  const second = subscriber();
  await second.holds(seq, 2);
  second.kill();
  return subscriber();
}

async function deadLetters(): Promise<JsMsg[]> {
  const c = await jetstream(nc).consumers.get("dl_dead-letters");
  const out: JsMsg[] = [];
  for await (const m of await c.fetch({ max_messages: 100, expires: 1000 })) out.push(m);
  return out;
}

describe("a subscriber that dies on the last delivery", () => {
  it("gets the message dead-lettered by the operator, once, with the reason", async () => {
    await env.k(["apply", "-f", "-"], MANIFESTS);
    await waitReason(env, "jmsub", "dl", "worker", "Ready", 30_000);
    const advisories: Uint8Array[] = [];
    nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.dl_events.dl_worker", { callback: (_e, m) => void advisories.push(m.data) });

    const js = jetstream(nc);
    const h = natsHeaders();
    h.set("ce-id", "job-1");
    h.set("ce-type", "dl.job.v1");
    const pod = subscriber();
    const a = await js.publish("dl.job.v1", '{"n":1}', { headers: h });
    const restarted = await dieOnEveryDelivery(pod, a.seq);
    await waitFor("the advisory", () => advisories.length === 1, { timeoutMs: 20_000 });
    await waitFor("first dead letter", async () => ((await deadLetters()).length === 1 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });

    // The same advisory again (a second operator, a replay): deduplicated, not a second copy.
    expect(advisories).toHaveLength(1);
    await nc.request("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.dl_events.dl_worker", advisories[0]!, { timeout: 500 }).catch(() => undefined);
    // Then a second message through the same path; once its dead letter is there, the repeated
    // advisory (handled before it) has been handled too.
    const b = await js.publish("dl.job.v1", '{"n":2}');
    await dieOnEveryDelivery(restarted, b.seq);
    await waitFor("second dead letter", async () => ((await deadLetters()).length >= 2 ? true : undefined), { timeoutMs: 30_000, intervalMs: 250 });

    const dead = await deadLetters();
    expect(dead.map((d) => d.headers?.get("JetMesh-Dlq-Stream-Sequence"))).toEqual([String(a.seq), String(b.seq)]);
    const first = dead[0]!;
    expect(first.subject).toBe("jetmesh.dlq.dl.worker");
    expect(new TextDecoder().decode(first.data)).toBe('{"n":1}');
    expect(first.headers?.get("ce-id")).toBe("job-1");
    expect(first.headers?.get("JetMesh-Dlq-Reason")).toBe("max_deliver");
    expect(first.headers?.get("JetMesh-Dlq-Error")).toMatch(/no answer on the last of 2 deliveries: the subscriber died or hung/);
    expect(first.headers?.get("JetMesh-Dlq-Original-Subject")).toBe("dl.job.v1");
    expect(first.headers?.get("JetMesh-Dlq-Stream")).toBe("dl_events");
    expect(first.headers?.get("JetMesh-Dlq-Consumer")).toBe("dl_worker");
    expect(first.headers?.get("JetMesh-Dlq-Delivery-Count")).toBe("2");
    expect(first.headers?.get("JetMesh-Dlq-Service")).toBe("jetmesh-operator");
    const events = await env.k(["get", "events", "-n", "dl", "-o", "jsonpath={.items[*].reason}"]);
    expect(events).toMatch(/DeadLettered/);
    expect((await (await jetstreamManager(nc)).streams.info("dl_events")).state.messages).toBe(2);
  });
});
