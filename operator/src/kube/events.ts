// Kubernetes Events for what a person should see (created, updated, recreated, refused...).
// Fire-and-forget: an Event that cannot be written must never block or fail a reconcile.
// Repeats of the same reason and message for an object within ten minutes are dropped.
import type { Logger } from "pino";
import type { KubeRest } from "./rest.ts";

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorder {
  normal(obj: EventTarget, reason: string, message: string): void;
  warning(obj: EventTarget, reason: string, message: string): void;
}

const EVENTS = { group: "", version: "v1", plural: "events" };
const REPEAT_WINDOW_MS = 10 * 60_000;

export class KubeEventRecorder implements EventRecorder {
  private readonly rest: KubeRest;
  private readonly log: Logger;
  private readonly component: string;
  private readonly recent = new Map<string, number>();
  private seq = 0;

  constructor(rest: KubeRest, log: Logger, component = "jetmesh-operator") {
    this.rest = rest;
    this.log = log;
    this.component = component;
  }

  normal(obj: EventTarget, reason: string, message: string): void {
    this.record(obj, "Normal", reason, message);
  }

  warning(obj: EventTarget, reason: string, message: string): void {
    this.record(obj, "Warning", reason, message);
  }

  private record(obj: EventTarget, type: string, reason: string, message: string): void {
    const ns = obj.metadata.namespace ?? "default";
    const dedupe = `${obj.metadata.uid ?? ns + "/" + obj.metadata.name}|${reason}|${message}`;
    const now = Date.now();
    const last = this.recent.get(dedupe);
    if (last !== undefined && now - last < REPEAT_WINDOW_MS) return;
    this.recent.set(dedupe, now);
    if (this.recent.size > 10_000) {
      for (const [k, t] of this.recent) if (now - t > REPEAT_WINDOW_MS || this.recent.size > 5_000) this.recent.delete(k);
    }
    const time = new Date(now).toISOString();
    const body = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${obj.metadata.name}.${now.toString(16)}${(this.seq++).toString(16)}`, namespace: ns },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: ns,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: time,
      lastTimestamp: time,
      source: { component: this.component },
      reportingComponent: this.component,
    };
    this.rest.create(EVENTS, ns, body).catch((err: Error) => this.log.debug({ err: err.message, reason }, "could not record Event"));
  }
}
