// The autoscaler: pure decisions (decide.ts, rates.ts, policy.ts), one polling loop per
// subscription (autoscaler.ts) and a manager keyed by subscription (manager.ts), behind small
// interfaces for lag, scale writes and reporting (types.ts). The operator wires it in
// operator/src/autoscaling.ts (attachAutoscaler): after each reconcile of an
// EventSubscription, scalingTargetFor(spec) decides whether it is scaled (a bad
// `spec.scaling` → Scaling=False InvalidSpec), the manager upserts or removes its loop, and in
// keda/hpa mode a ScaledObject or HPA is rendered instead of scaling (the loop then only
// reports lag and exports jetmesh_subscription_lag_messages). Lag comes from the operator's
// NATS connection, writes go to the Deployment's scale subresource, and reports land in the
// EventSubscription's status, its Events and /metrics.
import { parseScalingPolicy } from "./policy.ts";
import type { ScalingTarget } from "./types.ts";

export { AutoscalerManager } from "./manager.ts";
export { SubscriptionAutoscaler, type AutoscalerDeps } from "./autoscaler.ts";
export { decide, estimateDrainSeconds, DECISION_DEFAULTS, INITIAL_DECISION_STATE } from "./decide.ts";
export type { Decision, DecisionInput, DecisionState, DecisionTuning, Observation } from "./decide.ts";
export { updateRates, RATE_DEFAULTS, INITIAL_RATE_STATE, type ConsumerSample, type RateState, type RateTuning } from "./rates.ts";
export { parseScalingPolicy, parseDurationSeconds, ScalingSpecError, SCALING_DEFAULTS, type ScalingMode, type ScalingPolicy } from "./policy.ts";
export { JetStreamLagSource } from "./jetstream-lag.ts";
export { DeploymentScaleTarget } from "./deployment-scale.ts";
export { createAutoscaleMetrics, metricsReporter, combineReporters, type AutoscaleMetrics } from "./metrics.ts";
export { renderScaledObject, renderHorizontalPodAutoscaler, renderedName, LAG_METRIC, type KedaOptions, type HpaOptions, type OwnerRef } from "./render.ts";
export { SCALED_OBJECT_SCHEMA, HPA_V2_SCHEMA } from "./schemas.ts";
export type * from "./types.ts";

/**
 * The autoscaling target of an EventSubscription `<namespace>/<name>`, or undefined when the
 * spec names no subscriber Deployment (nothing to scale). Names follow docs/contracts.md:
 * stream `<ns>_<spec.stream>`, consumer `<ns>_<name>`. Throws ScalingSpecError on a bad
 * `spec.scaling`.
 */
export function scalingTargetFor(
  namespace: string,
  name: string,
  spec: { stream: string; subscriber?: { deployment?: string }; scaling?: unknown },
  status?: { replicas?: { desired?: number } },
): ScalingTarget | undefined {
  const deployment = spec.subscriber?.deployment;
  if (!deployment) return undefined;
  const lastDesired = status?.replicas?.desired;
  return {
    namespace,
    subscription: name,
    stream: `${namespace}_${spec.stream}`,
    consumer: `${namespace}_${name}`,
    deployment,
    policy: parseScalingPolicy(spec.scaling),
    ...(typeof lastDesired === "number" ? { lastDesiredReplicas: lastDesired } : {}),
  };
}
