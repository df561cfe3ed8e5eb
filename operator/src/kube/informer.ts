// A list+watch cache for one resource, built on @kubernetes/client-node's Watch, that does not
// stop: a 410 Gone (history expired) relists, any other end or error restarts the watch with
// capped backoff, and a watchdog restarts a watch that has been silent for too long (half-open
// connections stall without an error). Handlers are called synchronously with the change.
import { Watch } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { resourcePath, type KubeRest, type ResourceRef } from "./rest.ts";

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number; deletionTimestamp?: string; finalizers?: string[] };
}

export type ChangeType = "added" | "updated" | "deleted";
export type ChangeHandler<T> = (type: ChangeType, obj: T, old: T | undefined) => void;

export interface InformerOptions {
  /** Restart a watch that delivered nothing (not even a bookmark) for this long. */
  stallTimeoutMs: number;
  /** Ask the server to end each watch after this long, so connections are renewed. */
  watchTimeoutSeconds: number;
  /** List and watch only this namespace (a Role there suffices); undefined: every namespace. */
  namespace?: string;
}

/**
 * Drops what the operator never reads before an object is cached: managedFields and kubectl's
 * last-applied annotation are often larger than the spec, and the cache holds every object.
 */
export function slim<T extends KubeObject>(o: T): T {
  const m = o.metadata as KubeObject["metadata"] & { managedFields?: unknown; annotations?: Record<string, string> };
  if (m.managedFields !== undefined) delete m.managedFields;
  if (m.annotations?.["kubectl.kubernetes.io/last-applied-configuration"] !== undefined) {
    const { ["kubectl.kubernetes.io/last-applied-configuration"]: _dropped, ...rest } = m.annotations;
    m.annotations = rest;
  }
  return o;
}

export function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

export class Informer<T extends KubeObject> {
  readonly resource: ResourceRef;
  private readonly rest: KubeRest;
  private readonly log: Logger;
  private readonly opts: InformerOptions;
  private readonly handler: ChangeHandler<T>;
  private readonly cache = new Map<string, T>();
  private resourceVersion: string | undefined;
  private stopped = false;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private syncedResolve: (() => void) | undefined;
  readonly synced: Promise<void>;
  /** Counters for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, stalls: 0, gone: 0, errors: 0 };

  constructor(rest: KubeRest, resource: ResourceRef, handler: ChangeHandler<T>, opts: InformerOptions, log: Logger) {
    this.rest = rest;
    this.resource = resource;
    this.handler = handler;
    this.opts = opts;
    this.log = log.child({ informer: resource.plural });
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  start(): void {
    this.loop ??= this.run();
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.rest.throttle("GET");
        const began = Date.now();
        const ended = await this.watchOnce();
        // A server that closes watches at once must not turn this loop into a busy spin.
        if (Date.now() - began < 500) await this.sleep(100);
        if (ended === "gone") {
          this.stats.gone++;
          this.log.info("watch history expired (410), relisting");
          this.resourceVersion = undefined;
        }
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        this.stats.errors++;
        const status = (err as { statusCode?: number; status?: number }).statusCode ?? (err as { status?: number }).status;
        if (status === 410) {
          this.resourceVersion = undefined;
          continue;
        }
        const delay = Math.min(200 * 2 ** failures, 10_000);
        failures++;
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, "watch failed, restarting");
        await this.sleep(delay);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    this.stats.lists++;
    const res = await this.rest.list<T>(this.resource, this.opts.namespace);
    const seen = new Set<string>();
    for (const item of res.items) {
      const obj = slim(item);
      const key = keyOf(obj);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.handler("added", obj, undefined);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.handler("updated", obj, old);
    }
    // Objects deleted while we were not watching.
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.handler("deleted", old, old);
      }
    }
    this.resourceVersion = res.metadata.resourceVersion;
    this.syncedResolve?.();
  }

  /** One watch connection; resolves "gone" on 410, "ended" when the connection ends otherwise. */
  private watchOnce(): Promise<"gone" | "ended"> {
    this.stats.watches++;
    return new Promise((resolve, reject) => {
      const watch = new Watch(this.rest.kubeConfig);
      // client-node 2.0.1 aborts a watch after 30 s without data; our own watchdog decides.
      (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = this.opts.stallTimeoutMs * 4;
      let result: "gone" | "ended" = "ended";
      let lastActivity = Date.now();
      let settled = false;
      const watchdog = setInterval(
        () => {
          if (Date.now() - lastActivity > this.opts.stallTimeoutMs) {
            this.stats.stalls++;
            this.log.info({ silentMs: Date.now() - lastActivity }, "watch silent for too long, restarting it");
            this.abort?.abort();
            finish();
          }
        },
        Math.max(100, Math.floor(this.opts.stallTimeoutMs / 4)),
      );
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearInterval(watchdog);
        if (err && !this.stopped && result !== "gone") reject(err);
        else resolve(result);
      };
      const onEvent = (phase: string, obj: T & { code?: number; kind?: string }) => {
        lastActivity = Date.now();
        if (phase === "ERROR") {
          if (obj?.code === 410) {
            result = "gone";
            this.abort?.abort();
            finish();
          } else {
            this.abort?.abort();
            finish(new Error(`watch error event: ${JSON.stringify(obj).slice(0, 200)}`));
          }
          return;
        }
        const rv = obj?.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (phase === "BOOKMARK") return;
        slim(obj);
        const key = keyOf(obj);
        const old = this.cache.get(key);
        if (phase === "DELETED") {
          this.cache.delete(key);
          this.handler("deleted", obj, old);
        } else {
          this.cache.set(key, obj);
          this.handler(old ? "updated" : "added", obj, old);
        }
      };
      watch
        .watch(
          resourcePath(this.resource, this.opts.namespace),
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.opts.watchTimeoutSeconds },
          (phase, obj) => onEvent(phase, obj as T & { code?: number }),
          (err) => finish(err ?? undefined),
        )
        .then((ctl) => {
          this.abort = ctl;
          if (settled || this.stopped) ctl.abort();
        }, finish);
    });
  }
}

/**
 * One cache over several namespaces, like client-go's MultiNamespacedCache in
 * controller-runtime: an Informer per namespace, read as one. The operator's namespaced mode
 * (WATCH_NAMESPACES) uses it, so it needs only Roles in those namespaces and never sees others.
 */
export class NamespacedInformers<T extends KubeObject> {
  private readonly informers: Informer<T>[];
  readonly synced: Promise<void>;

  constructor(rest: KubeRest, resource: ResourceRef, namespaces: string[], handler: ChangeHandler<T>, opts: InformerOptions, log: Logger) {
    this.informers = namespaces.map((namespace) => new Informer<T>(rest, resource, handler, { ...opts, namespace }, log.child({ namespace })));
    this.synced = Promise.all(this.informers.map((i) => i.synced)).then(() => undefined);
  }

  start(): void {
    for (const i of this.informers) i.start();
  }

  get(key: string): T | undefined {
    for (const i of this.informers) {
      const o = i.get(key);
      if (o) return o;
    }
    return undefined;
  }

  list(): T[] {
    return this.informers.flatMap((i) => i.list());
  }

  /** Counters summed over the namespaces. */
  get stats(): Informer<T>["stats"] {
    const sum = { lists: 0, watches: 0, stalls: 0, gone: 0, errors: 0 };
    for (const i of this.informers) for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += i.stats[k];
    return sum;
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
