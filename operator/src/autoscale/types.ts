// The autoscaler's edges: where lag comes from, what gets scaled, and where results go.
// Small interfaces so the loop is tested with real NATS and the API test server, and the
// operator plugs in its own status writer and event recorder.
import type { ScalingPolicy } from "./policy.ts";

/** What one EventSubscription asks the autoscaler to do. */
export interface ScalingTarget {
  namespace: string;
  /** EventSubscription name. */
  subscription: string;
  /** JetStream stream name (`<ns>_<EventStream name>`). */
  stream: string;
  /** Durable consumer name (`<ns>_<EventSubscription name>`). */
  consumer: string;
  /** Deployment in `namespace` whose scale subresource is written. */
  deployment: string;
  policy: ScalingPolicy;
  /**
   * `status.replicas.desired` as found when the autoscaler starts (e.g. after an operator
   * restart): taken as the value this autoscaler last wrote, for the manual-override rule.
   */
  lastDesiredReplicas?: number;
}

/** The consumer-info numbers the autoscaler needs. */
export interface ConsumerLag {
  pending: number;
  ackPending: number;
  redelivered: number;
  ackFloorConsumerSeq: number;
  deliveredConsumerSeq: number;
  /** The consumer is paused (spec.paused): its lag grows by design, so nothing is scaled. */
  paused?: boolean;
  /**
   * Set when a subscriber process reports its circuit open (why): the handler's downstream is
   * failing, so the lag is not a capacity problem and JetMesh does not scale out.
   */
  circuitOpen?: string;
}

export interface LagSource {
  /** Reads the consumer; null when the stream or consumer does not exist. Throws on other errors. */
  read(stream: string, consumer: string): Promise<ConsumerLag | null>;
}

export interface DeploymentScale {
  /** spec.replicas. */
  replicas: number;
  /** Pods ready to consume, when the cluster reports it; otherwise replicas is used. */
  readyReplicas?: number;
}

export interface ScaleTarget {
  /** Reads the Deployment's replicas; null when the Deployment does not exist. */
  get(namespace: string, deployment: string): Promise<DeploymentScale | null>;
  /** Writes spec.replicas through the scale subresource. */
  set(namespace: string, deployment: string, replicas: number): Promise<void>;
}

/** Reasons of the `Scaling` condition. */
export type ScalingConditionReason =
  | "Scaling" // True: native mode, acting on lag
  | "DelegatedToKeda" // True: mode keda, a ScaledObject scales; JetMesh only reports
  | "DelegatedToHpa" // True: mode hpa, an HPA scales; JetMesh only reports
  | "ManualOverride" // False: someone set replicas outside the bounds
  | "Paused" // False: the consumer is paused; replicas stay as they are
  | "DeploymentNotFound" // False: the scale target is missing
  | "ConsumerNotFound" // False: no consumer to read lag from (never scale on a missing consumer)
  | "LagUnavailable" // False: reading the consumer failed (NATS down, timeout)
  | "ScaleFailed" // False: reading or writing the scale subresource failed
  | "Forbidden" // False: the operator's RBAC does not allow reading or writing the scale subresource
  | "InvalidSpec" // False: spec.scaling was refused (set by the reconciler from ScalingSpecError)
  | "KedaNotConfigured" // False: mode keda, but the operator has no NATS_MONITORING_ENDPOINT for the trigger (set by the reconciler)
  | "RenderFailed" // False: the ScaledObject / HPA could not be written (set by the reconciler; retried with backoff)
  | "CircuitOpen"; // False: a subscriber's circuit is open; no scale-out (lag is not a capacity problem), scale-in as usual

export interface ScalingCondition {
  type: "Scaling";
  status: "True" | "False";
  reason: ScalingConditionReason;
  message: string;
}

/** The autoscaler's part of EventSubscription status. */
export interface AutoscaleStatus {
  replicas?: { current: number; desired: number };
  lag?: { pending: number; ackPending: number; redelivered: number };
  /** RFC 3339. */
  lastScaleTime?: string;
  lastScaleReason?: string;
  condition: ScalingCondition;
}

/** Everything measured in one poll, for metrics and dashboards. */
export interface AutoscaleObservation {
  lag?: ConsumerLag;
  arrivalRate?: number;
  perReplicaRate?: number;
  currentReplicas?: number;
  desiredReplicas?: number;
  maxReplicas: number;
  drainSeconds?: number;
  drainObjectiveSeconds: number;
}

export interface ScaleEvent {
  type: "Normal" | "Warning";
  /** Kubernetes Event reason: ScaledUp, ScaledDown, ManualOverride, DeploymentNotFound, ... */
  reason: string;
  message: string;
}

export interface AutoscaleReporter {
  /** Status changed (or the periodic lag refresh is due). Must not throw; failures are the reporter's. */
  status(target: ScalingTarget, status: AutoscaleStatus): void | Promise<void>;
  /** Something a person should see as a Kubernetes Event. */
  event(target: ScalingTarget, event: ScaleEvent): void | Promise<void>;
  /** Every poll: numbers for metrics. */
  observe(target: ScalingTarget, observation: AutoscaleObservation): void;
  /** A scale was written. */
  scaled?(target: ScalingTarget, direction: "up" | "down", from: number, to: number): void;
  /** The subscription is gone: drop its series. */
  forget?(target: ScalingTarget): void;
}

/**
 * The API server answered 403: the operator's ServiceAccount lacks an RBAC rule. Kept apart
 * from other failures so status and Events name the missing permission instead of a bare
 * HTTP error; the autoscaler keeps polling and recovers as soon as the rule is granted.
 */
export class ScaleForbiddenError extends Error {
  override name = "ScaleForbiddenError";
  readonly verb: string;
  readonly resource: string;
  readonly namespace: string;
  constructor(verb: string, resource: string, namespace: string, serverMessage: string) {
    super(
      `the operator's ServiceAccount may not ${verb} ${resource} in namespace ${namespace} (${serverMessage}); ` +
        `grant it in the operator's ClusterRole (chart: files/operator-rbac.yaml, docs/install.md)`,
    );
    this.verb = verb;
    this.resource = resource;
    this.namespace = namespace;
  }
}
