// The autoscaler: pure decisions (decide.ts, rates.ts, policy.ts), one polling loop per
// subscription (autoscaler.ts) and a manager keyed by subscription (manager.ts), behind small
// interfaces for lag, scale writes and reporting (types.ts), the rendered KEDA/HPA objects
// (render.ts). The operator uses it from the EventSubscription reconcile
// (controller/scaling.ts): scalingTargetFor(spec, status) decides whether and how a
// subscription is scaled (a bad `spec.scaling` → Scaling=False InvalidSpec), the loop of
// controller/autoscalers.ts runs (in keda/hpa mode only to report lag and export
// jetmesh_subscription_lag_messages), and what the loop reports comes back to the reconciler,
// which writes the status.
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
export {
  renderScaledObject,
  renderHorizontalPodAutoscaler,
  renderedName,
  LAG_METRIC,
  SUBSCRIPTION_LABEL,
  type KedaOptions,
  type HpaOptions,
  type OwnerRef,
  type RenderedMetadata,
} from "./render.ts";
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
