// The JetMesh operator as a library: startOperator(config) runs it in-process (tests, make dev)
// and main.ts runs it as a process. Leader election decides whether this instance reconciles;
// watches run either way so a standby takes over with a warm cache.
import type { Logger } from "pino";
import type { Server } from "node:http";
import type { EventStream, EventSubscription } from "./api/types.ts";
import type { OperatorConfig } from "./config.ts";
import { Controller } from "./controller/manager.ts";
import { EVENTSTREAMS, EVENTSUBSCRIPTIONS, type ReconcileContext } from "./controller/context.ts";
import { EventStreamReconciler } from "./controller/eventstream.ts";
import { EventSubscriptionReconciler } from "./controller/eventsubscription.ts";
import { startHttpServer } from "./health.ts";
import { NatsConnector } from "./jetstream/connection.ts";
import { MAX_DELIVERIES_ADVISORIES, MaxDeliveriesDeadLetterer } from "./controller/max-deliveries.ts";
import { KubeEventRecorder } from "./kube/events.ts";
import { Informer, NamespacedInformers, type ChangeHandler, type KubeObject } from "./kube/informer.ts";
import type { ResourceRef } from "./kube/rest.ts";
import { LeaderElector } from "./kube/leader.ts";
import { kubeObjectWriter } from "./kube/objects.ts";
import { KubeRest } from "./kube/rest.ts";
import { createLogger } from "./log.ts";
import { OperatorMetrics } from "./metrics.ts";
import { AutoscalerLoops } from "./controller/autoscalers.ts";
import { ScalerObjects } from "./controller/scaler-objects.ts";
import type { ScalingAccess } from "./controller/scaling.ts";
import { DeploymentScaleTarget, JetStreamLagSource } from "./autoscale/index.ts";
import { startTracing } from "@jetmesh/mesh/tracing";

export { parseConfig, ConfigError, type OperatorConfig } from "./config.ts";
export type { EventStream, EventSubscription } from "./api/types.ts";

export interface OperatorHandle {
  /** Port of /metrics, /healthz, /readyz. */
  readonly httpPort: number;
  readonly metrics: OperatorMetrics;
  readonly identity: string;
  isLeader(): boolean;
  natsConnected(): boolean;
  /** Informer counters (lists, watches, stalls, 410s) per kind, for tests. */
  watchStats(): Record<string, { lists: number; watches: number; stalls: number; gone: number; errors: number }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Export Node.js process metrics (on for a process, off when several run in one test). */
  processMetrics?: boolean;
}

export async function startOperator(config: OperatorConfig, opts: StartOptions = {}): Promise<OperatorHandle> {
  const log = opts.logger ?? createLogger(config.logLevel);
  const metrics = new OperatorMetrics({ processMetrics: opts.processMetrics ?? false, leaseName: config.leaderElection.name });
  const rest = KubeRest.fromFile(config.kubeconfigPath, {
    onRequest: (r) => metrics.restRequest(r),
    rateLimit: config.kubeApi,
    onRateLimiterWait: (w) => metrics.rateLimiterWait(w),
    userAgent: "jetmesh-operator",
  });
  const events = new KubeEventRecorder(rest, log);

  let controller: Controller | undefined;
  const nats = new NatsConnector(config.nats, log, (connected) => {
    metrics.natsConnected.set(connected ? 1 : 0);
    // Everything NATS-dependent is looked at again as soon as NATS is back.
    if (connected) controller?.enqueueAll();
  });

  const informerOpts = { stallTimeoutMs: config.watchStallMs, watchTimeoutSeconds: config.watchTimeoutSeconds };
  // Every namespace (a ClusterRole), or only those listed (Roles there: namespaced mode).
  const informer = <T extends KubeObject>(resource: ResourceRef, handler: ChangeHandler<T>) =>
    config.watchNamespaces.length === 0
      ? new Informer<T>(rest, resource, handler, informerOpts, log)
      : new NamespacedInformers<T>(rest, resource, config.watchNamespaces, handler, informerOpts, log);
  const streams = informer<EventStream>(EVENTSTREAMS, (t, o, old) => controller?.onStreamChange(t, o, old));
  const subscriptions = informer<EventSubscription>(EVENTSUBSCRIPTIONS, (t, o, old) => controller?.onSubscriptionChange(t, o, old));

  const ctx: ReconcileContext = {
    streams,
    subscriptions,
    writer: kubeObjectWriter(rest),
    events,
    nats,
    metrics,
    subjectPolicy: config.subjectPolicy,
    log,
    now: () => new Date(),
  };
  // Scaling is a step of the EventSubscription reconcile: the native loops report back by
  // requeueing a subscription's key; rendered KEDA/HPA objects are watched the same way.
  const requeue = (key: string) => controller?.subscriptionQueue.add(key);
  const autoscalers = config.autoscale
    ? new AutoscalerLoops({
        lagSource: new JetStreamLagSource(
          () => nats.admin(),
          () => nats.lastError,
        ),
        scaleTarget: new DeploymentScaleTarget(rest),
        // Per-subscription series: the leader's alone (a standby exports none).
        registry: metrics.objects,
        events,
        subscriptions,
        requeue,
        log,
      })
    : undefined;
  const scalerObjects = config.autoscale ? new ScalerObjects(rest, informerOpts, log, requeue) : undefined;
  const scaling: ScalingAccess | undefined =
    autoscalers && scalerObjects ? { loops: autoscalers, objects: scalerObjects, natsMonitoringEndpoint: config.natsMonitoringEndpoint } : undefined;

  const streamReconciler = new EventStreamReconciler(ctx);
  const subscriptionReconciler = new EventSubscriptionReconciler(ctx, scaling);
  const tracing = startTracing(config.tracing, "jetmesh-operator");
  controller = new Controller(
    { workers: config.workers, resyncMs: config.resyncMs, metrics, log, tracer: tracing?.tracer },
    streamReconciler,
    subscriptionReconciler,
  );
  controller.setCaches(streams, subscriptions);

  let leading = false;
  const deadLetterer = new MaxDeliveriesDeadLetterer({ subscriptions, nats, events, log, leading: () => leading });
  nats.listen(MAX_DELIVERIES_ADVISORIES, (data) => void deadLetterer.onAdvisory(data));
  const c = controller;
  const onStart = () => {
    leading = true;
    metrics.setLeading(true);
    // Reconcile only once the caches hold the cluster's state.
    void Promise.all([streams.synced, subscriptions.synced]).then(() => {
      if (leading) c.start();
    });
  };
  const onStop = () => {
    leading = false;
    metrics.setLeading(false);
    c.pause();
    void autoscalers?.stopAll();
  };
  const elector = config.leaderElection.enabled ? new LeaderElector(rest, config.leaderElection, log, onStart, onStop) : undefined;

  nats.start();
  streams.start();
  subscriptions.start();
  let synced = false;
  void Promise.all([streams.synced, subscriptions.synced]).then(() => (synced = true));
  if (elector) elector.start();
  else onStart();

  let http: { server: Server; port: number };
  try {
    http = await startHttpServer(config.httpHost, config.httpPort, metrics, {
      ready: () => ({
        ok: synced && nats.connected,
        details: { cachesSynced: synced, natsConnected: nats.connected, natsError: nats.connected ? undefined : nats.lastError, leader: leading },
      }),
    });
  } catch (err) {
    await Promise.all([streams.stop(), subscriptions.stop(), nats.stop()]);
    throw err;
  }
  log.info(
    {
      httpPort: http.port,
      identity: config.leaderElection.identity,
      leaderElection: config.leaderElection.enabled,
      watchNamespaces: config.watchNamespaces.length ? config.watchNamespaces : "all",
    },
    "operator started",
  );

  return {
    httpPort: http.port,
    metrics,
    identity: config.leaderElection.identity,
    isLeader: () => leading,
    natsConnected: () => nats.connected,
    watchStats: () => ({ eventstreams: { ...streams.stats }, eventsubscriptions: { ...subscriptions.stats } }),
    async stop() {
      await elector?.stop();
      onStop();
      await c.stop();
      await autoscalers?.stopAll();
      await scalerObjects?.stop();
      await Promise.all([streams.stop(), subscriptions.stop()]);
      await nats.stop();
      await new Promise<void>((r) => http.server.close(() => r()));
      http.server.closeAllConnections();
      rest.close();
      await tracing?.shutdown().catch((err: Error) => log.warn({ err: err.message }, "spans not exported"));
    },
  };
}
