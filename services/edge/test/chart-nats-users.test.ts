// The chart's least-privilege NATS users of the HTTP edge (docs/http.md#nats-users) on a real
// nats-server: the authorization block the chart writes into the bundled NATS's config
// (jetmesh.natsServerAuthorization, rendered by real helm) is what
// services/shop-tools/src/nats-permissions.ts computes; with exactly that block, the ingress
// (user `ingress`) publishes the types it accepts and is refused others, and a dispatcher
// (user `dispatcher-notifications`) delivers its subscription end to end (pull, ack, reply,
// dead letter on a 4xx, circuit reports) and is refused another consumer's messages and other subjects.
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { BACKOFF_METADATA_KEY, CIRCUIT_BREAKER_METADATA_KEY, CIRCUIT_BUCKET, DLQ_HEADERS, newEvent, Publisher, runService } from "@jetmesh/mesh";
import { dispatcher, ingress } from "@jetmesh/edge";
import { helmTemplate, offlineChart } from "../../../charts/jetmesh/test/helm.ts";
import { parseManifest, type Obj } from "../../../charts/jetmesh/test/rendered.ts";
import { ingressPermissions, natsAuthorizationConfig, operatorPermissions, servicePermissions, shopIdentity, type NatsPermissions } from "@jetmesh/shop-tools";

const NS = "shop";
const INGRESS_TYPES = ["shop.order.placed.v1", "shop.billing.>"];
const TOKEN = "edge-users-token-0123456789";
const schemasDir = join(import.meta.dirname, "..", "..", "notifications", "schemas");

interface RenderedUser {
  user: string;
  password: string;
  permissions?: NatsPermissions;
}

/** The chart rendered with the edge on; plus the bundled server's authorization block and env. */
function renderChartAuth(): { objects: Obj[]; users: RenderedUser[]; passwordEnv: string[] } {
  const dir = join(mkdtempSync(join(tmpdir(), "jetmesh-chart-auth-")), "jetmesh");
  cpSync(offlineChart(), dir, { recursive: true });
  // What the NATS subchart includes from its config.merge / container.env (values.yaml), with
  // its .Values.jetmeshAuth = the parent's nats.jetmeshAuth.
  writeFileSync(
    join(dir, "templates", "zz-nats-server-auth.yaml"),
    [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: {name: nats-server-auth}",
      "data:",
      '  authorization: {{ include "jetmesh.natsServerAuthorization" (dict "enabled" .Values.nats.jetmeshAuth.enabled "auth" .Values.nats.jetmeshAuth "namespace" .Release.Namespace) | quote }}',
      '  env: {{ include "jetmesh.natsServerPasswordEnv" (dict "enabled" .Values.nats.jetmeshAuth.enabled "auth" .Values.nats.jetmeshAuth "release" .Release.Name) | quote }}',
      "",
    ].join("\n"),
  );
  const values = join(dir, "..", "values.yaml");
  writeFileSync(
    values,
    JSON.stringify({
      edge: { ingress: { enabled: true, tokensSecret: "ingress-tokens" }, dispatchers: { enabled: true } },
      notifications: { enabled: true },
      nats: { jetmeshAuth: { ingress: { types: INGRESS_TYPES } } },
    }),
  );
  const objects = parseManifest(helmTemplate(["jetmesh", dir, "-n", NS, "-f", values]));
  const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "nats-server-auth");
  const auth = parseManifest(cm!.data.authorization as string)[0]!;
  const env = parseManifest(cm!.data.env as string)[0]!;
  return { objects, users: auth.authorization.users as RenderedUser[], passwordEnv: Object.keys(env).filter((k) => k !== "__template") };
}

const rendered = renderChartAuth();
const perms = (user: string) => rendered.users.find((u) => u.user === user)?.permissions;
const dispatcherIdentity = {
  service: "dispatcher-notifications",
  produces: ["shop.notification.sent.v1"],
  stream: `${NS}_events`,
  consumer: `${NS}_notifications`,
  deadLetterSubject: `jetmesh.dlq.${NS}.notifications`,
  buckets: [],
};

describe("the chart's NATS users of the edge", () => {
  it("are the permissions nats-permissions.ts computes (the shop services' too)", () => {
    expect(perms("ingress")).toEqual(ingressPermissions(INGRESS_TYPES));
    expect(perms("dispatcher-notifications")).toEqual(servicePermissions(dispatcherIdentity));
    for (const s of ["order", "inventory", "payment", "shipping"] as const) expect(perms(s), s).toEqual(servicePermissions(shopIdentity(s, NS)));
    // The operator's too: the chart's copy had lost pause, MSG.GET, dead letters and the advisory.
    expect(perms("operator")).toEqual(operatorPermissions());
  });

  it("each has its password Secret, the server's env reads it, and the edge pods use it", () => {
    const secrets = new Set(rendered.objects.filter((o) => o.kind === "Secret").map((o) => o.metadata.name as string));
    for (const u of rendered.users) {
      expect(secrets.has(`jetmesh-nats-auth-${u.user}`), u.user).toBe(true);
      expect(rendered.passwordEnv).toContain(/^<< \$(\w+) >>$/.exec(u.password)?.[1]);
    }
    const envOf = (name: string) =>
      rendered.objects.find((o) => o.kind === "Deployment" && o.metadata.name === name)!.spec.template.spec.containers[0].env as Obj[];
    const user = (name: string) => envOf(name).find((e) => e.name === "NATS_USER")?.valueFrom.secretKeyRef.name;
    expect(user("jetmesh-ingress")).toBe("jetmesh-nats-auth-ingress");
    expect(user("jetmesh-notifications-dispatcher")).toBe("jetmesh-nats-auth-dispatcher-notifications");
  });
});

describe("on a real nats-server with the chart's authorization", () => {
  let nats: NatsCluster;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  const passwords: Record<string, string> = {};
  const running: { stop(): Promise<void> }[] = [];
  const asUser = (user: string) => connect({ servers: nats.url, user, pass: passwords[user]! });
  const requests: string[] = [];
  let down = false;

  beforeAll(async () => {
    const users = rendered.users.map((u) => {
      passwords[u.user] = `p-${u.user}-0123456789`;
      return { user: u.user, password: passwords[u.user]!, ...(u.permissions ? { permissions: u.permissions } : {}) };
    });
    nats = await startNats({ extraConfig: natsAuthorizationConfig(users) });
    admin = await asUser("admin");
    jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: `${NS}_events`, subjects: ["shop.>", "other.>"] });
    await jsm.streams.add({ name: `${NS}_dead-letters`, subjects: ["jetmesh.dlq.>"] });
    for (const [name, filter] of [
      ["notifications", "shop.shipment.dispatched.v1"],
      ["audit", "shop.shipment.dispatched.v1"],
    ] as const) {
      await jsm.consumers.add(`${NS}_events`, {
        durable_name: `${NS}_${name}`,
        ack_policy: AckPolicy.Explicit,
        filter_subject: filter,
        max_deliver: 10,
        ack_wait: nanos(10_000),
        metadata: { [BACKOFF_METADATA_KEY]: "100ms,200ms", [CIRCUIT_BREAKER_METADATA_KEY]: "failureThreshold=2,window=30s,coolDown=300ms" },
      });
    }
  });

  afterAll(async () => {
    for (const r of running.reverse()) await r.stop().catch(() => undefined);
    await admin?.close();
    await nats?.destroy();
  });

  it("the ingress publishes the types it accepts and is refused others", async () => {
    const svc = await runService(ingress, {
      NATS_URL: nats.url,
      NATS_USER: "ingress",
      NATS_PASSWORD: passwords.ingress!,
      HTTP_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      PUBLISH_TIMEOUT_MS: "1500",
      INGRESS_TOKENS: JSON.stringify({ producers: [{ name: "all", token: TOKEN, types: ["shop.>", "other.>"] }] }),
    });
    running.push(svc);
    await waitFor("ingress ready", () => svc.ready);
    const post = (type: string, id: string) =>
      fetch(`http://127.0.0.1:${svc.port}/events`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "ce-specversion": "1.0",
          "ce-id": id,
          "ce-source": "/tests",
          "ce-type": type,
          "content-type": "application/json",
        },
        body: JSON.stringify({ orderId: "o-1" }),
      });
    for (const type of ["shop.order.placed.v1", "shop.billing.invoiced.v1"]) {
      const r = await post(type, `in-${type}`);
      expect(r.status, type).toBe(202);
    }
    // Types outside its user's permissions: the stream would take them, NATS refuses them, and
    // the producer hears 403 (no retry helps), not 503.
    for (const type of ["shop.order.confirmed.v1", "other.thing.v1"]) {
      const r = await post(type, `out-${type}`);
      expect(r.status, type).toBe(403);
      expect(((await r.json()) as { detail: string }).detail).toBe(`this ingress may not publish ${type} (its NATS permissions refuse it)`);
    }
    const info = await jsm.streams.info(`${NS}_events`, { subjects_filter: ">" });
    expect(info.state.subjects).toEqual({ "shop.order.placed.v1": 1, "shop.billing.invoiced.v1": 1 });
    // The same, straight from a client with the ingress's credentials.
    const nc = await asUser("ingress");
    try {
      await expect(jetstream(nc).publish("shop.order.confirmed.v1", "{}", { timeout: 2000 })).rejects.toThrow(/permission/i);
      await expect(nc.request(`$JS.API.CONSUMER.INFO.${NS}_events.${NS}_notifications`, "", { timeout: 2000 })).rejects.toThrow(/permission/i);
    } finally {
      await nc.close();
    }
  });

  it("a dispatcher delivers its subscription end to end: pull, ack, reply, dead letter on a 4xx", async () => {
    // The subscriber: a notification for orders o-ok and o-later, 422 for anything else, and
    // 503 for everything while `down`.
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const data = JSON.parse(Buffer.concat(chunks).toString()) as { orderId: string };
        requests.push(data.orderId);
        if (down) return void res.writeHead(503).end("down");
        if (data.orderId !== "o-ok" && data.orderId !== "o-later") return void res.writeHead(422, { "content-type": "text/plain" }).end("unknown customer");
        res
          .writeHead(200, {
            "ce-specversion": "1.0",
            "ce-id": `r-${data.orderId}`,
            "ce-source": "/notifications",
            "ce-type": "shop.notification.sent.v1",
            "content-type": "application/json",
          })
          .end(JSON.stringify({ orderId: data.orderId, shipmentId: "s-1", channel: "email", template: "shipped" }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    running.push({ stop: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) });
    const svc = await runService(dispatcher, {
      NATS_URL: nats.url,
      NATS_USER: "dispatcher-notifications",
      NATS_PASSWORD: passwords["dispatcher-notifications"]!,
      HTTP_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      JETMESH_STREAM: `${NS}_events`,
      JETMESH_CONSUMER: `${NS}_notifications`,
      JETMESH_DEAD_LETTER_SUBJECT: `jetmesh.dlq.${NS}.notifications`,
      DISPATCH_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}/events`,
      DISPATCH_TIMEOUT: "2s",
      DISPATCH_REPLY_TYPES: "shop.notification.sent.v1",
      DISPATCH_SCHEMAS_DIR: schemasDir,
    });
    running.push(svc);
    await waitFor("dispatcher ready", () => svc.ready);
    const publisher = new Publisher(jetstream(admin));
    for (const orderId of ["o-ok", "o-bad"])
      await publisher.publish(newEvent({ type: "shop.shipment.dispatched.v1", source: "/tests", data: { orderId, shipmentId: "s-1" } }));
    await waitFor("consumer settled", async () => {
      const i = await jsm.consumers.info(`${NS}_events`, `${NS}_notifications`);
      return i.num_pending === 0 && i.num_ack_pending === 0 && i.delivered.stream_seq >= 2;
    });
    expect(requests.sort()).toEqual(["o-bad", "o-ok"]);
    const reply = await jsm.streams.getMessage(`${NS}_events`, { last_by_subj: "shop.notification.sent.v1" });
    expect(reply?.header.get("ce-source")).toBe("/notifications");
    const dl = await jsm.streams.getMessage(`${NS}_dead-letters`, { last_by_subj: `jetmesh.dlq.${NS}.notifications` });
    expect(dl?.header.get(DLQ_HEADERS.reason)).toBe("terminal");
    expect(dl?.header.get(DLQ_HEADERS.error)).toMatch(/HTTP 422 .*unknown customer/);
  });

  it("a dispatcher reports its open circuit to the operator (jetmesh-circuits, its own keys)", async () => {
    down = true;
    await new Publisher(jetstream(admin)).publish(
      newEvent({ type: "shop.shipment.dispatched.v1", source: "/tests", data: { orderId: "o-later", shipmentId: "s-2" } }),
    );
    const kv = await new Kvm(admin).open(CIRCUIT_BUCKET);
    const reported = async () => {
      const keys: string[] = [];
      for await (const k of await kv.keys(`${NS}_notifications.>`)) keys.push(k);
      return keys;
    };
    await waitFor("circuit report written by the dispatcher", async () => (await reported()).length === 1);
    const [key] = await reported();
    expect(JSON.parse((await kv.get(key!))!.string())).toMatchObject({ state: expect.stringMatching(/open/), service: "jetmesh-dispatcher" });
    down = false;
    // Closed again: the report deleted, the event delivered and its reply stored.
    await waitFor("circuit report deleted", async () => (await reported()).length === 0);
    await waitFor("consumer settled", async () => {
      const i = await jsm.consumers.info(`${NS}_events`, `${NS}_notifications`);
      return i.num_pending === 0 && i.num_ack_pending === 0;
    });
    const reply = await jsm.streams.getMessage(`${NS}_events`, { last_by_subj: "shop.notification.sent.v1" });
    expect(reply?.header.get("ce-id")).not.toBe("r-o-later"); // the dispatcher derives the reply's id
    expect(JSON.parse(new TextDecoder().decode(reply!.data))).toMatchObject({ orderId: "o-later" });
  });

  it("a dispatcher's user is refused another consumer's messages and other subjects", async () => {
    const nc = await asUser("dispatcher-notifications");
    try {
      const next = JSON.stringify({ batch: 1, expires: nanos(500) });
      // Its own consumer answers (a 408 when empty)...
      await nc.request(`$JS.API.CONSUMER.INFO.${NS}_events.${NS}_notifications`, "", { timeout: 2000 });
      // ...another one is refused: pull, info, ack.
      await expect(nc.request(`$JS.API.CONSUMER.MSG.NEXT.${NS}_events.${NS}_audit`, next, { timeout: 2000 })).rejects.toThrow(/permission/i);
      await expect(nc.request(`$JS.API.CONSUMER.INFO.${NS}_events.${NS}_audit`, "", { timeout: 2000 })).rejects.toThrow(/permission/i);
      // Forging another service's event, or a reply type it does not have, is refused too.
      await expect(jetstream(nc).publish("shop.order.placed.v1", "{}", { timeout: 2000 })).rejects.toThrow(/permission/i);
      await expect(nc.request(`$JS.API.STREAM.DELETE.${NS}_events`, "", { timeout: 2000 })).rejects.toThrow(/permission/i);
    } finally {
      await nc.close();
    }
    const audit = await jsm.consumers.info(`${NS}_events`, `${NS}_audit`);
    expect(audit.delivered.consumer_seq).toBe(0);
  });
});
