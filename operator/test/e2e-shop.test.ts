// The shop's manifests applied with real kubectl against the API test server and against the
// real kube-apiserver, reconciled into a real nats-server: streams and consumers appear, `kubectl wait --for=condition=Ready` passes,
// edits (updatable and immutable), drift behind the operator's back, deletion policies.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@jetmesh/testing";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { CRDS, EXAMPLES, startEnv, startRealEnv, waitReason, type Env, type KubeServer } from "./harness.ts";
import type { JetStreamAdmin } from "../src/jetstream/admin.ts";

// Both lanes: the API test server (fast, what `make dev` runs on) and the real kube-apiserver.
const LANES: [string, () => Promise<Env<KubeServer>>][] = [
  ["API test server", startEnv],
  ["real kube-apiserver", startRealEnv],
];

for (const [lane, start] of LANES)
  describe(`the shop's examples (${lane})`, () => {
    let env: Env<KubeServer>;
    let js: JetStreamAdmin;

    beforeAll(async () => {
      env = await start();
      await env.k(["apply", "-f", CRDS]);
      // Namespaces are confined to their own subjects; the platform allows shop one more (doomed.>).
      await env.operator({ ALLOWED_SUBJECTS: JSON.stringify({ shop: ["doomed.>"] }) });
      js = await env.js();
    }, 180_000);
    afterAll(async () => env?.stop());

    it("become streams and consumers, and kubectl wait sees them Ready", async () => {
      await env.k(["apply", "-f", EXAMPLES]);
      await env.k(["wait", "--for=condition=Ready", "-n", "shop", "eventstreams", "--all", "--timeout=30s"]);
      await env.k(["wait", "--for=condition=Ready", "-n", "shop", "eventsubscriptions", "--all", "--timeout=30s"]);
      const events = await js.streamInfo("shop_events");
      expect(events?.config.subjects).toEqual(["shop.>"]);
      expect(events?.config.max_bytes).toBe(1024 ** 3);
      expect((await js.streamInfo("shop_dead-letters"))?.config.subjects).toEqual(["jetmesh.dlq.shop.>"]);
      for (const name of ["inventory", "payment", "order", "shipping"]) {
        const c = await js.consumerInfo("shop_events", `shop_${name}`);
        expect(c?.config.ack_policy).toBe("explicit");
        expect(c?.config.max_deliver).toBe(5);
        // ackWait is the per-delivery time; backoff (retry delays) goes to the runtime in the
        // consumer's metadata, never to JetStream's backoff (which would make the ack wait 1 s).
        expect(c?.config.ack_wait).toBe(30e9);
        expect(c?.config.backoff ?? []).toEqual([]);
        expect(c?.config.description).toBe(`JetMesh shop/${name}`);
        expect((c?.config.metadata as Record<string, string> | undefined)?.["jetmesh.io/backoff"]).toBe("1s,5s,30s");
      }
      // The server filters: one type → filter_subject, several → filter_subjects.
      expect((await js.consumerInfo("shop_events", "shop_shipping"))?.config.filter_subject).toBe("shop.order.confirmed.v1");
      expect((await js.consumerInfo("shop_events", "shop_order"))?.config.filter_subjects).toEqual([
        "shop.inventory.rejected.v1",
        "shop.payment.authorized.v1",
        "shop.payment.declined.v1",
        "shop.shipment.dispatched.v1",
      ]);

      const sub = await env.getJson("jmsub", "shop", "payment");
      expect(sub?.status).toMatchObject({
        consumerName: "shop_payment",
        streamName: "shop_events",
        observedGeneration: 1,
        lag: { pending: 0, ackPending: 0, redelivered: 0 },
      });
      const table = await env.k(["get", "jetmesh", "-n", "shop"]);
      expect(table).toMatch(/eventsubscription\.jetmesh\.io\/inventory\s+True\s+Ready\s+events\s+shop_inventory/);
    });

    it("updates what JetStream can update and recreates a consumer for what it cannot", async () => {
      await env.k(["patch", "jmstream", "-n", "shop", "events", "--type=merge", "-p", '{"spec":{"maxAge":"24h"}}']);
      await waitFor("maxAge applied", async () => (await js.streamInfo("shop_events"))?.config.max_age === 24 * 3600e9, { timeoutMs: 10_000 });

      await env.k(["patch", "jmsub", "-n", "shop", "payment", "--type=merge", "-p", '{"spec":{"delivery":{"maxAckPending":7}}}']);
      await waitFor("maxAckPending applied", async () => (await js.consumerInfo("shop_events", "shop_payment"))?.config.max_ack_pending === 7, {
        timeoutMs: 10_000,
      });

      // startFrom cannot change on a consumer: it is recreated, and an Event says why.
      await env.k(["patch", "jmsub", "-n", "shop", "payment", "--type=merge", "-p", '{"spec":{"delivery":{"startFrom":"new"}}}']);
      await waitFor("recreated with deliver policy new", async () => (await js.consumerInfo("shop_events", "shop_payment"))?.config.deliver_policy === "new", {
        timeoutMs: 10_000,
      });
      const events = await env.k(["get", "events", "-n", "shop", "--field-selector", "involvedObject.name=payment", "-o", "json"]);
      expect(events).toMatch(/ConsumerRecreated/);
      expect(events).toMatch(/delivery.startFrom cannot change/);
      await env.k(["wait", "--for=condition=Ready", "-n", "shop", "jmsub/payment", "--timeout=10s"]);

      // Retention cannot change on a stream: the apiserver refuses the edit at admission (CEL
      // transition rule), naming the field and what to do.
      const refused = await env.kubectl(["patch", "jmstream", "-n", "shop", "dead-letters", "--type=merge", "-p", '{"spec":{"retention":"workqueue"}}']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/spec.retention: Invalid value: .*retention is immutable: JetStream cannot change it on an existing stream/);
      expect((await js.streamInfo("shop_dead-letters"))?.config.retention).toBe("limits");

      // A stream that already exists with another retention (made outside JetMesh) is not
      // touched: Ready=False names the field and what to do.
      const nc = await connect({ servers: env.nats.url });
      await (await jetstreamManager(nc)).streams.add({ name: "adopt_orders", subjects: ["adopt.>"], retention: RetentionPolicy.Workqueue });
      await nc.close();
      // (apply, not `kubectl create namespace`: that sends protobuf, which the API test server
      // does not speak — docs/testing.md lists the differences)
      await env.k(["apply", "-f", "-"], "apiVersion: v1\nkind: Namespace\nmetadata: { name: adopt }\n");
      await env.k(["apply", "-f", "-"], STREAM("orders", "adopt.>", "Retain", "adopt"));
      const c = await waitReason(env, "jmstream", "adopt", "orders", "ImmutableFieldChanged");
      expect(c.message).toMatch(/spec.retention cannot be changed on an existing JetStream stream \(retention is workqueue\)/);
      expect((await js.streamInfo("adopt_orders"))?.config.retention).toBe("workqueue");
      await env.k(["delete", "jmstream", "-n", "adopt", "orders", "--timeout=15s"]);
    });

    it("repairs streams and consumers deleted or edited behind its back", async () => {
      await js.deleteConsumer("shop_events", "shop_shipping");
      const cfg = (await js.consumerInfo("shop_events", "shop_order"))!.config;
      expect(cfg.max_deliver).toBe(5);
      // Edited by hand, with a JetStream backoff as earlier operator versions set it (ack wait 1 s).
      const nc = await connect({ servers: env.nats.url });
      await (await jetstreamManager(nc)).consumers.update("shop_events", "shop_order", { max_deliver: 3, backoff: [1e9, 5e9], description: "edited" });
      await nc.close();
      await js.deleteStream("shop_dead-letters");
      await waitFor("consumer recreated", async () => (await js.consumerInfo("shop_events", "shop_shipping")) !== undefined, { timeoutMs: 10_000 });
      const restored = await waitFor(
        "consumer restored",
        async () => {
          const c = (await js.consumerInfo("shop_events", "shop_order"))?.config;
          return c?.max_deliver === 5 && c.description === "JetMesh shop/order" ? c : undefined;
        },
        { timeoutMs: 10_000 },
      );
      expect(restored.backoff ?? []).toEqual([]);
      expect(restored.ack_wait).toBe(30e9);
      await waitFor("stream recreated", async () => (await js.streamInfo("shop_dead-letters")) !== undefined, { timeoutMs: 10_000 });
      // Events are recorded after the repair they describe: wait for them too.
      await waitFor(
        "StreamRecreated and DriftRepaired Events",
        async () => {
          const all = await env.k(["get", "events", "-n", "shop", "-o", "json"]);
          return /StreamRecreated/.test(all) && /DriftRepaired/.test(all) ? all : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
    });

    it("deletes the consumer with its EventSubscription, and the stream only with deletionPolicy Delete", async () => {
      await env.k(["delete", "jmsub", "-n", "shop", "shipping", "--timeout=15s"]);
      expect(await js.consumerInfo("shop_events", "shop_shipping")).toBeUndefined();

      await env.k(["delete", "jmstream", "-n", "shop", "dead-letters", "--timeout=15s"]);
      expect(await js.streamInfo("shop_dead-letters")).toBeDefined(); // Retain
      await env.k(["apply", "-f", "-"], STREAM("doomed", "doomed.>", "Delete"));
      await env.k(["wait", "--for=condition=Ready", "-n", "shop", "jmstream/doomed", "--timeout=10s"]);
      expect(await js.streamInfo("shop_doomed")).toBeDefined();
      await env.k(["delete", "jmstream", "-n", "shop", "doomed", "--timeout=15s"]);
      expect(await js.streamInfo("shop_doomed")).toBeUndefined();
    });
  });

export const STREAM = (name: string, subject: string, deletionPolicy = "Retain", ns = "shop") => `
apiVersion: jetmesh.io/v1alpha1
kind: EventStream
metadata: { name: ${name}, namespace: ${ns} }
spec: { subjects: ["${subject}"], deletionPolicy: ${deletionPolicy} }
`;
