// The pure half of the operator's last-delivery dead letters: which advisories count, and the
// headers the dead letter gets (the runtime's contract, docs/runtime.md).
import { describe, expect, it } from "vitest";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { deadLetterMsgId, exhaustedDeadLetterHeaders, parseMaxDeliveriesAdvisory } from "../src/controller/max-deliveries.ts";

const te = new TextEncoder();
const advisory = {
  type: "io.nats.jetstream.advisory.v1.max_deliver",
  id: "x",
  timestamp: "2026-11-30T00:00:00Z",
  stream: "shop_events",
  consumer: "shop_inventory",
  stream_seq: 42,
  deliveries: 5,
};

describe("MAX_DELIVERIES advisories", () => {
  it.each([
    ["the server's advisory", advisory, { stream: "shop_events", consumer: "shop_inventory", streamSeq: 42, deliveries: 5 }],
    ["another advisory type", { ...advisory, type: "io.nats.jetstream.advisory.v1.nak" }, undefined],
    ["no stream sequence", { ...advisory, stream_seq: undefined }, undefined],
    ["sequence 0", { ...advisory, stream_seq: 0 }, undefined],
    ["a fractional sequence", { ...advisory, stream_seq: 1.5 }, undefined],
    ["no stream", { ...advisory, stream: 7 }, undefined],
  ])("%s", (_name, body, expected) => {
    expect(parseMaxDeliveriesAdvisory(te.encode(JSON.stringify(body)))).toEqual(expected);
  });

  it("ignores what is not JSON", () => expect(parseMaxDeliveriesAdvisory(te.encode("{nope"))).toBeUndefined());

  it("keeps the event's headers, drops JetStream's, says why, where from and how often", () => {
    const original = natsHeaders();
    original.set("ce-id", "a%20b");
    original.set("Nats-Msg-Id", "a b");
    original.set("JetMesh-Dlq-Reason", "stale");
    const h = exhaustedDeadLetterHeaders(
      original,
      "shop.order.placed.v1",
      parseMaxDeliveriesAdvisory(te.encode(JSON.stringify(advisory)))!,
      new Date("2026-11-30T10:00:00Z"),
    );
    expect(Object.fromEntries([...h].map(([k, v]) => [k, v.join(",")]))).toEqual({
      "ce-id": "a%20b",
      "JetMesh-Dlq-Reason": "max_deliver",
      "JetMesh-Dlq-Error": expect.stringMatching(/^no answer on the last of 5 deliveries: the subscriber died or hung/),
      "JetMesh-Dlq-Original-Subject": "shop.order.placed.v1",
      "JetMesh-Dlq-Stream": "shop_events",
      "JetMesh-Dlq-Stream-Sequence": "42",
      "JetMesh-Dlq-Consumer": "shop_inventory",
      "JetMesh-Dlq-Delivery-Count": "5",
      "JetMesh-Dlq-Service": "jetmesh-operator",
      "JetMesh-Dlq-Time": "2026-11-30T10:00:00.000Z",
    });
    // The runtime's id for the same message: the two never both land in the dead-letter stream.
    expect(deadLetterMsgId("shop_events", "shop_inventory", 42)).toBe("dlq:shop_events:shop_inventory:42");
  });
});
