// The autoscaler's seam for the operator. How to wire it (EventSubscription reconciler):
//
//   const metrics = createAutoscaleMetrics(registry);              // once, operator's registry
//   const manager = new AutoscalerManager({
//     lagSource: new JetStreamLagSource(jsm),                      // operator's JetStreamManager
//     scaleTarget: new DeploymentScaleTarget(kubeConfig),          // RBAC: get deployments, get/patch deployments/scale
//     reporter: combineReporters(kubeStatusAndEvents, metricsReporter(metrics)),
//     onError: (t, err) => log.warn({ err, subscription: t.subscription }, "autoscaler"),
//   });
//
//   // in reconcile(key), after the consumer is ready:
//   const target = scalingTargetFor(namespace, name, sub.spec, sub.status);  // throws ScalingSpecError → Scaling=False InvalidSpec
//   (passing status lets a restarted operator recognise the replica count it wrote before)
//   if (target) await manager.upsert(key, target); else await manager.remove(key);
//   if (target?.policy.mode === "keda") apply(renderScaledObject(target, { natsServerMonitoringEndpoint, owner }));
//   if (target?.policy.mode === "hpa") apply(renderHorizontalPodAutoscaler(target, { owner }));
//   // (delete the rendered object when the mode is no longer keda/hpa)
//
//   // on delete: await manager.remove(key); on leadership lost / shutdown: await manager.stopAll()
//
// The reporter's status(target, s) should merge-patch the status subresource with
// s.replicas, s.lag, s.lastScaleTime, s.lastScaleReason and set the `Scaling` condition from
// s.condition (it is called on change and at most every ~10 s for the lag). event() records a
// Kubernetes Event on the EventSubscription. In keda/hpa mode the loop keeps running to report
// lag and export jetmesh_subscription_lag_messages (the HPA's External metric) but never scales.
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
