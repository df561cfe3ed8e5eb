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
  renderHorizontalPodAutoscaler,
  renderScaledObject,
  renderedName,
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
import { isConflict, isNotFound, type KubeRest, type ResourceRef } from "./kube/rest.ts";
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
  /** host:port of the NATS monitoring endpoint, written into rendered KEDA ScaledObjects. */
  natsMonitoringEndpoint: string | undefined;
  /**
   * The autoscaler polls every few seconds; when it finds a subscription's consumer gone, the
   * operator repairs it now instead of at the next resync.
   */
  onConsumerMissing?: (key: string) => void;
}

const OWNED = ["conditions", "replicas", "lastScaleTime", "lastScaleReason", "lag"] as const;
const SCALED_OBJECTS: ResourceRef = { group: "keda.sh", version: "v1alpha1", plural: "scaledobjects" };
const HPAS: ResourceRef = { group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers" };

/**
 * Mode keda / hpa: the scaling block becomes a ScaledObject or an HPA owned by the
 * EventSubscription (so it is garbage-collected with it). Written only when it changed;
 * switching modes deletes what was rendered before.
 */
class RenderedScalers {
  private readonly rest: KubeRest;
  private readonly rendered = new Map<string, { ref: ResourceRef; json: string }>();
  constructor(rest: KubeRest) {
    this.rest = rest;
  }

  async apply(key: string, ref: ResourceRef | undefined, obj: { metadata: { name: string; namespace: string } } | undefined): Promise<void> {
    const prev = this.rendered.get(key);
    const json = obj ? JSON.stringify(obj) : "";
    if (prev && prev.ref === ref && prev.json === json) return;
    if (prev && prev.ref !== ref) {
      const { namespace, name } = JSON.parse(prev.json).metadata as { namespace: string; name: string };
      await this.rest.delete(prev.ref, namespace, name).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      this.rendered.delete(key);
    }
    if (!ref || !obj) return;
    const { namespace, name } = obj.metadata;
    try {
      const current = await this.rest.get<{ metadata: { resourceVersion: string } }>(ref, namespace, name);
      await this.rest.replace(ref, namespace, name, { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.rest.create(ref, namespace, obj);
    }
    this.rendered.set(key, { ref, json });
  }

  forget(key: string): void {
    this.rendered.delete(key);
  }
}

export function attachAutoscaler(w: AutoscalerWiring): AutoscalerHandle {
  /** "<stream>/<consumer>" → subscription key, for the consumers the autoscaler reads. */
  const byConsumer = new Map<string, string>();
  const lagSource: LagSource = {
    async read(stream, consumer) {
      const admin = w.nats.admin();
      if (!admin) throw new NatsUnavailable(w.nats.lastError);
      const c = await admin.consumerInfo(stream, consumer);
      if (!c) {
        const key = byConsumer.get(`${stream}/${consumer}`);
        if (key) w.onConsumerMissing?.(key);
        return null;
      }
      return {
        pending: c.pending,
        ackPending: c.ackPending,
        redelivered: c.redelivered,
        ackFloorConsumerSeq: c.ackFloorConsumerSeq,
        deliveredConsumerSeq: c.deliveredConsumerSeq,
        paused: c.paused,
      };
    },
  };
  const subscriptionOf = (t: ScalingTarget) => w.subscriptions.get(objectKey(t.namespace, t.subscription));

  const writeScaling = async (sub: EventSubscription, s: Partial<AutoscaleStatus> & { condition: AutoscaleStatus["condition"] }) => {
    const next: Record<string, unknown> = {
      conditions: setCondition(sub.status?.conditions, s.condition, new Date().toISOString(), sub.metadata.generation),
      replicas: s.replicas ?? sub.status?.replicas,
      lastScaleTime: s.lastScaleTime ?? sub.status?.lastScaleTime,
      lastScaleReason: s.lastScaleReason ?? (sub.status as { lastScaleReason?: string } | undefined)?.lastScaleReason,
      lag: s.lag ?? sub.status?.lag,
    };
    const patch = statusPatch(sub.status as Record<string, unknown> | undefined, next, OWNED);
    if (!patch) return;
    // Guarded by resourceVersion, like the reconciler's writes, so neither drops the other's conditions.
    await w.rest.patch(EVENTSUBSCRIPTIONS, sub.metadata.namespace, sub.metadata.name, { metadata: { resourceVersion: sub.metadata.resourceVersion }, status: patch }, "merge", "status");
  };
  /**
   * One retry on a conflict, once the watch has delivered the write we collided with (a
   * moment later), from the cache: no extra GET, so no extra RBAC verb.
   */
  const writeScalingFresh = async (sub: EventSubscription, s: Parameters<typeof writeScaling>[1]) => {
    try {
      await writeScaling(sub, s);
    } catch (err) {
      if (!isConflict(err)) throw err;
      await new Promise((r) => setTimeout(r, 250));
      const fresh = w.subscriptions.get(objectKey(sub.metadata.namespace, sub.metadata.name));
      if (fresh && !fresh.metadata.deletionTimestamp) await writeScaling(fresh, s);
    }
  };

  const kube = {
    async status(t: ScalingTarget, s: AutoscaleStatus) {
      const sub = subscriptionOf(t);
      if (!sub || sub.metadata.deletionTimestamp) return;
      await writeScalingFresh(sub, s).catch((err: Error) => w.log.debug({ object: `${t.namespace}/${t.subscription}`, err: err.message }, "autoscaler status write failed"));
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
    scaleTarget: new DeploymentScaleTarget(w.rest),
    reporter: combineReporters(kube, metricsReporter(createAutoscaleMetrics(w.metrics.objects))),
    onError: (t, err) => w.log.warn({ object: `${t.namespace}/${t.subscription}`, err: (err as Error).message }, "autoscaler"),
  });

  const renderer = new RenderedScalers(w.rest);
  const render = async (sub: EventSubscription, target: ScalingTarget | undefined) => {
    const key = objectKey(sub.metadata.namespace, sub.metadata.name);
    const owner = { apiVersion: sub.apiVersion, kind: sub.kind, name: sub.metadata.name, uid: sub.metadata.uid ?? "" };
    const mode = target?.policy.mode;
    if (target && mode === "keda") {
      if (!w.natsMonitoringEndpoint) {
        await writeScalingFresh(sub, {
          condition: { type: "Scaling", status: "False", reason: "KedaNotConfigured" as never, message: "mode keda needs the operator's NATS_MONITORING_ENDPOINT (host:port of the NATS monitoring port) for the ScaledObject's trigger" },
        });
        return;
      }
      await renderer.apply(key, SCALED_OBJECTS, renderScaledObject(target, { natsServerMonitoringEndpoint: w.natsMonitoringEndpoint, owner }));
    } else if (target && mode === "hpa") {
      await renderer.apply(key, HPAS, renderHorizontalPodAutoscaler(target, { owner }));
    } else {
      await renderer.apply(key, undefined, undefined);
    }
  };

  const observer: SubscriptionObserver = {
    reconciled(sub) {
      const key = objectKey(sub.metadata.namespace, sub.metadata.name);
      let target: ScalingTarget | undefined;
      try {
        target = scalingTargetFor(sub.metadata.namespace, sub.metadata.name, sub.spec);
      } catch (err) {
        if (!(err instanceof ScalingSpecError)) throw err;
        void manager.remove(key);
        void writeScalingFresh(sub, { condition: { type: "Scaling", status: "False", reason: "InvalidSpec" as never, message: err.message } }).catch(() => undefined);
        return;
      }
      for (const [c, k] of byConsumer) if (k === key) byConsumer.delete(c);
      if (target) byConsumer.set(`${target.stream}/${target.consumer}`, key);
      if (target) void manager.upsert(key, target).catch((err: Error) => w.log.warn({ object: key, err: err.message }, "autoscaler start failed"));
      else void manager.remove(key);
      render(sub, target).catch((err: Error) => {
        w.log.warn({ object: key, err: err.message, name: renderedName(sub.metadata.name) }, "could not write the rendered KEDA/HPA object");
        w.events.warning(sub, "RenderFailed", `could not write ${target?.policy.mode} scaler ${renderedName(sub.metadata.name)}: ${err.message}`);
      });
    },
    removed(key) {
      for (const [c, k] of byConsumer) if (k === key) byConsumer.delete(c);
      void manager.remove(key);
      renderer.forget(key);
    },
  };
  return { observer, stopAll: () => manager.stopAll() };
}
