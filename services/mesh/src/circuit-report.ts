// Tells the operator about a circuit that is not closed: a KV entry `<consumer>.<instance>` in
// the bucket jetmesh-circuits (docs/contracts.md), rewritten every CIRCUIT_REPORT_REFRESH_MS
// while the circuit stays open or half-open and deleted when it closes. The bucket's TTL drops
// the entry of a process that died with an open circuit. Best effort: a report that cannot be
// written is logged and tried again at the next refresh; consuming never waits for it.
import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { CIRCUIT_BUCKET, CIRCUIT_REPORT_REFRESH_MS, CIRCUIT_REPORT_TTL_MS, type CircuitReport } from "./consumer-contract.ts";
import { errorMessage } from "./errors.ts";

/** This process's part of the key: host (the pod's name in Kubernetes) and pid. */
function instanceId(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_=-]/g, "_");
}

export class CircuitReporter {
  readonly #js: JetStreamClient;
  readonly #key: string;
  readonly #log: Logger;
  #kv: Promise<KV> | undefined;
  #current: CircuitReport | undefined;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(js: JetStreamClient, consumer: string, log: Logger) {
    this.#js = js;
    this.#key = `${consumer}.${instanceId()}`;
    this.#log = log;
  }

  /** The circuit's state now: a report while open or half-open, undefined once closed. */
  report(r: CircuitReport | undefined): void {
    const had = this.#current !== undefined;
    this.#current = r;
    if (r && !this.#timer) {
      this.#timer = setInterval(() => this.#write(), CIRCUIT_REPORT_REFRESH_MS);
      this.#timer.unref();
    }
    if (!r && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    if (r || had) this.#write();
  }

  #bucket(): Promise<KV> {
    // Same settings from every process: create is idempotent then.
    this.#kv ??= new Kvm(this.#js).create(CIRCUIT_BUCKET, { history: 1, ttl: CIRCUIT_REPORT_TTL_MS });
    return this.#kv;
  }

  #write(): void {
    const r = this.#current;
    this.#writing = this.#writing.then(async () => {
      try {
        const kv = await this.#bucket();
        if (r) await kv.put(this.#key, JSON.stringify(r));
        else await kv.delete(this.#key);
      } catch (err) {
        this.#kv = undefined;
        this.#log.warn({ err: errorMessage(err), bucket: CIRCUIT_BUCKET }, "could not report the circuit state to the operator; trying again");
      }
    });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#current) {
      // A process that stops is no longer holding anything back.
      this.#current = undefined;
      this.#write();
    }
    await this.#writing;
  }
}
