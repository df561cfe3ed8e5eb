// The operator's Prometheus metrics. Names are a contract (docs/contracts.md, operator section):
// dashboards and the Helm chart's alerts use them. One registry per operator instance, so
// several operators can run in one test process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Kind = "EventStream" | "EventSubscription";

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<"kind" | "result">;
  readonly reconcileDuration: Histogram<"kind">;
  readonly queueDepth: Gauge<"kind">;
  readonly isLeader: Gauge;
  readonly natsConnected: Gauge;
  readonly streamMessages: Gauge<"namespace" | "stream">;
  readonly streamBytes: Gauge<"namespace" | "stream">;
  readonly subscriptionReady: Gauge<"namespace" | "subscription">;
  readonly subscriptionPending: Gauge<"namespace" | "subscription">;
  readonly subscriptionAckPending: Gauge<"namespace" | "subscription">;
  readonly subscriptionRedelivered: Gauge<"namespace" | "subscription">;

  constructor(defaultMetrics = false) {
    const registers = [this.registry];
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new Counter({ name: "jetmesh_operator_reconcile_total", help: "Reconciles by kind and result (success, requeue, error; invalid = a spec refused in status, not retried until it changes; conflict = a write on a stale copy, retried).", labelNames: ["kind", "result"], registers });
    this.reconcileDuration = new Histogram({
      name: "jetmesh_operator_reconcile_duration_seconds",
      help: "Time one reconcile took.",
      labelNames: ["kind"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.queueDepth = new Gauge({ name: "jetmesh_operator_queue_depth", help: "Keys waiting in the work queue.", labelNames: ["kind"], registers });
    this.isLeader = new Gauge({ name: "jetmesh_operator_is_leader", help: "1 while this process holds the leader Lease.", registers });
    this.natsConnected = new Gauge({ name: "jetmesh_operator_nats_connected", help: "1 while connected to NATS with JetStream answering.", registers });
    this.streamMessages = new Gauge({ name: "jetmesh_stream_messages", help: "Messages in the stream of an EventStream.", labelNames: ["namespace", "stream"], registers });
    this.streamBytes = new Gauge({ name: "jetmesh_stream_bytes", help: "Bytes in the stream of an EventStream.", labelNames: ["namespace", "stream"], registers });
    this.subscriptionReady = new Gauge({ name: "jetmesh_subscription_ready", help: "1 when the subscription's consumer exists and matches its spec.", labelNames: ["namespace", "subscription"], registers });
    this.subscriptionPending = new Gauge({ name: "jetmesh_subscription_pending_messages", help: "Messages not yet delivered to the consumer.", labelNames: ["namespace", "subscription"], registers });
    this.subscriptionAckPending = new Gauge({ name: "jetmesh_subscription_ack_pending_messages", help: "Messages delivered and not yet acknowledged.", labelNames: ["namespace", "subscription"], registers });
    this.subscriptionRedelivered = new Gauge({ name: "jetmesh_subscription_redelivered_messages", help: "Messages delivered more than once and still unacknowledged.", labelNames: ["namespace", "subscription"], registers });
    this.isLeader.set(0);
    this.natsConnected.set(0);
  }

  setStream(namespace: string, stream: string, messages: number, bytes: number): void {
    this.streamMessages.set({ namespace, stream }, messages);
    this.streamBytes.set({ namespace, stream }, bytes);
  }

  forgetStream(namespace: string, stream: string): void {
    this.streamMessages.remove({ namespace, stream });
    this.streamBytes.remove({ namespace, stream });
  }

  setSubscription(namespace: string, subscription: string, ready: boolean, lag?: { pending: number; ackPending: number; redelivered: number }): void {
    const l = { namespace, subscription };
    this.subscriptionReady.set(l, ready ? 1 : 0);
    if (lag) {
      this.subscriptionPending.set(l, lag.pending);
      this.subscriptionAckPending.set(l, lag.ackPending);
      this.subscriptionRedelivered.set(l, lag.redelivered);
    }
  }

  forgetSubscription(namespace: string, subscription: string): void {
    const l = { namespace, subscription };
    for (const g of [this.subscriptionReady, this.subscriptionPending, this.subscriptionAckPending, this.subscriptionRedelivered]) g.remove(l);
  }
}
