// Typed shapes of the JetMesh custom resources (group jetmesh.io, version v1alpha1).
// Mirrors crds/*.yaml; the CRD schema is the source of truth for what the API server accepts.

export const GROUP = "jetmesh.io";
export const VERSION = "v1alpha1";
export const FINALIZER = "jetmesh.io/finalizer";

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type Retention = "limits" | "interest" | "workqueue";
export type Storage = "file" | "memory";
export type Discard = "old" | "new";
export type DeletionPolicy = "Retain" | "Delete";

export interface EventStreamSpec {
  subjects: string[];
  retention?: Retention;
  storage?: Storage;
  replicas?: number;
  maxAge?: string;
  maxBytes?: string;
  maxMsgs?: number;
  maxMsgSize?: string;
  discard?: Discard;
  duplicateWindow?: string;
  /** Most consumers (EventSubscriptions) on the stream; unset = the server's default (1,000 since nats-server 2.15). */
  maxConsumers?: number;
  deletionPolicy?: DeletionPolicy;
}

export interface EventStreamStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  streamName?: string;
  messages?: number;
  bytes?: number;
  lastSequence?: number;
  consumers?: number;
  lastError?: string;
}

export interface EventStream {
  apiVersion: string;
  kind: "EventStream";
  metadata: ObjectMeta;
  spec: EventStreamSpec;
  status?: EventStreamStatus;
}

export interface DeliverySpec {
  startFrom?: string;
  ackWait?: string;
  maxDeliver?: number;
  backoff?: string[];
  maxAckPending?: number;
  circuitBreaker?: CircuitBreakerSpec;
}

/** The runtime stops fetching while the handler's downstream fails (docs/runtime.md). */
export interface CircuitBreakerSpec {
  enabled?: boolean;
  /** Consecutive transient failures within `window` that open the circuit. */
  failureThreshold?: number;
  window?: string;
  /** Wait before one message probes whether the downstream is back. */
  coolDown?: string;
}

export interface ScalingSpec {
  minReplicas?: number;
  maxReplicas?: number;
  targetLagPerReplica?: number;
  maxDrainSeconds?: number;
  scaleDownStabilization?: string;
  pollInterval?: string;
  mode?: "native" | "keda" | "hpa";
}

/** Push delivery over HTTP (docs/http.md): a Service in the namespace, or a URL. */
export interface HttpTargetSpec {
  service?: string;
  port?: number;
  path?: string;
  url?: string;
  /** One request's time limit (Go-style duration); must be shorter than delivery.ackWait. */
  timeout?: string;
  /** Types a reply (a CloudEvent in the answer) may have; none = replies are refused. */
  replyTypes?: string[];
}

export interface SubscriberSpec {
  /** The Deployment that consumes (the scale target). */
  deployment: string;
  http?: HttpTargetSpec;
}

export interface EventSubscriptionSpec {
  stream: string;
  types?: string[];
  filter?: Record<string, string>;
  delivery?: DeliverySpec;
  deadLetter?: { stream: string };
  subscriber?: SubscriberSpec;
  scaling?: ScalingSpec;
  /** Pause delivery (JetStream consumer pause) until set back to false. */
  paused?: boolean;
}

export interface Lag {
  pending: number;
  ackPending: number;
  redelivered: number;
}

export interface EventSubscriptionStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  streamName?: string;
  consumerName?: string;
  lag?: Lag;
  /** Whether the JetStream consumer is paused, as the server reports it. */
  paused?: boolean;
  replicas?: { current?: number; desired?: number };
  lastScaleTime?: string;
  lastScaleReason?: string;
  lastError?: string;
  /** Failed deliveries the subscriber processes reported in the last minute; absent when none. */
  deliveryFailures?: DeliveryFailures;
}

export interface DeliveryFailures {
  /** Deliveries handed back for a retry (handler error, timeout, HTTP 429/5xx from a push subscriber). */
  retried: number;
  /** Deliveries that ended in the dead-letter stream. */
  deadLettered: number;
  /** The first failure counted. */
  since: string;
  /** How many subscriber processes report failures. */
  processes: number;
  last: { time: string; outcome: "retried" | "dead_lettered"; reason?: string; error: string; service: string };
}

export interface EventSubscription {
  apiVersion: string;
  kind: "EventSubscription";
  metadata: ObjectMeta;
  spec: EventSubscriptionSpec;
  status?: EventSubscriptionStatus;
}

export type JetMeshObject = EventStream | EventSubscription;
