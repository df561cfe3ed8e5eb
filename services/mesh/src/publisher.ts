// Publishing events to JetStream: subject = CE type, Nats-Msg-Id = CE id (dedupe within
// the stream's duplicate window), a bounded number of publishes awaiting their ack.
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { MsgHdrsImpl, type MsgHdrs } from "@nats-io/transport-node";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import type { Registry } from "prom-client";
import { encodeBinary, type CloudEvent } from "./binding.ts";
import { errorMessage } from "./errors.ts";
import { meshMetrics, type MeshMetrics } from "./metrics.ts";
import { eventAttributes, remoteSpanContext, SPAN_ATTRIBUTES, traceparentOfSpan } from "./tracing.ts";

export interface PublisherOptions {
  /** Publishes awaiting their JetStream ack at most (default 256); more wait for a slot. */
  maxInFlight?: number;
  /** `service` label of jetmesh_events_published_total. */
  service?: string;
  /** Registry for jetmesh_events_published_total (none: no metrics). */
  registry?: Registry;
  /** Publish ack timeout in ms (default 10000). */
  timeoutMs?: number;
  /** A producer span per publish (tracing.ts); none: no spans, no cost. */
  tracer?: Tracer | undefined;
}

/** Publishes CloudEvents in binary content mode. */
export class Publisher {
  readonly maxInFlight: number;
  private readonly js: JetStreamClient;
  private readonly service: string;
  private readonly timeoutMs: number;
  private readonly metrics: MeshMetrics | undefined;
  private readonly tracer: Tracer | undefined;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private idle: (() => void)[] = [];

  constructor(js: JetStreamClient, opts: PublisherOptions = {}) {
    this.js = js;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 256);
    this.service = opts.service ?? "unknown";
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.metrics = opts.registry ? meshMetrics(opts.registry) : undefined;
    this.tracer = opts.tracer;
  }

  /** Publishes awaiting an ack right now. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Publishes `event` and resolves with JetStream's ack (persisted, or recognised as a
   * duplicate: `ack.duplicate`). Waits for a slot first when `maxInFlight` are pending.
   */
  publish(event: CloudEvent): Promise<PubAck> {
    return this.tracer ? this.publishTraced(this.tracer, event) : this.publishEvent(event);
  }

  /**
   * The producer span: a child of the active span (the handler's consumer span, the HTTP
   * request's span), or of the event's own traceparent when it belongs to another trace. The
   * event goes out with the producer span as its traceparent (the CloudEvents
   * distributed-tracing extension), so its consumers' spans are the span's children. Its id,
   * which deduplication uses, is unchanged.
   */
  private publishTraced(tracer: Tracer, event: CloudEvent): Promise<PubAck> {
    const active = context.active();
    const activeTrace = trace.getSpanContext(active)?.traceId;
    const own = remoteSpanContext(event.traceparent);
    const parent = own && own.traceId !== activeTrace ? trace.setSpanContext(ROOT_CONTEXT, own) : active;
    const span = tracer.startSpan(
      `publish ${event.type}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...eventAttributes(event),
          [SPAN_ATTRIBUTES.destination]: event.type,
          [SPAN_ATTRIBUTES.operationType]: "send",
          [SPAN_ATTRIBUTES.operationName]: "publish",
        },
      },
      parent,
    );
    return this.publishEvent({ ...event, traceparent: traceparentOfSpan(span) }).then(
      (ack) => {
        span.setAttributes({ [SPAN_ATTRIBUTES.stream]: ack.stream, [SPAN_ATTRIBUTES.streamSequence]: ack.seq, [SPAN_ATTRIBUTES.duplicate]: ack.duplicate });
        span.end();
        return ack;
      },
      (err: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
        span.end();
        throw err;
      },
    );
  }

  private publishEvent(event: CloudEvent): Promise<PubAck> {
    let enc: ReturnType<typeof encodeBinary>;
    try {
      enc = encodeBinary(event);
    } catch (err) {
      return Promise.reject(err);
    }
    // A finishing publish hands its slot straight to a waiter, so `inFlight` never dips.
    if (this.inFlight < this.maxInFlight) {
      this.inFlight++;
      return this.send(enc, event);
    }
    return new Promise<void>((r) => this.waiting.push(r)).then(() => this.send(enc, event));
  }

  private send(enc: ReturnType<typeof encodeBinary>, event: CloudEvent): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) => {
      this.queue.push(() => {
        let p: Promise<PubAck>;
        try {
          p = this.js.publish(enc.subject, enc.payload, { msgID: event.id, headers: toMsgHdrs(enc.headers), timeout: this.timeoutMs });
        } catch (err) {
          this.release();
          reject(err);
          return;
        }
        p.then(
          (ack) => {
            this.release();
            this.metrics?.published.labels(this.service, event.type).inc();
            resolve(ack);
          },
          (err: unknown) => {
            this.release();
            reject(err);
          },
        );
      });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drainQueue);
      }
    });
  }

  // Publishes requested during one turn of the event loop go out together on the next:
  // the client coalesces them into one socket write, and they start from a shallow stack
  // (the client builds an Error per request, whose cost grows with the async call chain).
  private readonly queue: (() => void)[] = [];
  private scheduled = false;
  private readonly drainQueue = (): void => {
    this.scheduled = false;
    const q = this.queue.splice(0);
    for (const f of q) f();
  };

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else if (--this.inFlight === 0 && this.idle.length > 0) {
      const idle = this.idle;
      this.idle = [];
      for (const r of idle) r();
    }
  }

  /** Resolves when no publish is pending (acked or failed). */
  async flush(): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) return;
    await new Promise<void>((r) => this.idle.push(r));
  }
}

const HEADER_NAME = /^[!-9;-~]+$/;

/** NATS headers from a plain record (names kept as given; values must not contain CR or LF). */
export function toMsgHdrs(record: Record<string, string>): MsgHdrs {
  // Built directly: the client's generic set() rescans all keys per header.
  const r: Record<string, string[]> = {};
  for (const k in record) {
    const v = record[k]!;
    if (!HEADER_NAME.test(k)) throw new TypeError(`invalid header name ${JSON.stringify(k)}`);
    if (v.includes("\r") || v.includes("\n")) throw new TypeError(`header ${k}: values cannot contain CR or LF`);
    r[k] = [v];
  }
  return MsgHdrsImpl.fromRecord(r);
}
