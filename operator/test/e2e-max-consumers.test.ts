// EventStream.spec.maxConsumers end to end on a real nats-server (2.15 gives every stream a
// default limit of 1,000 consumers): the stream carries the limit, a subscription beyond it is
// not Ready with a reason that says which field to raise, and raising it lets the consumer in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@jetmesh/testing";
import { CRDS, startEnv, waitReason, type Env } from "./harness.ts";
import type { JetStreamAdmin } from "../src/jetstream/admin.ts";

let env: Env;
let js: JetStreamAdmin;

const subscription = (name: string) => `
---
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: ${name}, namespace: mc }
spec: { stream: events, types: ["mc.${name}.v1"] }`;

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: mc }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: events, namespace: mc }
spec: { subjects: ["mc.>"], storage: memory, maxConsumers: 2 }
${subscription("a")}
${subscription("b")}
`;

beforeAll(async () => {
  env = await startEnv();
  await env.k(["apply", "-f", CRDS]);
  await env.operator();
  js = await env.js();
}, 60_000);
afterAll(async () => {
  await env?.stop();
});

describe("EventStream spec.maxConsumers", () => {
  it("limits the stream's consumers; one beyond it waits with StreamConsumerLimit until the limit is raised", { timeout: 60_000 }, async () => {
    await env.k(["apply", "-f", "-"], MANIFESTS);
    await waitReason(env, "jmsub", "mc", "a", "Ready", 20_000);
    await waitReason(env, "jmsub", "mc", "b", "Ready", 20_000);
    expect((await js.streamInfo("mc_events"))?.config.max_consumers).toBe(2);

    await env.k(["apply", "-f", "-"], subscription("c"));
    const refused = await waitReason(env, "jmsub", "mc", "c", "StreamConsumerLimit", 20_000);
    expect(refused.status).toBe("False");
    expect(refused.message).toMatch(/stream mc_events already holds its maximum number of consumers .*raise spec\.maxConsumers of EventStream mc\/events/);
    expect(await js.consumerInfo("mc_events", "mc_c")).toBeUndefined();

    // Raised in place (nats-server 2.12+ can update it): the waiting subscription gets its consumer.
    await env.k(["patch", "jmstream", "-n", "mc", "events", "--type=merge", "-p", '{"spec":{"maxConsumers":3}}']);
    await waitFor("max_consumers 3 on the stream", async () => ((await js.streamInfo("mc_events"))?.config.max_consumers === 3 ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    await waitReason(env, "jmsub", "mc", "c", "Ready", 30_000);
    expect(await js.consumerInfo("mc_events", "mc_c")).toBeDefined();
  });
});
