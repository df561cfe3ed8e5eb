// Plugs the autoscaler (operator/src/autoscale, pure decision + per-subscription loop) into the
// operator: lag comes from the operator's own NATS connection, scale writes go to the
// Deployment's scale subresource, and what the loop reports lands in the EventSubscription's
// status (Scaling condition, replicas, lastScaleTime), in Events and in /metrics.
import type { Logger } from "pino";
import {
  AutoscalerManager,
  DeploymentScaleTarget,
  ScalingSpecError,
  combineReporters,
  createAutoscaleMetrics,
  metricsReporter,
  scalingTargetFor,
  type AutoscaleStatus,
  type LagSource,
  type ScalingTarget,
} from "./autoscale/index.ts";
import { setCondition } from "./api/conditions.ts";
import { objectKey } from "./api/names.ts";
import type { EventSubscription } from "./api/types.ts";
import { EVENTSUBSCRIPTIONS, type Cache, type JetStreamAccess } from "./controller/context.ts";
import type { SubscriptionObserver } from "./controller/eventsubscription.ts";
import { statusPatch } from "./controller/status.ts";
import { NatsUnavailable } from "./jetstream/admin.ts";
import type { EventRecorder } from "./kube/events.ts";
import type { KubeRest } from "./kube/rest.ts";
import type { OperatorMetrics } from "./metrics.ts";

export interface AutoscalerHandle {
  observer: SubscriptionObserver;
  stopAll(): Promise<void>;
}

export interface AutoscalerWiring {
  rest: KubeRest;
  nats: JetStreamAccess;
  metrics: OperatorMetrics;
  events: EventRecorder;
  subscriptions: Cache<EventSubscription>;
  log: Logger;
}

const OWNED = ["conditions", "replicas", "lastScaleTime", "lag"] as const;

export function attachAutoscaler(w: AutoscalerWiring): AutoscalerHandle {
  const lagSource: LagSource = {
    async read(stream, consumer) {
      const admin = w.nats.admin();
      if (!admin) throw new NatsUnavailable(w.nats.lastError);
      const c = await admin.consumerInfo(stream, consumer);
      if (!c) return null;
      return {
        pending: c.pending,
        ackPending: c.ackPending,
        redelivered: c.redelivered,
        ackFloorConsumerSeq: c.ackFloorConsumerSeq,
        deliveredConsumerSeq: c.deliveredConsumerSeq,
      };
    },
  };
  const subscriptionOf = (t: ScalingTarget) => w.subscriptions.get(objectKey(t.namespace, t.subscription));

  const writeScaling = async (sub: EventSubscription, s: Partial<AutoscaleStatus> & { condition: AutoscaleStatus["condition"] }) => {
    const next: Record<string, unknown> = {
      conditions: setCondition(sub.status?.conditions, s.condition, new Date().toISOString(), sub.metadata.generation),
      replicas: s.replicas ?? sub.status?.replicas,
      lastScaleTime: s.lastScaleTime ?? sub.status?.lastScaleTime,
      lag: s.lag ?? sub.status?.lag,
    };
    const patch = statusPatch(sub.status as Record<string, unknown> | undefined, next, OWNED);
    if (patch) await w.rest.patch(EVENTSUBSCRIPTIONS, sub.metadata.namespace, sub.metadata.name, { status: patch }, "merge", "status");
  };

  const kube = {
    async status(t: ScalingTarget, s: AutoscaleStatus) {
      const sub = subscriptionOf(t);
      if (!sub || sub.metadata.deletionTimestamp) return;
      await writeScaling(sub, s).catch((err: Error) => w.log.debug({ object: `${t.namespace}/${t.subscription}`, err: err.message }, "autoscaler status write failed"));
    },
    event(t: ScalingTarget, e: { type: "Normal" | "Warning"; reason: string; message: string }) {
      const sub = subscriptionOf(t);
      if (!sub) return;
      if (e.type === "Warning") w.events.warning(sub, e.reason, e.message);
      else w.events.normal(sub, e.reason, e.message);
    },
  };

  const manager = new AutoscalerManager({
    lagSource,
    scaleTarget: new DeploymentScaleTarget(w.rest.kubeConfig),
    reporter: combineReporters(kube, metricsReporter(createAutoscaleMetrics(w.metrics.registry))),
    onError: (t, err) => w.log.warn({ object: `${t.namespace}/${t.subscription}`, err: (err as Error).message }, "autoscaler"),
  });

  const observer: SubscriptionObserver = {
    reconciled(sub) {
      const key = objectKey(sub.metadata.namespace, sub.metadata.name);
      let target: ScalingTarget | undefined;
      try {
        target = scalingTargetFor(sub.metadata.namespace, sub.metadata.name, sub.spec);
      } catch (err) {
        if (!(err instanceof ScalingSpecError)) throw err;
        void manager.remove(key);
        void writeScaling(sub, { condition: { type: "Scaling", status: "False", reason: "InvalidSpec" as never, message: err.message } }).catch(() => undefined);
        return;
      }
      if (target) void manager.upsert(key, target).catch((err: Error) => w.log.warn({ object: key, err: err.message }, "autoscaler start failed"));
      else void manager.remove(key);
    },
    removed(key) {
      void manager.remove(key);
    },
  };
  return { observer, stopAll: () => manager.stopAll() };
}
