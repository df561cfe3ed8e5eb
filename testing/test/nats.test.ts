import { afterAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { NatsCluster, startNats, waitFor } from "../src/index.ts";

describe("NATS harness: single node", () => {
  let nats: NatsCluster;
  afterAll(async () => nats?.destroy());

  it("starts a JetStream server and keeps file-stored messages across SIGKILL + restart", async () => {
    nats = await startNats();
    let nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "H", subjects: ["h.>"] });
    const js = jetstream(nc);
    for (let i = 0; i < 10; i++) await js.publish("h.x", `m${i}`);
    await nc.close();

    const node = nats.node(0);
    const oldPid = node.pid;
    await node.kill();
    expect(node.running).toBe(false);
    await node.start();
    expect(node.pid).not.toBe(oldPid);

    nc = await connect({ servers: nats.url });
    const info = await (await jetstreamManager(nc)).streams.info("H");
    expect(info.state.messages).toBe(10);
    await nc.close();
  });
});

describe("NATS harness: 3-node cluster", () => {
  let nats: NatsCluster;
  afterAll(async () => nats?.destroy());

  it("runs an R3 stream that survives losing one node", async () => {
    nats = await NatsCluster.start(3);
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 });
    const js = jetstream(nc);
    await js.publish("r3.a", "one");
    const info = await jsm.streams.info("R3");
    expect(info.cluster?.replicas?.length).toBe(2);
    const leaderIdx = nats.nodes.findIndex((n) => n.name === info.cluster?.leader);
    expect(leaderIdx).toBeGreaterThanOrEqual(0);
    await nats.node(leaderIdx).kill();
    // A new leader is elected and the stream keeps accepting writes. The msgID makes a retry
    // of a publish whose ack was lost a duplicate, not a third message.
    const ack = await waitFor("a new stream leader accepts a write", () => js.publish("r3.a", "two", { timeout: 1000, msgID: "two" }), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    expect(ack.seq).toBe(2);
    await nc.close();
  });
});
