// For clusters that standardise on KEDA or on the HPA: instead of scaling natively, the
// subscription's `scaling` block is rendered into a KEDA ScaledObject (mode keda) or an
// autoscaling/v2 HorizontalPodAutoscaler on an External metric (mode hpa). Pure functions;
// the EventSubscription reconcile creates or updates the result as an object owned by the
// subscription (controller/scaler-objects.ts). The types are KEDA's and Kubernetes' own, as
// published by kubernetes-models (generated from KEDA's CRD and the Kubernetes OpenAPI).
import type { IScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import type { ScalingTarget } from "./types.ts";

/** Prometheus series the hpa mode's External metric reads (see docs/contracts.md). */
export const LAG_METRIC = "jetmesh_subscription_lag_messages";

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface KedaOptions {
  /** host:port of the NATS monitoring endpoint, e.g. "nats.nats.svc.cluster.local:8222". */
  natsServerMonitoringEndpoint: string;
  /** NATS account; "$G" when the server has no accounts. */
  account?: string;
  useHttps?: boolean;
  owner?: OwnerRef;
}

export interface HpaOptions {
  owner?: OwnerRef;
}

/** Name of the rendered ScaledObject / HPA, so it cannot collide with a user's own. */
export function renderedName(subscription: string): string {
  return `jetmesh-${subscription}`;
}

export interface RenderedMetadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ownerReferences?: (OwnerRef & { controller: boolean; blockOwnerDeletion: boolean })[];
}

/** Label naming the EventSubscription a rendered object belongs to (the watch maps it back). */
export const SUBSCRIPTION_LABEL = "jetmesh.io/subscription";

function metadata(t: ScalingTarget, owner: OwnerRef | undefined): RenderedMetadata {
  return {
    name: renderedName(t.subscription),
    namespace: t.namespace,
    labels: {
      "app.kubernetes.io/managed-by": "jetmesh-operator",
      [SUBSCRIPTION_LABEL]: t.subscription,
    },
    ...(owner ? { ownerReferences: [{ ...owner, controller: true, blockOwnerDeletion: true }] } : {}),
  };
}

/**
 * KEDA ScaledObject (keda.sh/v1alpha1) with the nats-jetstream trigger. KEDA scales on lag
 * alone (lagThreshold = targetLagPerReplica); maxDrainSeconds has no KEDA equivalent.
 * scaleDownStabilization becomes both the HPA's scale-down window and KEDA's cooldown to zero.
 */
export function renderScaledObject(t: ScalingTarget, opts: KedaOptions): IScaledObject & { metadata: RenderedMetadata } {
  const p = t.policy;
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: metadata(t, opts.owner),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: t.deployment },
      pollingInterval: Math.max(1, Math.ceil(p.pollIntervalSeconds)),
      cooldownPeriod: Math.round(p.scaleDownStabilizationSeconds),
      minReplicaCount: p.minReplicas,
      maxReplicaCount: p.maxReplicas,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: { scaleDown: { stabilizationWindowSeconds: Math.min(3600, Math.round(p.scaleDownStabilizationSeconds)) } },
        },
      },
      triggers: [
        {
          type: "nats-jetstream",
          metadata: {
            natsServerMonitoringEndpoint: opts.natsServerMonitoringEndpoint,
            account: opts.account ?? "$G",
            stream: t.stream,
            consumer: t.consumer,
            lagThreshold: String(p.targetLagPerReplica),
            activationLagThreshold: "0",
            useHttps: String(opts.useHttps ?? false),
          },
        },
      ],
    },
  };
}

/**
 * autoscaling/v2 HorizontalPodAutoscaler on the External metric jetmesh_subscription_lag_messages
 * (served by a Prometheus adapter from the operator's metrics), target AverageValue =
 * targetLagPerReplica — the same rule as KEDA's. The HPA cannot go below one replica
 * (without the HPAScaleToZero feature gate), so minReplicas 0 renders as 1.
 */
export function renderHorizontalPodAutoscaler(t: ScalingTarget, opts: HpaOptions = {}): IHorizontalPodAutoscaler & { metadata: RenderedMetadata } {
  const p = t.policy;
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: metadata(t, opts.owner),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: t.deployment },
      minReplicas: Math.max(1, p.minReplicas),
      maxReplicas: p.maxReplicas,
      metrics: [
        {
          type: "External",
          external: {
            metric: {
              name: LAG_METRIC,
              selector: { matchLabels: { namespace: t.namespace, subscription: t.subscription } },
            },
            target: { type: "AverageValue", averageValue: String(p.targetLagPerReplica) },
          },
        },
      ],
      behavior: {
        scaleDown: { stabilizationWindowSeconds: Math.min(3600, Math.round(p.scaleDownStabilizationSeconds)) },
      },
    },
  };
}
