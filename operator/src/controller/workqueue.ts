// A keyed, de-duplicating work queue: a key is queued at most once, never processed by two
// workers at once (a change that arrives while it is processed re-queues it once afterwards),
// retried with per-key exponential backoff on failure, and processed by a bounded number of
// concurrent workers. Delayed re-adds keep only the earliest timer per key.
// Metrics follow client-go's workqueue: a key counts as added when it becomes dirty (queued, or
// changed while a worker has it), depth is what was added and not yet taken by a worker, and
// every delayed re-add (backoff or requeue-after) counts as a retry.
// Two priorities, as controller-runtime's priority queue has them: a resync or a reconnect adds
// every key at low priority, so an object a user just created or changed is taken before the
// thousands of keys a resync queued ahead of it (at 10,000 subscriptions a resync is ~10,000
// reconciles); a low key that is added normally moves up.
import type { QueueMetrics } from "../metrics.ts";

/** `low`: a resync or reconnect looking at everything; `normal`: a change, a retry, a timer. */
export type Priority = "normal" | "low";

export type Outcome = { kind: "ok" } | { kind: "requeue"; afterMs: number } | { kind: "error" } | { kind: "terminal" };

export interface WorkQueueOptions {
  concurrency: number;
  baseDelayMs: number;
  maxDelayMs: number;
  process: (key: string) => Promise<Outcome>;
  metrics?: QueueMetrics;
}

/** Pure: the delay before retry number `failures` (1-based). */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

export class WorkQueue {
  private readonly opts: WorkQueueOptions;
  private readonly queue: string[] = [];
  /** Low-priority keys (resync); may hold keys since moved up (skipped when taken). */
  private readonly lowQueue: string[] = [];
  /** Queued keys and their priority. */
  private readonly queued = new Map<string, Priority>();
  private lowCount = 0;
  private readonly active = new Set<string>();
  /** Keys changed while a worker has them, and the priority they are queued at afterwards. */
  private readonly dirty = new Map<string, Priority>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** When each dirty key (queued, or changed while active) was added. */
  private readonly addedAt = new Map<string, number>();
  private running = 0;
  private stopped = false;
  private paused = true;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: WorkQueueOptions) {
    this.opts = opts;
  }

  get depth(): number {
    return this.queue.length + this.lowCount;
  }

  get busy(): number {
    return this.running;
  }

  /** Workers start when resumed (the queue collects keys while paused, e.g. before leadership). */
  resume(): void {
    this.paused = false;
    this.pump();
  }

  pause(): void {
    this.paused = true;
  }

  add(key: string, priority: Priority = "normal"): void {
    if (this.stopped) return;
    const t = this.timers.get(key);
    if (t) {
      clearTimeout(t.timer);
      this.timers.delete(key);
    }
    const queuedAs = this.queued.get(key);
    if (queuedAs === "low" && priority === "normal") {
      // Moves up; its entry in the low queue is skipped when reached.
      this.lowCount--;
      this.queued.set(key, "normal");
      this.queue.push(key);
      this.pump();
      return;
    }
    if (queuedAs !== undefined) return;
    const dirtyAs = this.dirty.get(key);
    if (dirtyAs !== undefined) {
      if (priority === "normal") this.dirty.set(key, "normal");
      return;
    }
    this.addedAt.set(key, performance.now());
    this.opts.metrics?.added();
    if (this.active.has(key)) {
      this.dirty.set(key, priority);
      return;
    }
    this.enqueue(key, priority);
  }

  private enqueue(key: string, priority: Priority = "normal"): void {
    this.queued.set(key, priority);
    if (priority === "low") {
      this.lowQueue.push(key);
      this.lowCount++;
    } else this.queue.push(key);
    this.pump();
  }

  /** The next key: normal ones first, then low ones still queued as low. */
  private take(): string | undefined {
    if (this.queue.length > 0) return this.queue.shift();
    while (this.lowQueue.length > 0) {
      const key = this.lowQueue.shift() as string;
      if (this.queued.get(key) === "low") {
        this.lowCount--;
        return key;
      }
    }
    return undefined;
  }

  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    this.opts.metrics?.retried();
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.timers.set(key, { at, timer });
  }

  /** Forget retry state for a key (object deleted). */
  forget(key: string): void {
    this.failures.delete(key);
    const t = this.timers.get(key);
    if (t) clearTimeout(t.timer);
    this.timers.delete(key);
  }

  private pump(): void {
    while (!this.paused && !this.stopped && this.running < this.opts.concurrency && this.depth > 0) {
      const key = this.take();
      if (key === undefined) break;
      this.queued.delete(key);
      const now = performance.now();
      this.opts.metrics?.taken((now - (this.addedAt.get(key) ?? now)) / 1000);
      this.addedAt.delete(key);
      this.active.add(key);
      this.running++;
      void this.work(key, now);
    }
    if (this.running === 0 && this.depth === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  private async work(key: string, startedAt: number): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.opts.process(key);
    } catch {
      outcome = { kind: "error" };
    }
    this.opts.metrics?.done((performance.now() - startedAt) / 1000);
    this.active.delete(key);
    this.running--;
    if (outcome.kind === "error") {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.addAfter(key, backoffDelay(n, this.opts.baseDelayMs, this.opts.maxDelayMs));
    } else {
      this.failures.delete(key);
      if (outcome.kind === "requeue") this.addAfter(key, outcome.afterMs);
    }
    // Changed while it was processed: queued now, counted as added when the change came.
    const dirtyAs = this.dirty.get(key);
    if (dirtyAs !== undefined) {
      this.dirty.delete(key);
      if (!this.queued.has(key)) this.enqueue(key, dirtyAs);
    }
    this.pump();
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.running === 0 && this.depth === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    this.queue.length = 0;
    this.lowQueue.length = 0;
    this.lowCount = 0;
    this.queued.clear();
    this.addedAt.clear();
    while (this.running > 0) await new Promise((r) => setTimeout(r, 10));
  }
}
