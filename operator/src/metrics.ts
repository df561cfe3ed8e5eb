// The operator's Prometheus metrics. Names are a contract (docs/contracts.md, operator section):
// dashboards and the Helm chart's alerts use them. One set of registries per operator instance,
// so several operators can run in one test process.
//
// What every controller has carries the names, labels and meanings of controller-runtime and
// client-go (controller_runtime_reconcile_*, workqueue_*, leader_election_master_status,
// rest_client_*), so the dashboards and alerts written for kubebuilder operators work on this
// one too. jetmesh_* is kept for what is JetMesh's own: NATS, streams and subscriptions.
//
// The per-object series (jetmesh_stream_*, jetmesh_subscription_*, jetmesh_autoscaler_*) live in
// a registry of their own that only the leader exports: a standby neither reconciles nor
// measures lag, so it has nothing current to say, and rules need no "is this the leader" join.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** controller-runtime's controller names: the kind in lower case. */
export type ControllerName = "eventstream" | "eventsubscription";
export const CONTROLLERS: readonly ControllerName[] = ["eventstream", "eventsubscription"];

/** controller-runtime's `result` label. */
export type ReconcileResultLabel = "success" | "error" | "requeue" | "requeue_after";

/** What a work queue reports, as client-go's workqueue.MetricsProvider sees it. */
export interface QueueMetrics {
  /** A key became dirty (not counted when it already was): depth + 1, adds + 1. */
  added(): void;
  /** A worker took a key that waited `waitedSeconds` since it was added: depth - 1. */
  taken(waitedSeconds: number): void;
  /** A worker finished a key after `workSeconds`. */
  done(workSeconds: number): void;
  /** A delayed re-add (error backoff or requeue after), as client-go's AddAfter counts it. */
  retried(): void;
}

/** One Kubernetes API request, as client-go's rest client counts it. */
export interface RestRequest {
  method: string;
  host: string;
  /** HTTP status, or undefined when no response came (client-go's code "<error>"). */
  status: number | undefined;
  seconds: number;
}

// client-go's buckets: workqueue latencies ExponentialBuckets(10e-9, 10, 12), request latency below.
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
// controller-runtime's reconcile_time_seconds buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8,
  9, 10, 15, 20, 25, 30, 40, 50, 60,
];
const REST_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0];

export class OperatorMetrics {
  /** Series every replica exports. */
  readonly registry = new Registry();
  /** Per-object series: exported only while this replica leads. */
  readonly objects = new Registry();

  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly terminalReconcileErrors: Counter<"controller">;
  readonly reconcileTime: Histogram<"controller">;
  readonly maxConcurrentReconciles: Gauge<"controller">;
  readonly activeWorkers: Gauge<"controller">;
  readonly queueDepth: Gauge<"name" | "controller">;
  readonly queueAdds: Counter<"name" | "controller">;
  readonly queueDuration: Histogram<"name" | "controller">;
  readonly workDuration: Histogram<"name" | "controller">;
  readonly queueRetries: Counter<"name" | "controller">;
  readonly leaderStatus: Gauge<"name">;
  readonly restRequests: Counter<"code" | "method" | "host">;
  readonly restDuration: Histogram<"verb" | "host">;
  readonly restRateLimiterDuration: Histogram<"verb" | "host">;
  readonly natsConnected: Gauge;

  readonly streamMessages: Gauge<"namespace" | "stream">;
  readonly streamBytes: Gauge<"namespace" | "stream">;
  readonly subscriptionReady: Gauge<"namespace" | "subscription">;
  readonly subscriptionPending: Gauge<"namespace" | "subscription">;
  readonly subscriptionAckPending: Gauge<"namespace" | "subscription">;
  readonly subscriptionRedelivered: Gauge<"namespace" | "subscription">;

  private readonly leaseName: string;
  private leading = false;

  constructor(opts: { processMetrics?: boolean; leaseName?: string } = {}) {
    const registers = [this.registry];
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.leaseName = opts.leaseName ?? "jetmesh-operator";

    this.reconcileTotal = new Counter({
      name: "controller_runtime_reconcile_total",
      help: "Total number of reconciliations per controller",
      labelNames: ["controller", "result"],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: "controller_runtime_reconcile_errors_total",
      help: "Total number of reconciliation errors per controller",
      labelNames: ["controller"],
      registers,
    });
    this.terminalReconcileErrors = new Counter({
      name: "controller_runtime_terminal_reconcile_errors_total",
      help: "Total number of terminal reconciliation errors per controller (a spec refused in status, not retried until it changes)",
      labelNames: ["controller"],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.maxConcurrentReconciles = new Gauge({
      name: "controller_runtime_max_concurrent_reconciles",
      help: "Maximum number of concurrent reconciles per controller",
      labelNames: ["controller"],
      registers,
    });
    this.activeWorkers = new Gauge({
      name: "controller_runtime_active_workers",
      help: "Number of currently used workers per controller",
      labelNames: ["controller"],
      registers,
    });

    const queueLabels = ["name", "controller"] as const;
    this.queueDepth = new Gauge({ name: "workqueue_depth", help: "Current depth of workqueue", labelNames: queueLabels, registers });
    this.queueAdds = new Counter({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", labelNames: queueLabels, registers });
    this.queueDuration = new Histogram({
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames: queueLabels,
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.workDuration = new Histogram({
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes",
      labelNames: queueLabels,
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.queueRetries = new Counter({
      name: "workqueue_retries_total",
      help: "Total number of retries handled by workqueue",
      labelNames: queueLabels,
      registers,
    });

    this.leaderStatus = new Gauge({
      name: "leader_election_master_status",
      help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
      labelNames: ["name"],
      registers,
    });
    this.restRequests = new Counter({
      name: "rest_client_requests_total",
      help: "Number of HTTP requests, partitioned by status code, method, and host.",
      labelNames: ["code", "method", "host"],
      registers,
    });
    this.restDuration = new Histogram({
      name: "rest_client_request_duration_seconds",
      help: "Request latency in seconds. Broken down by verb, and host.",
      labelNames: ["verb", "host"],
      buckets: REST_BUCKETS,
      registers,
    });
    this.restRateLimiterDuration = new Histogram({
      name: "rest_client_rate_limiter_duration_seconds",
      help: "Client side rate limiter latency in seconds. Broken down by verb, and host.",
      labelNames: ["verb", "host"],
      buckets: REST_BUCKETS,
      registers,
    });
    this.natsConnected = new Gauge({ name: "jetmesh_operator_nats_connected", help: "1 while connected to NATS with JetStream answering.", registers });

    const objects = [this.objects];
    this.streamMessages = new Gauge({
      name: "jetmesh_stream_messages",
      help: "Messages in the stream of an EventStream.",
      labelNames: ["namespace", "stream"],
      registers: objects,
    });
    this.streamBytes = new Gauge({
      name: "jetmesh_stream_bytes",
      help: "Bytes in the stream of an EventStream.",
      labelNames: ["namespace", "stream"],
      registers: objects,
    });
    this.subscriptionReady = new Gauge({
      name: "jetmesh_subscription_ready",
      help: "1 when the subscription's consumer exists and matches its spec.",
      labelNames: ["namespace", "subscription"],
      registers: objects,
    });
    this.subscriptionPending = new Gauge({
      name: "jetmesh_subscription_pending_messages",
      help: "Messages not yet delivered to the consumer.",
      labelNames: ["namespace", "subscription"],
      registers: objects,
    });
    this.subscriptionAckPending = new Gauge({
      name: "jetmesh_subscription_ack_pending_messages",
      help: "Messages delivered and not yet acknowledged.",
      labelNames: ["namespace", "subscription"],
      registers: objects,
    });
    this.subscriptionRedelivered = new Gauge({
      name: "jetmesh_subscription_redelivered_messages",
      help: "Messages delivered more than once and still unacknowledged.",
      labelNames: ["namespace", "subscription"],
      registers: objects,
    });

    // Like controller-runtime and client-go: every series a controller has exists from the
    // start at 0, so rate() and absent() see it before the first event.
    for (const controller of CONTROLLERS) {
      for (const result of ["success", "error", "requeue", "requeue_after"] as const) this.reconcileTotal.inc({ controller, result }, 0);
      this.reconcileErrors.inc({ controller }, 0);
      this.terminalReconcileErrors.inc({ controller }, 0);
      this.reconcileTime.zero({ controller });
      this.activeWorkers.set({ controller }, 0);
      const q = { name: controller, controller };
      this.queueDepth.set(q, 0);
      this.queueAdds.inc(q, 0);
      this.queueRetries.inc(q, 0);
      this.queueDuration.zero(q);
      this.workDuration.zero(q);
    }
    this.leaderStatus.set({ name: this.leaseName }, 0);
    this.natsConnected.set(0);
  }

  /** Leadership changed: the per-object series start empty in either direction. */
  setLeading(leading: boolean): void {
    this.leading = leading;
    this.leaderStatus.set({ name: this.leaseName }, leading ? 1 : 0);
    this.objects.resetMetrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The /metrics text: the per-object series only while leading. */
  async text(): Promise<string> {
    const common = await this.registry.metrics();
    if (!this.leading) return common;
    return `${common.trimEnd()}\n${await this.objects.metrics()}`;
  }

  reconciled(controller: ControllerName, result: ReconcileResultLabel, terminal: boolean, seconds: number): void {
    this.reconcileTotal.inc({ controller, result });
    if (result === "error") this.reconcileErrors.inc({ controller });
    if (terminal) this.terminalReconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, seconds);
  }

  queue(controller: ControllerName): QueueMetrics {
    const l = { name: controller, controller };
    return {
      added: () => {
        this.queueDepth.inc(l);
        this.queueAdds.inc(l);
      },
      taken: (waited) => {
        this.queueDepth.dec(l);
        this.queueDuration.observe(l, waited);
      },
      done: (work) => this.workDuration.observe(l, work),
      retried: () => this.queueRetries.inc(l),
    };
  }

  restRequest(r: RestRequest): void {
    this.restRequests.inc({ code: r.status === undefined ? "<error>" : String(r.status), method: r.method, host: r.host });
    this.restDuration.observe({ verb: r.method, host: r.host }, r.seconds);
  }

  /** A request (or a watch opening: verb GET) waited this long for a token, 0 included, as client-go observes. */
  rateLimiterWait(w: { verb: string; host: string; seconds: number }): void {
    this.restRateLimiterDuration.observe({ verb: w.verb, host: w.host }, w.seconds);
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
