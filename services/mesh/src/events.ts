// Creating events: new ones (random id, new trace) and follow-ups (id and span derived
// from the cause, so a redelivered cause yields a byte-identical follow-up).
import type { CloudEvent } from "./binding.ts";
import { childTraceparent, deriveIds, newEventId, newTraceparent, parseTraceparent, traceparentWithSpan } from "./ids.ts";

export interface NewEventInit<T> {
  type: string;
  source: string;
  data: T;
  subject?: string;
  /** Continue this trace (W3C traceparent); a new trace when absent. */
  traceparent?: string;
  id?: string;
  time?: string;
  datacontenttype?: string;
}

export function newEvent<T>(init: NewEventInit<T>): CloudEvent<T> {
  const id = init.id ?? newEventId();
  const event: CloudEvent<T> = {
    specversion: "1.0",
    id,
    source: init.source,
    type: init.type,
    time: init.time ?? new Date().toISOString(),
    datacontenttype: init.datacontenttype ?? "application/json",
    traceparent: init.traceparent && parseTraceparent(init.traceparent) ? childTraceparent(init.traceparent, id) : newTraceparent(),
    data: init.data,
  };
  if (init.subject !== undefined) event.subject = init.subject;
  return event;
}

export interface FollowUpInit<T> {
  type: string;
  source: string;
  data: T;
  /** Distinguishes several follow-ups of the same type from one cause. */
  key?: string;
  subject?: string;
  datacontenttype?: string;
  /** Occurrence time; defaults to the cause's time so the follow-up is deterministic. */
  time?: string;
}

/**
 * An event caused by `cause`: its id is derived from cause id + type (+ key), its
 * traceparent continues the cause's trace with a derived span id, and its time is the
 * cause's time, so publishing it again after a redelivery is deduplicated by JetStream.
 */
export function followUpEvent<T>(cause: CloudEvent, init: FollowUpInit<T>): CloudEvent<T> {
  const { id, spanId } = deriveIds(cause.id, init.type, init.key);
  const event: CloudEvent<T> = {
    specversion: "1.0",
    id,
    source: init.source,
    type: init.type,
    // Deterministic on purpose: the cause's time (or none) rather than "now".
    ...(init.time !== undefined ? { time: init.time } : typeof cause.time === "string" ? { time: cause.time } : {}),
    datacontenttype: init.datacontenttype ?? "application/json",
    traceparent: traceparentWithSpan(cause.traceparent, spanId, id),
    data: init.data,
  };
  if (init.subject !== undefined) event.subject = init.subject;
  return event;
}
