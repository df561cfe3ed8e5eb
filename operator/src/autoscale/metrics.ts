// Autoscaler metrics (names from docs/contracts.md) on a registry the operator passes in,
// and a reporter that keeps them up to date. Labels: namespace, subscription.
import { Counter, Gauge, type Registry } from "prom-client";
import type { AutoscaleObservation, AutoscaleReporter, ScalingTarget } from "./types.ts";

const LABELS = ["namespace", "subscription"] as const;

export interface AutoscaleMetrics {
  pending: Gauge<"namespace" | "subscription">;
  ackPending: Gauge<"namespace" | "subscription">;
  lag: Gauge<"namespace" | "subscription">;
  arrivalRate: Gauge<"namespace" | "subscription">;
  processingRate: Gauge<"namespace" | "subscription">;
  replicasDesired: Gauge<"namespace" | "subscription">;
  replicasCurrent: Gauge<"namespace" | "subscription">;
  replicasMax: Gauge<"namespace" | "subscription">;
  drainSeconds: Gauge<"namespace" | "subscription">;
  drainObjectiveSeconds: Gauge<"namespace" | "subscription">;
  scaleTotal: Counter<"namespace" | "subscription" | "direction">;
}

function gauge(registry: Registry, name: string, help: string): Gauge<"namespace" | "subscription"> {
  // Reuse a gauge someone already registered under the contract name instead of throwing.
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<"namespace" | "subscription">;
  return new Gauge({ name, help, labelNames: LABELS, registers: [registry] });
}

/** Creates (or finds) the autoscaler's series on `registry`. */
export function createAutoscaleMetrics(registry: Registry): AutoscaleMetrics {
  const scaleName = "jetmesh_autoscaler_scale_total";
  const scaleTotal =
    (registry.getSingleMetric(scaleName) as Counter<"namespace" | "subscription" | "direction"> | undefined) ??
    new Counter({
      name: scaleName,
      help: "Scale subresource writes by the autoscaler, by direction (up, down).",
      labelNames: [...LABELS, "direction"],
      registers: [registry],
    });
  return {
    pending: gauge(registry, "jetmesh_subscription_pending_messages", "Messages matching the subscription not yet delivered (num_pending)."),
    ackPending: gauge(registry, "jetmesh_subscription_ack_pending_messages", "Messages delivered and not yet acknowledged (num_ack_pending)."),
    lag: gauge(registry, "jetmesh_subscription_lag_messages", "pending + ack pending: the lag the autoscaler (and an HPA in mode hpa) scales on."),
    arrivalRate: gauge(registry, "jetmesh_subscription_arrival_rate", "Smoothed arrival rate of matching messages, msgs/s."),
    processingRate: gauge(
      registry,
      "jetmesh_subscription_processing_rate",
      "Smoothed capacity of one replica, msgs/s (learned while the consumer is saturated).",
    ),
    replicasDesired: gauge(registry, "jetmesh_subscription_replicas_desired", "Replicas the autoscaler wants."),
    replicasCurrent: gauge(registry, "jetmesh_subscription_replicas_current", "spec.replicas of the subscriber Deployment."),
    replicasMax: gauge(registry, "jetmesh_subscription_replicas_max", "scaling.maxReplicas."),
    drainSeconds: gauge(
      registry,
      "jetmesh_subscription_drain_seconds",
      "Estimated seconds to drain the backlog with the current replicas (+Inf: falling behind).",
    ),
    drainObjectiveSeconds: gauge(registry, "jetmesh_subscription_drain_objective_seconds", "scaling.maxDrainSeconds."),
    scaleTotal,
  };
}

function labels(t: ScalingTarget) {
  return { namespace: t.namespace, subscription: t.subscription };
}

/** The metrics part of an AutoscaleReporter; combine with the operator's status/event writer. */
export function metricsReporter(m: AutoscaleMetrics): Pick<AutoscaleReporter, "observe" | "scaled" | "forget"> {
  const gauges = () => [
    m.pending,
    m.ackPending,
    m.lag,
    m.arrivalRate,
    m.processingRate,
    m.replicasDesired,
    m.replicasCurrent,
    m.replicasMax,
    m.drainSeconds,
    m.drainObjectiveSeconds,
  ];
  return {
    observe(t: ScalingTarget, o: AutoscaleObservation) {
      const l = labels(t);
      const set = (g: Gauge<"namespace" | "subscription">, v: number | undefined) => {
        // A value we do not know is absent, not 0 (0 would read as "no lag" on a dashboard).
        if (v === undefined) g.remove(l);
        else g.set(l, v);
      };
      set(m.pending, o.lag?.pending);
      set(m.ackPending, o.lag?.ackPending);
      set(m.lag, o.lag ? o.lag.pending + o.lag.ackPending : undefined);
      set(m.arrivalRate, o.arrivalRate);
      set(m.processingRate, o.perReplicaRate);
      set(m.replicasCurrent, o.currentReplicas);
      set(m.replicasDesired, o.desiredReplicas);
      set(m.replicasMax, o.maxReplicas);
      set(m.drainSeconds, o.drainSeconds);
      set(m.drainObjectiveSeconds, o.drainObjectiveSeconds);
    },
    scaled(t: ScalingTarget, direction: "up" | "down") {
      m.scaleTotal.inc({ ...labels(t), direction });
    },
    forget(t: ScalingTarget) {
      for (const g of gauges()) g.remove(labels(t));
      m.scaleTotal.remove({ ...labels(t), direction: "up" });
      m.scaleTotal.remove({ ...labels(t), direction: "down" });
    },
  };
}

/** Joins the operator's status/event writer with the metrics reporter. */
export function combineReporters(
  kube: Pick<AutoscaleReporter, "status" | "event"> & Partial<AutoscaleReporter>,
  metrics: Pick<AutoscaleReporter, "observe" | "scaled" | "forget">,
): AutoscaleReporter {
  return {
    status: (t, s) => kube.status(t, s),
    event: (t, e) => kube.event(t, e),
    observe: (t, o) => {
      metrics.observe(t, o);
      kube.observe?.(t, o);
    },
    scaled: (t, d, from, to) => {
      metrics.scaled?.(t, d, from, to);
      kube.scaled?.(t, d, from, to);
    },
    forget: (t) => {
      metrics.forget?.(t);
      kube.forget?.(t);
    },
  };
}
