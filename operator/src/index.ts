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
import { Informer } from "./kube/informer.ts";
import { LeaderElector } from "./kube/leader.ts";
import { kubeObjectWriter } from "./kube/objects.ts";
import { KubeRest } from "./kube/rest.ts";
import { createLogger } from "./log.ts";
import { OperatorMetrics } from "./metrics.ts";
import { attachAutoscaler, type AutoscalerHandle } from "./autoscaling.ts";
import { splitKey } from "./api/names.ts";
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
  const metrics = new OperatorMetrics(opts.processMetrics ?? false);
  const rest = KubeRest.fromFile(config.kubeconfigPath);
  const events = new KubeEventRecorder(rest, log);

  let controller: Controller | undefined;
  const nats = new NatsConnector(config.nats, log, (connected) => {
    metrics.natsConnected.set(connected ? 1 : 0);
    // Everything NATS-dependent is looked at again as soon as NATS is back.
    if (connected) controller?.enqueueAll();
  });

  const informerOpts = { stallTimeoutMs: config.watchStallMs, watchTimeoutSeconds: config.watchTimeoutSeconds };
  const streams = new Informer<EventStream>(rest, EVENTSTREAMS, (t, o, old) => controller?.onStreamChange(t, o, old), informerOpts, log);
  const subscriptions = new Informer<EventSubscription>(rest, EVENTSUBSCRIPTIONS, (t, o, old) => controller?.onSubscriptionChange(t, o, old), informerOpts, log);

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
  const streamReconciler = new EventStreamReconciler(ctx);
  const subscriptionReconciler = new EventSubscriptionReconciler(ctx);
  const tracing = startTracing(config.tracing, "jetmesh-operator");
  controller = new Controller({ workers: config.workers, resyncMs: config.resyncMs, metrics, log, tracer: tracing?.tracer }, streamReconciler, subscriptionReconciler);
  controller.setCaches(streams, subscriptions);

  const autoscaler: AutoscalerHandle | undefined =
    config.autoscale ? attachAutoscaler({
          rest,
          nats,
          metrics,
          events,
          subscriptions,
          log,
          natsMonitoringEndpoint: config.natsMonitoringEndpoint,
          onConsumerMissing: (key) => {
            const { namespace, name } = splitKey(key);
            metrics.setSubscription(namespace, name, false);
            controller?.subscriptionQueue.add(key);
          },
        }) : undefined;
  if (autoscaler) subscriptionReconciler.observer = autoscaler.observer;

  let leading = false;
  const deadLetterer = new MaxDeliveriesDeadLetterer({ subscriptions, nats, events, log, leading: () => leading });
  nats.listen(MAX_DELIVERIES_ADVISORIES, (data) => void deadLetterer.onAdvisory(data));
  const c = controller;
  const onStart = () => {
    leading = true;
    metrics.isLeader.set(1);
    // Reconcile only once the caches hold the cluster's state.
    void Promise.all([streams.synced, subscriptions.synced]).then(() => {
      if (leading) c.start();
    });
  };
  const onStop = () => {
    leading = false;
    metrics.isLeader.set(0);
    c.pause();
    void autoscaler?.stopAll();
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
    http = await startHttpServer(config.httpHost, config.httpPort, metrics.registry, {
      ready: () => ({
        ok: synced && nats.connected,
        details: { cachesSynced: synced, natsConnected: nats.connected, natsError: nats.connected ? undefined : nats.lastError, leader: leading },
      }),
    });
  } catch (err) {
    await Promise.all([streams.stop(), subscriptions.stop(), nats.stop()]);
    throw err;
  }
  log.info({ httpPort: http.port, identity: config.leaderElection.identity, leaderElection: config.leaderElection.enabled }, "operator started");

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
      await autoscaler?.stopAll();
      await Promise.all([streams.stop(), subscriptions.stop()]);
      await nats.stop();
      await new Promise<void>((r) => http.server.close(() => r()));
      http.server.closeAllConnections();
      rest.close();
      await tracing?.shutdown().catch((err: Error) => log.warn({ err: err.message }, "spans not exported"));
    },
  };
}
