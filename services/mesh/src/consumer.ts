// The consumer runner: a durable pull consumer driven with bounded concurrency and
// explicit acks. Every message ends in exactly one of: ack (handled), nak with
// delay (retry), dead-letter then ack (terminal, invalid, or out of deliveries), or, for a
// handler that outlives its ack deadline, redelivery by the server.
import type { Consumer, ConsumerInfo, ConsumerMessages, JetStreamClient, JsMsg, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders, Match, type MsgHdrs } from "@nats-io/transport-node";
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import { pino, type Logger } from "pino";
import type { Registry } from "prom-client";
import { decodeMessage, type CloudEvent } from "./binding.ts";
import { errorMessage, InvalidEventError, TerminalError, TransientError, type DeadLetterReason } from "./errors.ts";
import { traceIdOf } from "./ids.ts";
import { meshMetrics, type MeshMetrics } from "./metrics.ts";
import type { Publisher } from "./publisher.ts";
import { maskCardNumbers } from "./redact.ts";
import type { SchemaRegistry } from "./schemas.ts";
import { BACKOFF_METADATA_KEY, CIRCUIT_BREAKER_METADATA_KEY, DLQ_HEADERS, deadLetterMsgId } from "./consumer-contract.ts";
import { CircuitBreaker, type CircuitSettings, type CircuitState } from "./circuit-breaker.ts";
import { CircuitReporter, FailureReporter } from "./reports.ts";
import { contextOfTraceparent, eventAttributes, remoteSpanContext, SPAN_ATTRIBUTES, withSpan } from "./tracing.ts";

export interface HandlerContext {
  /** Publishes a (follow-up) event; the input is acked only after these publishes are acked. */
  publish(event: CloudEvent): Promise<PubAck>;
  /** 1 on first delivery. */
  deliveryCount: number;
  streamSequence: number;
  subject: string;
  /** pino child logger with eventId, traceId and type. */
  log: Logger;
}

// eslint-style `any` kept out: a handler sees its own data type.
export type Handler<T = unknown> = (event: CloudEvent<T>, ctx: HandlerContext) => Promise<void>;

export type Handlers = Record<string, Handler<any>>;

export interface ConsumerRunnerOptions {
  js: JetStreamClient;
  stream: string;
  consumer: string;
  handlers: Handlers;
  /**
   * Handles every type without its own entry in `handlers` (the HTTP dispatcher forwards
   * whatever its consumer delivers). Without it such events are dead-lettered as unknown_type.
   */
  defaultHandler?: Handler;
  publisher: Publisher;
  /** Where dead letters go (e.g. jetmesh.dlq.shop.inventory). */
  deadLetterSubject: string;
  schemas?: SchemaRegistry;
  /** Messages handled at once (default 16). */
  concurrency?: number;
  /** Payloads above this are dead-lettered as too_large (default 1 MiB). */
  maxEventBytes?: number;
  log?: Logger;
  registry?: Registry;
  service?: string;
  /** Also validate events with the cloudevents SDK (default true). */
  sdkValidation?: boolean;
  /** Confirm acks with the server (ackAck) before counting them (default false). */
  doubleAck?: boolean;
  /** Messages requested per pull (default max(64, 4 × concurrency)). */
  pullBatch?: number;
  /** A consumer span per delivery (tracing.ts); none: no spans, no cost. */
  tracer?: Tracer | undefined;
}

/** What the runner learned from the consumer's info at start. */
export interface DeliveryPolicy {
  /** -1 = unlimited. */
  maxDeliver: number;
  /** How long one delivery may take before the server redelivers it. */
  ackWaitMs: number;
  /** Delay before retry n after a failed attempt (nak delay), last entry repeating; [] = default. */
  backoffMs: number[];
  /**
   * Where backoffMs came from: the operator's schedule (metadata "jetmesh.io/backoff") only
   * sets nak delays; JetStream's own backoff also sets the server's ack deadline of each
   * delivery (backoff[n-1] instead of ack_wait).
   */
  backoffFrom: "metadata" | "jetstream" | "none";
  /** The subscription's circuit breaker (metadata "jetmesh.io/circuit-breaker"); absent: none. */
  circuitBreaker?: CircuitSettings;
}

export { BACKOFF_METADATA_KEY };

type Outcome = "acked" | "retried" | "dead_lettered";

const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

export class ConsumerRunner {
  readonly stream: string;
  readonly consumerName: string;
  private readonly opts: ConsumerRunnerOptions;
  private readonly concurrency: number;
  private readonly maxEventBytes: number;
  private readonly log: Logger;
  private readonly metrics: MeshMetrics | undefined;
  private readonly service: string;
  private policy: DeliveryPolicy | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private active = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private consumingNow = false;
  private startedWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly labelCache = new Map<string, LabelSet>();
  private wakeRetry: (() => void) | undefined;
  private readonly decodeOptions: { maxBytes: number; sdkValidation: boolean };
  /** Handlers running, checked by one periodic sweep instead of a timer per message. */
  private readonly watched = new Set<Delivery>();
  private sweeper: NodeJS.Timeout | undefined;
  private breaker: CircuitBreaker | undefined;
  private readonly circuitReporter: CircuitReporter;
  private readonly failureReporter: FailureReporter;

  constructor(opts: ConsumerRunnerOptions) {
    this.opts = opts;
    this.stream = opts.stream;
    this.consumerName = opts.consumer;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.maxEventBytes = opts.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    this.decodeOptions = { maxBytes: this.maxEventBytes, sdkValidation: opts.sdkValidation !== false };
    this.log = (opts.log ?? pino({ level: "silent" })).child({ stream: opts.stream, consumer: opts.consumer });
    this.metrics = opts.registry ? meshMetrics(opts.registry) : undefined;
    this.service = opts.service ?? "unknown";
    this.circuitReporter = new CircuitReporter(opts.js, opts.consumer, this.log);
    this.failureReporter = new FailureReporter(opts.js, opts.consumer, this.service, this.log);
  }

  /** The circuit breaker's state ("closed" when the subscription has none). */
  get circuitState(): CircuitState {
    return this.breaker?.state ?? "closed";
  }

  /** True while pulling messages from a consumer that exists and a connection that is up. */
  get consuming(): boolean {
    return this.consumingNow && !this.stopping;
  }

  /** Messages being handled right now. */
  get inFlight(): number {
    return this.active;
  }

  get deliveryPolicy(): DeliveryPolicy | undefined {
    return this.policy;
  }

  /**
   * Starts consuming in the background and resolves once pulling has begun. Waits (with
   * retries) for the stream and consumer to exist, so a subscriber may start before them.
   */
  start(): Promise<void> {
    if (this.loop) throw new Error("ConsumerRunner already started");
    const started = new Promise<void>((resolve, reject) => this.startedWaiters.push({ resolve, reject }));
    this.sweeper = setInterval(() => this.sweep(), 25);
    this.sweeper.unref();
    this.loop = this.run().catch((err) => {
      this.log.error({ err: errorMessage(err) }, "consumer loop failed");
      for (const w of this.startedWaiters.splice(0)) w.reject(err);
    });
    return started;
  }

  /**
   * Graceful stop: no more pulls, buffered messages are nak'ed for another replica,
   * in-flight handlers get up to `timeoutMs` to finish and be acked. Handlers still running
   * after that are abandoned (their messages are redelivered after the ack wait).
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.consumingNow = false;
    this.wakeRetry?.();
    for (const w of this.startedWaiters.splice(0)) w.reject(new Error("consumer runner stopped before it started"));
    await this.messages?.close().catch(() => undefined);
    const deadline = Date.now() + timeoutMs;
    const idle = this.active === 0 ? Promise.resolve(true) : new Promise<boolean>((r) => this.idleWaiters.push(() => r(true)));
    const finished = await Promise.race([idle, sleep(Math.max(0, deadline - Date.now())).then(() => false)]);
    if (!finished) this.log.warn({ inFlight: this.active }, "shutdown timeout: abandoning in-flight handlers (their messages will be redelivered)");
    await Promise.race([this.opts.publisher.flush(), sleep(Math.max(0, deadline - Date.now()))]);
    await Promise.race([this.loop, sleep(Math.max(0, deadline - Date.now()))]);
    clearInterval(this.sweeper);
    await this.circuitReporter.stop();
    await this.failureReporter.stop();
    // Abandoned handlers: their results no longer matter (the server redelivers).
    for (const d of this.watched) d.settle("timeout");
  }

  private sweep(): void {
    if (this.watched.size === 0) return;
    const now = performance.now();
    for (const d of this.watched) {
      if (d.deadline <= now) {
        this.watched.delete(d);
        d.settle("timeout");
      }
    }
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      let consumer: Consumer;
      try {
        consumer = await this.opts.js.consumers.get(this.stream, this.consumerName);
        this.policy = deliveryPolicyOf(await consumer.info(true));
      } catch (err) {
        attempt++;
        const delay = Math.min(5000, 250 * 2 ** Math.min(attempt, 5));
        this.log.warn({ err: errorMessage(err), retryInMs: delay }, "consumer not available yet; retrying");
        await this.interruptibleSleep(delay);
        continue;
      }
      attempt = 0;
      this.adoptCircuitSettings();
      if (this.breaker && this.breaker.state !== "closed") {
        // Open: nothing is fetched until the cool-down has passed; then one message probes.
        await this.holdOpenCircuit(consumer);
        continue;
      }
      this.log.info({ policy: this.policy }, "consuming");
      const batch = this.opts.pullBatch ?? Math.max(64, this.concurrency * 4);
      // Short pull expiry (heartbeat every 2.5 s): when the consumer's leader moves to another
      // server (node lost in a cluster), the open pull is gone with it; the client only notices
      // by missed heartbeats, which with the 30 s default meant ~30-50 s without deliveries.
      const messages = await consumer.consume({ max_messages: batch, expires: 5000 });
      this.messages = messages;
      this.consumingNow = true;
      for (const w of this.startedWaiters.splice(0)) w.resolve();
      void this.watchStatus(messages);
      for await (const m of messages) {
        if (this.stopping) {
          // Not started: hand it back at once instead of waiting for the ack wait.
          m.nak();
          continue;
        }
        if (this.breaker && this.breaker.state !== "closed") {
          // Pulled before the circuit opened: handed back for after the cool-down (one
          // delivery each, once per opening), not handled against a failing downstream.
          m.nak(Math.max(1000, this.breaker.coolDownLeftMs()));
          continue;
        }
        this.consumingNow = true;
        if (this.active >= this.concurrency) await new Promise<void>((r) => this.slotWaiters.push(r));
        else this.active++;
        this.metrics?.inFlight.labels(this.service).set(this.active);
        void this.handle(m);
      }
      this.consumingNow = false;
      if (!this.stopping && this.breaker?.state === "closed") {
        this.log.warn("message iterator ended; re-attaching to the consumer");
        await this.interruptibleSleep(500);
      }
    }
  }

  /** Reads the circuit settings the consumer carries; keeps the state when they did not change. */
  private adoptCircuitSettings(): void {
    const s = this.policy?.circuitBreaker;
    if (!s) {
      if (this.breaker && this.breaker.state !== "closed") this.circuitChanged("closed");
      this.breaker = undefined;
      return;
    }
    const b = this.breaker?.settings;
    if (b && b.failureThreshold === s.failureThreshold && b.windowMs === s.windowMs && b.coolDownMs === s.coolDownMs) return;
    this.breaker = new CircuitBreaker(s);
  }

  /**
   * The circuit is open: wait out the cool-down (nothing is fetched, so nothing held counts a
   * delivery), then probe with one message. Its outcome closes the circuit or opens it again.
   */
  private async holdOpenCircuit(consumer: Consumer): Promise<void> {
    const breaker = this.breaker!;
    // Held on purpose: the runner is healthy, its downstream is not.
    this.consumingNow = true;
    for (const w of this.startedWaiters.splice(0)) w.resolve();
    const wait = breaker.coolDownLeftMs();
    if (wait > 0) {
      await this.interruptibleSleep(wait);
      return;
    }
    if (!breaker.probe()) return;
    this.circuitChanged("half_open");
    let m: JsMsg | null;
    try {
      m = await consumer.next({ expires: 5000 });
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "circuit probe: fetch failed");
      breaker.failure(`probe fetch failed: ${errorMessage(err)}`);
      this.circuitChanged("open");
      return;
    }
    if (!m) {
      // Nothing to probe with: nothing can fail either.
      breaker.success();
      this.circuitChanged("closed");
      return;
    }
    if (this.active >= this.concurrency) await new Promise<void>((r) => this.slotWaiters.push(r));
    else this.active++;
    await this.handle(m, true);
  }

  /** A handler's transient failure or timeout. */
  private circuitFailure(reason: string): void {
    if (this.breaker?.failure(reason)) {
      this.circuitChanged("open");
      // Stop pulling: the consume loop ends and holdOpenCircuit takes over.
      void this.messages?.close().catch(() => undefined);
    }
  }

  private circuitSuccess(): void {
    if (this.breaker?.success()) this.circuitChanged("closed");
  }

  private circuitChanged(state: CircuitState): void {
    const value = state === "closed" ? 0 : state === "half_open" ? 1 : 2;
    this.metrics?.circuitState.labels(this.service, this.consumerName).set(value);
    if (state === "open") {
      this.metrics?.circuitOpened.labels(this.service, this.consumerName).inc();
      this.log.warn(
        { reason: this.breaker?.reason, coolDownMs: this.breaker?.settings.coolDownMs },
        "circuit open: not fetching until the cool-down has passed",
      );
    } else if (state === "closed") this.log.info("circuit closed: consuming again");
    const b = this.breaker;
    this.circuitReporter.report(
      state === "closed" || !b ? undefined : { state, reason: b.reason, since: new Date(b.openedAt).toISOString(), service: this.service },
    );
  }

  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const s of messages.status()) {
        switch (s.type) {
          case "heartbeats_missed":
          case "consumer_not_found":
          case "consumer_deleted":
          case "stream_not_found":
          case "no_responders":
            if (this.consumingNow) this.log.warn({ status: s.type }, "not consuming");
            this.consumingNow = false;
            break;
          case "next":
          case "heartbeat":
            this.consumingNow = true;
            break;
          default:
            // flow control, limits, pinning, ordered-consumer resets: consuming goes on
            break;
        }
      }
    } catch {
      // the iterator closed
    }
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) {
      // The slot passes straight to the waiting message.
      next();
      return;
    }
    this.active--;
    this.metrics?.inFlight.labels(this.service).set(this.active);
    if (this.active === 0 && this.idleWaiters.length > 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private labels(type: string): LabelSet {
    let l = this.labelCache.get(type);
    if (!l) {
      const m = this.metrics;
      l = m
        ? {
            acked: m.processed.labels(this.service, type, "acked"),
            retried: m.processed.labels(this.service, type, "retried"),
            dead_lettered: m.processed.labels(this.service, type, "dead_lettered"),
            seconds: m.processingSeconds.labels(this.service, type),
          }
        : NO_LABELS;
      // Bounded: types come from the stream's subjects; stop caching past a sane number.
      if (this.labelCache.size < 1000) this.labelCache.set(type, l);
    }
    return l;
  }

  private async handle(m: JsMsg, probe = false): Promise<void> {
    const started = performance.now();
    const d = new Delivery(m, this.opts.publisher, this.log);
    d.probe = probe;
    const span = this.opts.tracer ? this.startSpan(this.opts.tracer, m) : undefined;
    let outcome: Outcome = "retried";
    try {
      outcome = span ? await withSpan(span, () => this.process(m, d)) : await this.process(m, d);
    } catch (err) {
      // Only reachable through a bug in the runner itself; the message is redelivered.
      this.log.error({ err: errorMessage(err), subject: m.subject }, "unexpected runner error");
      outcome = "retried";
    } finally {
      this.release();
      if (span) endSpan(span, d, outcome);
    }
    // A failed attempt handed back for a retry (dead letters report themselves).
    if (outcome === "retried" && d.failure !== undefined) this.failureReporter.failed("retried", d.failure);
    const l = this.labels(d.type);
    l[outcome].inc();
    l.seconds.observe((performance.now() - started) / 1000);
  }

  /**
   * The consumer span of one delivery: a child of the producer span that ce-traceparent names
   * (and linked to it, as the messaging conventions ask), so every attempt of an event shows
   * under its publish, in order, with its delivery count and what became of it.
   */
  private startSpan(tracer: Tracer, m: JsMsg): Span {
    const traceparent = m.headers?.get("ce-traceparent", Match.IgnoreCase);
    const producer = remoteSpanContext(traceparent);
    const info = m.info;
    return tracer.startSpan(
      `process ${m.subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [SPAN_ATTRIBUTES.messagingSystem]: "nats",
          [SPAN_ATTRIBUTES.destination]: m.subject,
          [SPAN_ATTRIBUTES.operationType]: "process",
          [SPAN_ATTRIBUTES.operationName]: "process",
          [SPAN_ATTRIBUTES.consumerGroup]: info.consumer,
          [SPAN_ATTRIBUTES.stream]: info.stream,
          [SPAN_ATTRIBUTES.streamSequence]: info.streamSequence,
          [SPAN_ATTRIBUTES.deliveryCount]: info.deliveryCount,
          [SPAN_ATTRIBUTES.bodySize]: m.data.length,
        },
        links: producer ? [{ context: producer }] : [],
      },
      contextOfTraceparent(traceparent),
    );
  }

  private async process(m: JsMsg, ctx: Delivery): Promise<Outcome> {
    let event: CloudEvent;
    try {
      event = decodeMessage(m, this.decodeOptions);
    } catch (err) {
      if (err instanceof InvalidEventError) return this.deadLetter(m, err.reason, err.message);
      throw err;
    }
    if (event.type !== m.subject) {
      // NATS permissions bind a producer to subjects, not to ce-type: a type that is not its
      // subject would let a producer speak for another (and pick that type's handler).
      return this.deadLetter(m, "invalid_event", `ce-type ${event.type} does not match the subject ${m.subject} it was published on (subject = type)`);
    }
    ctx.setEvent(event);
    // Own keys only: a type such as "constructor" must not find Object.prototype's.
    const handler = Object.hasOwn(this.opts.handlers, event.type) ? this.opts.handlers[event.type] : this.opts.defaultHandler;
    if (!handler) return this.deadLetter(m, "unknown_type", `no handler for event type ${event.type}`);
    if (this.opts.schemas) {
      try {
        this.opts.schemas.validateEvent(event);
      } catch (err) {
        return this.deadLetter(m, err instanceof InvalidEventError ? err.reason : "schema", errorMessage(err));
      }
    }

    const publishes = ctx.publishes;
    // Delivery count only parsed when needed (JetStream backoff, failures): the hot path skips it.
    const p = this.policy;
    const deadlineMs = p && p.backoffFrom !== "jetstream" ? p.ackWaitMs : this.ackDeadline(ctx.deliveryCount);
    // The handler races the server's ack deadline: past it the server redelivers anyway.
    const result = await new Promise<HandlerResult>((resolve) => {
      ctx.arm(resolve, performance.now() + deadlineMs);
      this.watched.add(ctx);
      let running: Promise<void>;
      try {
        running = handler(event, ctx);
      } catch (err) {
        ctx.settle({ err });
        return;
      }
      // Follow-ups must be persisted before the input is acked (nothing lost).
      running.then(() => {
        if (publishes.length === 0) ctx.settle("ok");
        else if (publishes.length === 1) publishes[0]!.then(ctx.ok, ctx.fail);
        else Promise.all(publishes).then(ctx.ok, ctx.fail);
      }, ctx.fail);
    });
    this.watched.delete(ctx);
    if (result !== "ok") {
      // Publishes the handler did not await must not surface as unhandled rejections.
      for (const p of publishes) p.catch(() => undefined);
    }

    if (result === "ok") {
      await this.ack(m);
      this.circuitSuccess();
      return "acked";
    }
    const deliveryCount = ctx.deliveryCount;
    if (result === "timeout") {
      const why = `handler did not finish within the ack wait of ${deadlineMs} ms`;
      this.circuitFailure(why);
      ctx.failure = why;
      if (this.exhausted(deliveryCount)) return this.deadLetter(m, "max_deliver", why, deliveryCount);
      // Leave it: the server redelivers once the ack wait expires.
      ctx.log.warn({ deliveryCount }, `${why}; the server will redeliver it`);
      ctx.disposition = "timeout";
      return "retried";
    }
    const err = result.err;
    ctx.failure = errorMessage(err);
    if (err instanceof TerminalError) return this.deadLetter(m, "terminal", err.message, deliveryCount);
    if (err instanceof InvalidEventError) return this.deadLetter(m, err.reason, err.message, deliveryCount);
    this.circuitFailure(errorMessage(err));
    if (this.exhausted(deliveryCount)) {
      return this.deadLetter(m, "max_deliver", `failed ${deliveryCount} deliveries; last error: ${errorMessage(err)}`, deliveryCount);
    }
    let delay = err instanceof TransientError && err.delayMs !== undefined ? err.delayMs : this.retryDelay(deliveryCount);
    // A failed probe's message waits out more than the next cool-down, so the next probe is
    // another message and no one message spends its deliveries on probes.
    if (ctx.probe && this.breaker) delay = Math.max(delay, 3 * this.breaker.settings.coolDownMs);
    ctx.log.warn({ err: errorMessage(err), deliveryCount, retryInMs: delay }, "handler failed; retrying");
    m.nak(delay);
    ctx.disposition = "nak";
    return "retried";
  }

  private exhausted(deliveryCount: number): boolean {
    const max = this.policy?.maxDeliver ?? -1;
    return max > 0 && deliveryCount >= max;
  }

  /** Delay before redelivery n+1: the consumer's backoff, else exponential from 1 s to 60 s. */
  private retryDelay(deliveryCount: number): number {
    const backoff = this.policy?.backoffMs ?? [];
    if (backoff.length > 0) return backoff[Math.min(deliveryCount - 1, backoff.length - 1)]!;
    return Math.min(60_000, 1000 * 2 ** Math.max(0, deliveryCount - 1));
  }

  /** The server's ack deadline of delivery n: ack_wait, or with a JetStream backoff backoff[n-1] (last entry repeats). */
  private ackDeadline(deliveryCount: number): number {
    const p = this.policy;
    if (!p) return 30_000;
    if (p.backoffFrom === "jetstream" && p.backoffMs.length > 0) return p.backoffMs[Math.min(deliveryCount - 1, p.backoffMs.length - 1)]!;
    return p.ackWaitMs;
  }

  private async ack(m: JsMsg): Promise<void> {
    if (this.opts.doubleAck) {
      await m.ackAck().catch((err) => this.log.warn({ err: errorMessage(err), seq: m.seq }, "ack not confirmed; the message may be redelivered"));
    } else {
      // Acks of one event-loop turn go out together (one socket write).
      this.pendingAcks.push(m);
      if (this.pendingAcks.length === 1) setImmediate(this.flushAcks);
    }
  }

  private readonly pendingAcks: JsMsg[] = [];
  private readonly flushAcks = (): void => {
    for (const m of this.pendingAcks.splice(0)) m.ack();
  };

  /**
   * Publishes the original payload and headers to the dead-letter subject with headers
   * saying why and from where, and acks the original only once that publish is acked.
   */
  private async deadLetter(m: JsMsg, reason: DeadLetterReason, rawError: string, deliveryCount = m.info.deliveryCount): Promise<Outcome> {
    const info = m.info;
    // Errors may quote the payload (a JSON parse error shows its beginning): no card numbers.
    const error = maskCardNumbers(rawError);
    const h = deadLetterHeaders(m.headers, {
      reason,
      error,
      subject: m.subject,
      stream: info.stream,
      streamSequence: info.streamSequence,
      consumer: info.consumer,
      deliveryCount,
      service: this.service,
    });
    const msgID = deadLetterMsgId(info.stream, info.consumer, info.streamSequence);
    const deadline = Date.now() + Math.max(2000, this.ackDeadline(deliveryCount) / 2);
    // The dead-letter publish is a producer span under the delivery's consumer span.
    const span = this.opts.tracer?.startSpan(`publish ${this.opts.deadLetterSubject}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        [SPAN_ATTRIBUTES.messagingSystem]: "nats",
        [SPAN_ATTRIBUTES.destination]: this.opts.deadLetterSubject,
        [SPAN_ATTRIBUTES.operationType]: "send",
        [SPAN_ATTRIBUTES.operationName]: "publish",
        [SPAN_ATTRIBUTES.deadLetterReason]: reason,
        [SPAN_ATTRIBUTES.deliveryCount]: deliveryCount,
        "error.message": error,
      },
    });
    if (span) trace.getSpan(context.active())?.setAttribute(SPAN_ATTRIBUTES.deadLetterReason, reason);
    let lastErr: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.opts.js.publish(this.opts.deadLetterSubject, m.data, { msgID, headers: h, timeout: 5000 });
        span?.end();
        break;
      } catch (err) {
        lastErr = err;
        if (Date.now() + 250 * attempt > deadline || this.stopping) {
          span?.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
          span?.end();
          return this.deadLetterFailed(m, reason, error, deliveryCount, lastErr);
        }
        m.working();
        await sleep(250 * attempt);
      }
    }
    // Confirmed ack: the dead letter is persisted, so the original may go.
    await m
      .ackAck()
      .catch((err) => this.log.warn({ err: errorMessage(err), seq: m.seq }, "ack of a dead-lettered message not confirmed; a redelivery will be deduplicated"));
    this.metrics?.deadLetters.labels(this.service, m.subject, reason).inc();
    this.failureReporter.failed("dead_lettered", error, reason);
    this.log.warn(
      { reason, error, subject: m.subject, streamSequence: info.streamSequence, deliveryCount, deadLetterSubject: this.opts.deadLetterSubject },
      "dead-lettered",
    );
    return "dead_lettered";
  }

  private deadLetterFailed(m: JsMsg, reason: DeadLetterReason, error: string, deliveryCount: number, err: unknown): Outcome {
    const fields = { reason, error, publishError: errorMessage(err), streamSequence: m.info.streamSequence, deadLetterSubject: this.opts.deadLetterSubject };
    if (this.exhausted(deliveryCount)) {
      // The server will not deliver it again; it stays in the stream (not lost) for replay.
      this.log.error(fields, "could not dead-letter a message on its last delivery; it stays in the stream unacknowledged");
    } else {
      this.log.error(fields, "could not dead-letter; retrying the message later");
      m.nak(this.retryDelay(deliveryCount));
    }
    return "retried";
  }

  private interruptibleSleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeRetry = done;
    });
  }
}

/** One message being handled; also the handler's context. */
class Delivery implements HandlerContext {
  readonly publishes: Promise<PubAck>[] = [];
  /** The one message fetched while the circuit is half-open. */
  probe = false;
  readonly subject: string;
  /** performance.now() at which the handler's time is up. */
  deadline = Infinity;
  private resolveResult: ((r: HandlerResult) => void) | undefined;
  private readonly m: JsMsg;
  /** Metrics label: the CE type once decoded, else the subject. */
  type: string;
  /** For the delivery's span: what the runner did with a failed delivery, and why it failed. */
  disposition: "nak" | "timeout" | undefined;
  failure: string | undefined;
  event: CloudEvent | undefined;
  private childLog: Logger | undefined;
  private readonly publisher: Publisher;
  private readonly baseLog: Logger;

  constructor(m: JsMsg, publisher: Publisher, baseLog: Logger) {
    this.m = m;
    this.subject = m.subject;
    this.type = m.subject;
    this.publisher = publisher;
    this.baseLog = baseLog;
  }

  get deliveryCount(): number {
    return this.m.info.deliveryCount;
  }

  get streamSequence(): number {
    return this.m.info.streamSequence;
  }

  arm(resolve: (r: HandlerResult) => void, deadline: number): void {
    this.resolveResult = resolve;
    this.deadline = deadline;
  }

  /** First result wins (handler outcome or the deadline sweep). */
  settle(r: HandlerResult): void {
    const resolve = this.resolveResult;
    this.resolveResult = undefined;
    resolve?.(r);
  }

  readonly ok = (): void => this.settle("ok");
  readonly fail = (err: unknown): void => this.settle({ err });

  setEvent(event: CloudEvent): void {
    this.event = event;
    this.type = event.type;
  }

  publish(event: CloudEvent): Promise<PubAck> {
    const p = this.publisher.publish(event);
    this.publishes.push(p);
    return p;
  }

  get log(): Logger {
    const e = this.event;
    this.childLog ??= this.baseLog.child(
      e
        ? { eventId: e.id, traceId: traceIdOf(e.traceparent), type: e.type, delivery: this.deliveryCount }
        : { subject: this.subject, delivery: this.deliveryCount },
    );
    return this.childLog;
  }
}

type HandlerResult = "ok" | "timeout" | { err: unknown };

function endSpan(span: Span, d: Delivery, outcome: Outcome): void {
  if (d.event) span.setAttributes(eventAttributes(d.event));
  const disposition = outcome === "acked" ? "ack" : outcome === "dead_lettered" ? "dead_letter" : (d.disposition ?? "nak");
  span.setAttribute(SPAN_ATTRIBUTES.disposition, disposition);
  if (outcome !== "acked") span.setStatus({ code: SpanStatusCode.ERROR, message: d.failure ?? disposition });
  span.end();
}

interface LabelSet {
  acked: { inc(): void };
  retried: { inc(): void };
  dead_lettered: { inc(): void };
  seconds: { observe(v: number): void };
}

const NOOP = { inc() {}, observe() {} };
const NO_LABELS: LabelSet = { acked: NOOP, retried: NOOP, dead_lettered: NOOP, seconds: NOOP };

/**
 * The retry schedule: the operator's (consumer metadata), else JetStream's own backoff
 * (consumers made by hand), else none. A schedule that does not parse is skipped (the next
 * source applies).
 */
export function deliveryPolicyOf(info: ConsumerInfo): DeliveryPolicy {
  const c = info.config;
  const base = {
    maxDeliver: c.max_deliver === undefined || c.max_deliver <= 0 ? -1 : c.max_deliver,
    ackWaitMs: c.ack_wait ? Math.round(c.ack_wait / 1e6) : 30_000,
  };
  const circuit = parseCircuitBreaker(c.metadata?.[CIRCUIT_BREAKER_METADATA_KEY]);
  const withCircuit = circuit ? { ...base, circuitBreaker: circuit } : base;
  const fromMeta = parseBackoffList(c.metadata?.[BACKOFF_METADATA_KEY]);
  if (fromMeta) return { ...withCircuit, backoffMs: fromMeta, backoffFrom: "metadata" };
  if (c.backoff && c.backoff.length > 0) return { ...withCircuit, backoffMs: c.backoff.map((ns) => Math.round(ns / 1e6)), backoffFrom: "jetstream" };
  return { ...withCircuit, backoffMs: [], backoffFrom: "none" };
}

/** "failureThreshold=10,window=10s,coolDown=5s" to settings; undefined if absent or malformed (no breaker). */
export function parseCircuitBreaker(text: string | undefined): CircuitSettings | undefined {
  if (!text) return undefined;
  const fields = new Map(text.split(",").map((kv) => kv.split("=").map((x) => x.trim()) as [string, string | undefined]));
  const threshold = Number(fields.get("failureThreshold"));
  const window = parseBackoffList(fields.get("window"));
  const coolDown = parseBackoffList(fields.get("coolDown"));
  if (!Number.isInteger(threshold) || threshold < 1 || window?.length !== 1 || coolDown?.length !== 1) return undefined;
  return { failureThreshold: threshold, windowMs: window[0]!, coolDownMs: coolDown[0]! };
}

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/;
const MS_PER: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "1s,5s,30s" (Go-style durations, "1m30s" allowed) to ms; undefined if absent or malformed. */
export function parseBackoffList(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const out: number[] = [];
  for (const item of text.split(",")) {
    let rest = item.trim();
    if (rest === "") return undefined;
    let ms = 0;
    while (rest !== "") {
      const m = DURATION.exec(rest);
      if (!m) return undefined;
      ms += Number(m[1]) * MS_PER[m[2]!]!;
      rest = rest.slice(m[0].length);
    }
    out.push(Math.max(0, Math.round(ms)));
  }
  return out;
}

export { DLQ_HEADERS, deadLetterMsgId };

export interface DeadLetterInfo {
  reason: DeadLetterReason;
  error: string;
  subject: string;
  stream: string;
  streamSequence: number;
  consumer: string;
  deliveryCount: number;
  service: string;
  time?: Date;
}

/** The original headers (minus JetStream's Nats-* control headers) plus the dead-letter headers. */
export function deadLetterHeaders(original: MsgHdrs | undefined, d: DeadLetterInfo): MsgHdrs {
  const h = natsHeaders();
  if (original) {
    for (const [k, values] of original) {
      if (k.toLowerCase().startsWith("nats-") || k.toLowerCase().startsWith("jetmesh-dlq-")) continue;
      for (const v of values) h.append(k, v);
    }
  }
  h.set(DLQ_HEADERS.reason, d.reason);
  h.set(DLQ_HEADERS.error, headerSafe(d.error));
  h.set(DLQ_HEADERS.originalSubject, d.subject);
  h.set(DLQ_HEADERS.stream, d.stream);
  h.set(DLQ_HEADERS.streamSequence, String(d.streamSequence));
  h.set(DLQ_HEADERS.consumer, d.consumer);
  h.set(DLQ_HEADERS.deliveryCount, String(d.deliveryCount));
  h.set(DLQ_HEADERS.service, d.service);
  h.set(DLQ_HEADERS.time, (d.time ?? new Date()).toISOString());
  return h;
}

/** Header values cannot hold CR/LF; long errors are cut so the message stays small. */
function headerSafe(s: string): string {
  const one = s.replace(/[\r\n]+/g, " ").trim();
  return one.length > 1000 ? one.slice(0, 997) + "..." : one;
}

/** A timer that does not keep the process alive (used for bounded waits). */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
