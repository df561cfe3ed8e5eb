// The shop's Python notifications service behind a dispatcher, on a real nats-server: a
// shipment becomes exactly one shop.notification.sent.v1 event (also when the shipment is
// delivered twice); an event it cannot handle is dead-lettered with its 400 answer.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { freePort, startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { deriveEventId, DLQ_HEADERS, encodeBinary, newEvent, Publisher, runService, toMsgHdrs, type ServiceHandle } from "@jetmesh/mesh";
import { dispatcher, type DispatcherConfig } from "@jetmesh/edge";

const root = fileURLToPath(new URL("../../..", import.meta.url));
let nats: NatsCluster;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let python: ChildProcess;
let svc: ServiceHandle<DispatcherConfig>;
let output = "";

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "shop_events", subjects: ["shop.>"] });
  await jsm.streams.add({ name: "shop_dead-letters", subjects: ["jetmesh.dlq.shop.>"] });
  await jsm.consumers.add("shop_events", {
    durable_name: "shop_notifications",
    ack_policy: AckPolicy.Explicit,
    filter_subject: "shop.shipment.dispatched.v1",
    max_deliver: 3,
  });
  const port = await freePort();
  python = spawn(process.env.PYTHON ?? "python3", [`${root}services/notifications/notifications.py`], {
    env: { PATH: process.env.PATH, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  python.stdout!.on("data", (b: Buffer) => (output += b.toString()));
  python.stderr!.on("data", (b: Buffer) => (output += b.toString()));
  await waitFor("notifications ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok);
  svc = await runService(dispatcher, {
    NATS_URL: nats.url,
    HTTP_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    JETMESH_STREAM: "shop_events",
    JETMESH_CONSUMER: "shop_notifications",
    JETMESH_DEAD_LETTER_SUBJECT: "jetmesh.dlq.shop.notifications",
    DISPATCH_URL: `http://127.0.0.1:${port}/events`,
    DISPATCH_REPLY_TYPES: "shop.notification.sent.v1",
    DISPATCH_SCHEMAS_DIR: `${root}services/notifications/schemas`,
  });
  await waitFor("dispatcher ready", () => svc.ready);
});

afterAll(async () => {
  await svc?.stop();
  if (python && python.exitCode === null) {
    const exited = new Promise((r) => python.once("exit", r));
    python.kill("SIGTERM");
    await exited;
  }
  await nc?.close();
  await nats?.destroy();
});

function shipment(orderId: string, data: Record<string, unknown> = {}) {
  return newEvent({
    type: "shop.shipment.dispatched.v1",
    source: "/shop/shipping",
    data: { orderId, shipmentId: `sh-${orderId}`, carrier: "dhl", items: [{ sku: "widget", quantity: 1 }], dispatchedAt: "2026-11-30T06:00:00.000Z", ...data },
  });
}

describe("notifications (Python, over HTTP push)", () => {
  it("answers a shipment with one shop.notification.sent.v1, also when the shipment arrives twice", async () => {
    const e = shipment("o-1");
    const enc = encodeBinary(e);
    // Twice in the stream (no Nats-Msg-Id): the reply id is derived, so it is stored once.
    await js.publish(enc.subject, enc.payload, { headers: toMsgHdrs(enc.headers) });
    await js.publish(enc.subject, enc.payload, { headers: toMsgHdrs(enc.headers) });
    await waitFor("both delivered and acked", async () => {
      const i = await jsm.consumers.info("shop_events", "shop_notifications");
      return i.delivered.stream_seq >= 2 && i.num_ack_pending === 0 && i.num_pending === 0;
    });
    const info = await jsm.streams.info("shop_events", { subjects_filter: "shop.notification.sent.v1" });
    expect(info.state.subjects?.["shop.notification.sent.v1"]).toBe(1);
    const m = await jsm.streams.getMessage("shop_events", { last_by_subj: "shop.notification.sent.v1" });
    expect(m!.header.get("ce-id")).toBe(deriveEventId(e.id, "shop.notification.sent.v1"));
    expect(m!.header.get("ce-source")).toBe("/shop/notifications");
    expect(m!.header.get("ce-subject")).toBe("order/o-1");
    expect(m!.json()).toEqual({ orderId: "o-1", shipmentId: "sh-o-1", channel: "email", template: "order-shipped", carrier: "dhl" });
    expect(output.match(/customer notified/g)).toHaveLength(2);
  });

  it("an event it cannot handle is dead-lettered with its 400 answer", async () => {
    await new Publisher(js).publish(shipment("o-2", { shipmentId: 7 }));
    const dl = await waitFor("dead letter", async () => {
      const i = await jsm.streams.info("shop_dead-letters");
      return i.state.messages > 0 ? jsm.streams.getMessage("shop_dead-letters", { seq: i.state.first_seq }) : undefined;
    });
    expect(dl!.header.get(DLQ_HEADERS.reason)).toBe("terminal");
    expect(dl!.header.get(DLQ_HEADERS.error)).toMatch(/^HTTP 400 from 127\.0\.0\.1:\d+: data must be a shipment with orderId and shipmentId$/);
  });
});
