// A push subscriber that fails, seen where a platform team looks: the operator reconciles an
// EventSubscription with subscriber.http, a real dispatcher process (services/edge) POSTs to an
// HTTP subscriber in this test that answers 503 and later 204; the subscription's status
// shows the failed deliveries (deliveryFailures, condition DeliveryFailing, Events) with the
// subscriber's own words, and clears once the failures have aged out of the report bucket.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { waitFor } from "@jetmesh/testing";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { FAILURE_BUCKET } from "@jetmesh/mesh/consumer-contract";
import { CRDS, ROOT, startEnv, waitReason, type Env } from "./harness.ts";

let env: Env;
let nc: NatsConnection;
let server: Server;
let dispatcher: ChildProcess | undefined;
let answer = 503;
const requests: string[] = [];

/** Report entries expire after this long here (60 s in the runtime's own bucket). */
const REPORT_TTL_MS = 3000;

beforeAll(async () => {
  env = await startEnv();
  nc = await connect({ servers: env.nats.url });
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests.push(String(req.headers["ce-id"]));
      if (answer === 204) res.writeHead(204).end();
      else res.writeHead(answer, { "content-type": "text/plain" }).end(answer === 503 ? "payment provider down" : "unknown customer");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  await env.k(["apply", "-f", CRDS]);
  await env.k(["wait", "--for=condition=Established", "--timeout=30s", "-f", CRDS]);
  // The bucket made beforehand with a short TTL: the runtime uses an existing bucket as it is.
  await new Kvm(jetstream(nc)).create(FAILURE_BUCKET, { history: 1, ttl: REPORT_TTL_MS });
}, 120_000);

afterAll(async () => {
  dispatcher?.kill("SIGKILL");
  server?.closeAllConnections();
  server?.close();
  await nc?.close();
  await env?.stop();
});

function manifests(port: number): string {
  return `
apiVersion: v1
kind: Namespace
metadata: { name: df }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: events, namespace: df }
spec: { subjects: ["df.>"], storage: memory }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: dead-letters, namespace: df }
spec: { subjects: ["jetmesh.dlq.df.>"], storage: memory }
---
apiVersion: jetmesh.io/v1alpha1
kind: EventSubscription
metadata: { name: hook, namespace: df }
spec:
  stream: events
  types: ["df.order.v1"]
  delivery: { startFrom: all, ackWait: 5s, maxDeliver: 3, backoff: [100ms] }
  deadLetter: { stream: dead-letters }
  subscriber:
    deployment: hook
    http: { url: "http://127.0.0.1:${port}/events", timeout: 2s }
`;
}

interface Status {
  deliveryFailures?: {
    retried: number;
    deadLettered: number;
    processes: number;
    last: { outcome: string; reason?: string; error: string; service: string };
  };
}

async function status(): Promise<Status | undefined> {
  return (await env.getJson<{ status?: Status }>("jmsub", "df", "hook"))?.status;
}

/** "<reason>\t<message>" lines of the Events about the subscription. */
async function events(): Promise<string> {
  const list = JSON.parse(await env.k(["get", "events", "-n", "df", "-o", "json"])) as {
    items: { reason: string; message: string; involvedObject?: { name?: string } }[];
  };
  return list.items
    .filter((e) => e.involvedObject?.name === "hook")
    .map((e) => `${e.reason}\t${e.message}`)
    .join("\n");
}

describe("a push subscriber that fails", () => {
  it("shows its failed deliveries in the subscription's status, in its own words, until they age out", { timeout: 120_000 }, async () => {
    const port = (server.address() as { port: number }).port;
    await env.operator();
    await env.k(["apply", "-f", "-"], manifests(port));
    await waitReason(env, "jmsub", "df", "hook", "Ready", 30_000);
    await waitReason(env, "jmsub", "df", "hook", "NoRecentFailures", 30_000, "DeliveryFailing");

    let output = "";
    dispatcher = spawn(process.execPath, ["--conditions=source", `${ROOT}services/edge/src/main.ts`, "dispatcher"], {
      env: {
        ...process.env,
        NATS_URL: env.nats.url,
        HTTP_PORT: "0",
        HTTP_HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        JETMESH_STREAM: "df_events",
        JETMESH_CONSUMER: "df_hook",
        JETMESH_DEAD_LETTER_SUBJECT: "jetmesh.dlq.df.hook",
        DISPATCH_URL: `http://127.0.0.1:${port}/events`,
        DISPATCH_TIMEOUT: "2s",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    dispatcher.stdout?.on("data", (b: Buffer) => (output = (output + b.toString()).slice(-10_000)));
    dispatcher.stderr?.on("data", (b: Buffer) => (output = (output + b.toString()).slice(-10_000)));

    const js = jetstream(nc);
    const h = natsHeaders();
    h.set("ce-specversion", "1.0");
    h.set("ce-id", "order-1");
    h.set("ce-type", "df.order.v1");
    h.set("ce-source", "/tests/delivery-failures");
    await js.publish("df.order.v1", '{"n":1}', { headers: h });

    // 503 every time: retried, then dead-lettered (max_deliver 3).
    const first = await waitFor(
      "deliveryFailures: 2 retried, 1 dead-lettered",
      async () => {
        const f = (await status())?.deliveryFailures;
        return f && f.retried === 2 && f.deadLettered === 1 ? f : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\ndispatcher output:\n${output}`);
    });
    expect(requests).toEqual(["order-1", "order-1", "order-1"]);
    expect(first.processes).toBe(1);
    expect(first.last).toMatchObject({ outcome: "dead_lettered", reason: "max_deliver", service: "jetmesh-dispatcher" });
    expect(first.last.error).toMatch(/^failed 3 deliveries; last error: HTTP 503 from 127\.0\.0\.1:\d+: payment provider down$/);
    const failing = await env.condition("jmsub", "df", "hook", "DeliveryFailing");
    expect(failing).toMatchObject({ status: "True", reason: "DeadLettering" });
    expect(failing?.message).toMatch(/^2 retried, 1 dead-lettered since .*by jetmesh-dispatcher, dead-lettered \(max_deliver\): failed 3 deliveries/);
    // Failing deliveries are the subscriber's problem, not the consumer's: still Ready.
    expect((await env.condition("jmsub", "df", "hook", "Ready"))?.status).toBe("True");
    await waitFor(
      "a DeliveryFailing Warning event",
      async () => (/^DeliveryFailing\t\d+ retried.*HTTP 503 from 127\.0\.0\.1:\d+: payment provider down$/m.test(await events()) ? true : undefined),
      {
        timeoutMs: 15_000,
        intervalMs: 200,
      },
    );

    // The subscriber is healthy again: nothing fails, the report ages out, the status clears.
    answer = 204;
    h.set("ce-id", "order-2");
    await js.publish("df.order.v1", '{"n":2}', { headers: h });
    await waitFor("order-2 delivered", () => requests.includes("order-2"), { timeoutMs: 15_000 });
    await waitReason(env, "jmsub", "df", "hook", "NoRecentFailures", 30_000, "DeliveryFailing");
    expect((await status())?.deliveryFailures).toBeUndefined();
    await waitFor("a DeliveryRecovered event", async () => (/^DeliveryRecovered\s/m.test(await events()) ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 200,
    });
  });
});
