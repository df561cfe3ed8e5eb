// Dead letters for the deliveries no subscriber answered: when the last delivery of a message
// dies with its subscriber (crash, OOM kill, node lost), nobody is left to dead-letter it and
// JetStream only says so in the MAX_DELIVERIES advisory. The operator listens to it (it outlives
// any subscriber, even all replicas of one), fetches the message by stream sequence and
// publishes it to the subscription's dead-letter subject with the same headers the runtime
// writes: reason max_deliver, and an error saying the subscriber gave no answer on the last
// delivery. The dedupe id is the runtime's (stream, consumer, sequence), so a message the
// runtime dead-lettered itself just before dying is not dead-lettered twice.
import type { MsgHdrs } from "@nats-io/transport-node";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { deadLetterSubject, jetStreamName, objectKey } from "../api/names.ts";
import type { EventSubscription } from "../api/types.ts";
import type { Cache, JetStreamAccess } from "./context.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { Logger } from "pino";
import { DLQ_HEADERS, deadLetterMsgId } from "@jetmesh/mesh/consumer-contract";

/** JetStream's advisory subject; the last two tokens are stream and consumer. */
export const MAX_DELIVERIES_ADVISORIES = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>";

export interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  streamSeq: number;
  deliveries: number;
}

/** io.nats.jetstream.advisory.v1.max_deliver; undefined for anything else. */
export function parseMaxDeliveriesAdvisory(data: Uint8Array): MaxDeliveriesAdvisory | undefined {
  let a: Record<string, unknown>;
  try {
    a = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (a.type !== "io.nats.jetstream.advisory.v1.max_deliver") return undefined;
  const { stream, consumer, stream_seq: seq, deliveries } = a;
  if (typeof stream !== "string" || typeof consumer !== "string" || typeof seq !== "number" || !Number.isInteger(seq) || seq < 1) return undefined;
  return { stream, consumer, streamSeq: seq, deliveries: typeof deliveries === "number" ? deliveries : 0 };
}

/** Who wrote the dead letter (JetMesh-Dlq-Service). */
export const OPERATOR_SERVICE = "jetmesh-operator";

export { DLQ_HEADERS, deadLetterMsgId };

/** The event's own headers (JetStream's Nats-* dropped) plus why, where from, how often. */
export function exhaustedDeadLetterHeaders(original: MsgHdrs | undefined, subject: string, a: MaxDeliveriesAdvisory, now: Date): MsgHdrs {
  const h = natsHeaders();
  if (original) {
    for (const [k, values] of original) {
      const lower = k.toLowerCase();
      if (lower.startsWith("nats-") || lower.startsWith("jetmesh-dlq-")) continue;
      for (const v of values) h.append(k, v);
    }
  }
  h.set(DLQ_HEADERS.reason, "max_deliver");
  h.set(
    DLQ_HEADERS.error,
    `no answer on the last of ${a.deliveries} deliveries: the subscriber died or hung while handling it (ack wait expired); dead-lettered by the operator from JetStream's MAX_DELIVERIES advisory`,
  );
  h.set(DLQ_HEADERS.originalSubject, subject);
  h.set(DLQ_HEADERS.stream, a.stream);
  h.set(DLQ_HEADERS.streamSequence, String(a.streamSeq));
  h.set(DLQ_HEADERS.consumer, a.consumer);
  h.set(DLQ_HEADERS.deliveryCount, String(a.deliveries));
  h.set(DLQ_HEADERS.service, OPERATOR_SERVICE);
  h.set(DLQ_HEADERS.time, now.toISOString());
  return h;
}

export interface MaxDeliveriesDeps {
  subscriptions: Cache<EventSubscription>;
  nats: JetStreamAccess;
  events: EventRecorder;
  log: Logger;
  /** Only the leader acts (a standby's copy would be deduplicated, but is wasted work). */
  leading: () => boolean;
  now?: () => Date;
}

export class MaxDeliveriesDeadLetterer {
  private readonly deps: MaxDeliveriesDeps;
  constructor(deps: MaxDeliveriesDeps) {
    this.deps = deps;
  }

  /** Handles one advisory; never throws (what fails is logged and, where it can be, an Event). */
  async onAdvisory(data: Uint8Array): Promise<void> {
    const a = parseMaxDeliveriesAdvisory(data);
    if (!a || !this.deps.leading()) return;
    const { log, events } = this.deps;
    const sub = this.subscriptionOf(a);
    // Not a JetMesh consumer (made by hand): not ours to move.
    if (!sub) return;
    const deadLetterStream = sub.spec.deadLetter?.stream;
    const where = `message ${a.streamSeq} of stream ${a.stream}`;
    if (!deadLetterStream) {
      events.warning(
        sub,
        "DeliveriesExhausted",
        `${where} got no answer in ${a.deliveries} deliveries; spec.deadLetter is not set, so it stays in the stream unacknowledged`,
      );
      return;
    }
    const admin = this.deps.nats.admin();
    if (!admin) {
      log.error(
        { stream: a.stream, consumer: a.consumer, streamSeq: a.streamSeq },
        "deliveries exhausted but NATS is unavailable: the message stays in the stream unacknowledged",
      );
      return;
    }
    const subject = deadLetterSubject(sub.metadata.namespace, sub.metadata.name);
    try {
      const m = await admin.getMessage(a.stream, a.streamSeq);
      if (!m) {
        log.warn({ stream: a.stream, streamSeq: a.streamSeq }, "deliveries exhausted, but the message is no longer in the stream");
        return;
      }
      const h = exhaustedDeadLetterHeaders(m.headers, m.subject, a, this.deps.now?.() ?? new Date());
      const r = await admin.publish(subject, m.data, h, deadLetterMsgId(a.stream, a.consumer, a.streamSeq));
      if (r.duplicate) return; // the runtime dead-lettered it itself
      log.warn(
        { stream: a.stream, consumer: a.consumer, streamSeq: a.streamSeq, deliveries: a.deliveries, deadLetterSubject: subject },
        "dead-lettered a message whose last delivery got no answer",
      );
      events.warning(
        sub,
        "DeadLettered",
        `${where} (${m.subject}) got no answer in ${a.deliveries} deliveries (the subscriber died or hung on the last); moved to ${subject}`,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error(
        { stream: a.stream, streamSeq: a.streamSeq, err: message },
        "could not dead-letter a message whose deliveries are exhausted; it stays in the stream unacknowledged",
      );
      events.warning(
        sub,
        "DeadLetterFailed",
        `${where} got no answer in ${a.deliveries} deliveries and could not be moved to ${subject}: ${message}; it stays in the stream unacknowledged`,
      );
    }
  }

  private subscriptionOf(a: MaxDeliveriesAdvisory): EventSubscription | undefined {
    // The consumer is <namespace>_<name>, and "_" never occurs in a Kubernetes name (names.ts).
    const i = a.consumer.indexOf("_");
    if (i <= 0) return undefined;
    const sub = this.deps.subscriptions.get(objectKey(a.consumer.slice(0, i), a.consumer.slice(i + 1)));
    return sub && jetStreamName(sub.metadata.namespace, sub.spec.stream) === a.stream ? sub : undefined;
  }
}
