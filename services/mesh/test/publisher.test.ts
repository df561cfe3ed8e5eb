import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, AckPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import { startNats, type NatsCluster } from "@jetmesh/testing";
import { decodeMessage, followUpEvent, newEvent, Publisher, type CloudEvent } from "@jetmesh/mesh";

let nats: NatsCluster;
let nc: NatsConnection;
let js: JetStreamClient;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "pub", subjects: ["pub.>"], duplicate_window: 60_000_000_000 });
  await jsm.consumers.add("pub", { durable_name: "reader", ack_policy: AckPolicy.Explicit });
  js = jetstream(nc);
});

afterAll(async () => {
  await nc?.close();
  await nats?.destroy();
});

describe("Publisher", () => {
  it("publishes binary-mode events that decode to the same event, deduplicating by id", async () => {
    const registry = new Registry();
    const pub = new Publisher(js, { maxInFlight: 4, service: "test", registry });
    const placed = newEvent({ type: "pub.order.placed.v1", source: "/test", data: { note: 'ü 100% "q"' } });
    const bytes: CloudEvent = {
      specversion: "1.0",
      id: "bin 1",
      source: "/test",
      type: "pub.blob.v1",
      datacontenttype: "application/octet-stream",
      data: new Uint8Array([0, 13, 10, 255]),
    };
    const first = await pub.publish(placed);
    expect(first.duplicate).toBe(false);
    await pub.publish(bytes);
    // A redelivered input republishes the same follow-up: JetStream drops the copy.
    const f1 = await pub.publish(followUpEvent(placed, { type: "pub.order.next.v1", source: "/test", data: { n: 1 } }));
    const f2 = await pub.publish(followUpEvent(placed, { type: "pub.order.next.v1", source: "/test", data: { n: 1 } }));
    expect(f1.duplicate).toBe(false);
    expect(f2.duplicate).toBe(true);
    expect(f2.seq).toBe(f1.seq);

    const consumer = await js.consumers.get("pub", "reader");
    const got: CloudEvent[] = [];
    const iter = await consumer.fetch({ max_messages: 3, expires: 2000 });
    for await (const m of iter) {
      // On the wire: ce- headers, Nats-Msg-Id = CE id, all values plain ASCII.
      expect(m.headers?.get("Nats-Msg-Id")).toBe(decodeMessage(m).id);
      for (const [k, values] of m.headers!) if (k.startsWith("ce-")) for (const v of values) expect(v).toMatch(/^[\x21-\x7e]*$/);
      got.push(decodeMessage(m));
      m.ack();
    }
    expect(got).toHaveLength(3);
    expect(got[0]).toEqual(placed);
    expect(got[1]).toEqual(bytes);
    const metrics = await registry.getSingleMetricAsString("jetmesh_events_published_total");
    expect(metrics).toContain('jetmesh_events_published_total{service="test",type="pub.order.next.v1"} 2');
  });

  it("keeps at most maxInFlight publishes pending and flushes", async () => {
    const pub = new Publisher(js, { maxInFlight: 8 });
    let maxSeen = 0;
    const acks = [];
    for (let i = 0; i < 200; i++) {
      acks.push(pub.publish(newEvent({ type: "pub.load.v1", source: "/test", data: { i } })));
      maxSeen = Math.max(maxSeen, pub.pending);
    }
    await pub.flush();
    expect(pub.pending).toBe(0);
    expect(maxSeen).toBeLessThanOrEqual(8);
    const seqs = (await Promise.all(acks)).map((a) => a.seq);
    expect(new Set(seqs).size).toBe(200);
  });
});
