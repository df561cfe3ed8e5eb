// What a reconciler may touch, as small interfaces: the informer caches (read), its own
// objects (status, finalizers), Events, JetStream, metrics and a logger.
import type { Logger } from "pino";
import type { SubjectPolicy } from "../api/tenancy.ts";
import type { EventStream, EventSubscription } from "../api/types.ts";
import type { JetStreamAdmin } from "../jetstream/admin.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { ObjectWriter } from "../kube/objects.ts";
import type { OperatorMetrics } from "../metrics.ts";

export interface Cache<T> {
  get(key: string): T | undefined;
  list(): T[];
}

export interface JetStreamAccess {
  /** undefined while NATS is unreachable. */
  admin(): JetStreamAdmin | undefined;
  readonly lastError: string;
}

export interface ReconcileContext {
  streams: Cache<EventStream>;
  subscriptions: Cache<EventSubscription>;
  writer: ObjectWriter;
  events: EventRecorder;
  nats: JetStreamAccess;
  metrics: OperatorMetrics;
  /** Which subjects a namespace may use (parsed once from the operator's config). */
  subjectPolicy: SubjectPolicy;
  log: Logger;
  now: () => Date;
}

export const EVENTSTREAMS = { group: "jetmesh.io", version: "v1alpha1", plural: "eventstreams" };
export const EVENTSUBSCRIPTIONS = { group: "jetmesh.io", version: "v1alpha1", plural: "eventsubscriptions" };
