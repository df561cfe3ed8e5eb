import { afterEach, describe, expect, it, vi } from "vitest";
import { waitFor } from "@jetmesh/testing";
import { backoffDelay, WorkQueue, type Outcome } from "../src/controller/workqueue.ts";
import { pino } from "pino";
import { OperatorMetrics } from "../src/metrics.ts";
import { Controller } from "../src/controller/manager.ts";
import { splitKey } from "../src/api/names.ts";
import type { EventStream, EventSubscription } from "../src/api/types.ts";

// Delays are the queue's own timers: the tests that measure them run on vitest's fake clock.
afterEach(() => void vi.useRealTimers());

describe("backoff", () => {
  it.each([
    [1, 100],
    [2, 200],
    [5, 1600],
    [20, 60_000],
  ])("failure %i waits %i ms", (n, ms) => expect(backoffDelay(n, 100, 60_000)).toBe(ms));
});

describe("WorkQueue", () => {
  it("de-duplicates keys and never runs one key twice at once", async () => {
    const runs: string[] = [];
    let concurrentSameKey = 0;
    const active = new Set<string>();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue({
      concurrency: 4,
      baseDelayMs: 1,
      maxDelayMs: 10,
      process: async (key): Promise<Outcome> => {
        if (active.has(key)) concurrentSameKey++;
        active.add(key);
        runs.push(key);
        if (runs.length === 1) await gate;
        active.delete(key);
        return { kind: "ok" };
      },
    });
    q.add("a");
    q.add("a");
    q.add("b");
    q.resume();
    await waitFor("a running (held by the gate)", () => active.has("a"));
    q.add("a"); // changed while running: runs once more afterwards
    q.add("a");
    release();
    // A re-add of a changed key is queued synchronously when its run ends, so idle covers it.
    await q.idle();
    expect(runs.sort()).toEqual(["a", "a", "b"]);
    expect(concurrentSameKey).toBe(0);
    await q.stop();
  });

  it("takes changed keys before a resync's low-priority keys; a low key added normally moves up and runs once", async () => {
    const runs: string[] = [];
    const q = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 1,
      maxDelayMs: 10,
      process: async (key): Promise<Outcome> => {
        runs.push(key);
        return { kind: "ok" };
      },
    });
    // Paused: everything is queued first, as a resync fills the queue while workers are busy.
    for (const k of ["r1", "r2", "r3", "r4"]) q.add(k, "low");
    q.add("new");
    q.add("r3"); // changed by a user while its resync entry waits
    q.add("r1", "low"); // a second resync does not duplicate it
    expect(q.depth).toBe(5);
    q.resume();
    await q.idle();
    expect(runs).toEqual(["new", "r3", "r1", "r2", "r4"]);
    expect(q.depth).toBe(0);
    await q.stop();
  });

  it("bounds concurrency", async () => {
    let running = 0;
    let peak = 0;
    const q = new WorkQueue({
      concurrency: 3,
      baseDelayMs: 1,
      maxDelayMs: 10,
      process: async () => {
        running++;
        peak = Math.max(peak, running);
        await Promise.resolve();
        running--;
        return { kind: "ok" };
      },
    });
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    q.resume();
    await q.idle();
    expect(peak).toBe(3);
    await q.stop();
  });

  it("retries failures with growing delays and stops after success; terminal is not retried", async () => {
    vi.useFakeTimers();
    const times: number[] = [];
    let terminalRuns = 0;
    const q = new WorkQueue({
      concurrency: 2,
      baseDelayMs: 20,
      maxDelayMs: 1000,
      process: async (key): Promise<Outcome> => {
        if (key === "t") {
          terminalRuns++;
          return { kind: "terminal" };
        }
        times.push(Date.now());
        return times.length < 4 ? { kind: "error" } : { kind: "ok" };
      },
    });
    q.add("e");
    q.add("t");
    q.resume();
    await vi.advanceTimersByTimeAsync(20 + 40 + 80);
    expect(times.length).toBe(4);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps).toEqual([20, 40, 80]);
    // Succeeded: nothing more, however long we wait; the terminal key ran once.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(times.length).toBe(4);
    expect(terminalRuns).toBe(1);
    await q.stop();
  });

  it("keeps only the earliest delayed re-add and holds keys while paused", async () => {
    vi.useFakeTimers();
    const runs: string[] = [];
    const q = new WorkQueue({ concurrency: 1, baseDelayMs: 1, maxDelayMs: 10, process: async (k) => (runs.push(k), { kind: "ok" }) });
    q.addAfter("x", 30);
    q.addAfter("x", 500);
    q.add("y");
    await vi.advanceTimersByTimeAsync(60);
    expect(runs).toEqual([]); // paused
    q.resume();
    await q.idle();
    expect(runs.sort()).toEqual(["x", "y"]);
    // The later re-add of x was dropped: x does not run again at 500 ms.
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs.sort()).toEqual(["x", "y"]);
    await q.stop();
  });
});

describe("WorkQueue metrics (client-go's workqueue meanings)", () => {
  it("counts an add once per dirty key, depth until a worker takes it, and every delayed re-add as a retry", async () => {
    const metrics = new OperatorMetrics();
    const value = async (name: string) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.name === "eventstream" && !("le" in v.labels))?.value;
    const counts = async () => ({
      adds: await value("workqueue_adds_total"),
      depth: await value("workqueue_depth"),
      retries: await value("workqueue_retries_total"),
      taken: (await metrics.registry.getSingleMetric("workqueue_queue_duration_seconds")!.get()).values.find(
        (v) => "metricName" in v && v.metricName === "workqueue_queue_duration_seconds_count" && v.labels.name === "eventstream",
      )?.value,
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let failOnce = true;
    const q = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 1,
      maxDelayMs: 1,
      metrics: metrics.queue("eventstream"),
      process: async (key): Promise<Outcome> => {
        if (key === "a") await gate;
        if (key === "b" && failOnce) return ((failOnce = false), { kind: "error" });
        return { kind: "ok" };
      },
    });
    q.add("a");
    q.add("a"); // already waiting: not an add
    q.add("b");
    expect(await counts()).toEqual({ adds: 2, depth: 2, retries: 0, taken: 0 });
    q.resume();
    await waitFor("a taken", async () => (await counts()).taken === 1);
    q.add("a"); // changed while a worker has it: dirty, an add, waiting again
    q.add("a");
    expect(await counts()).toEqual({ adds: 3, depth: 2, retries: 0, taken: 1 });
    release();
    // b fails once (a retry after backoff), then everything is done.
    await waitFor("all processed", async () => (await counts()).taken === 4);
    await q.idle();
    expect(await counts()).toEqual({ adds: 4, depth: 0, retries: 1, taken: 4 });
    await q.stop();
  });
});

describe("Controller priorities", () => {
  const sub = (name: string, ready: boolean) =>
    ({
      metadata: { namespace: "ns", name, generation: 1 },
      spec: { stream: "events" },
      status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
    }) as unknown as EventSubscription;
  const stream = { metadata: { namespace: "ns", name: "events", generation: 1 }, spec: {} } as unknown as EventStream;

  it("a resync (and the stream reconcile it causes) queues Ready subscriptions behind a user's new one; waiting ones go first", async () => {
    const subs = [sub("r0", true), sub("r1", true), sub("r2", true), sub("r3", true), sub("waiting", false)];
    const list = <T>(xs: T[]) => ({ list: () => xs, get: () => undefined });
    const runs: string[] = [];
    let streamRuns = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const c = new Controller(
      { workers: 1, resyncMs: 3_600_000, metrics: new OperatorMetrics(), log: pino({ level: "silent" }) },
      { reconcile: async () => (streamRuns++, {}) },
      {
        reconcile: async (key) => {
          runs.push(splitKey(key).name);
          if (runs.length === 1) await gate; // the first resync key holds the only worker
          return {};
        },
      },
    );
    c.setCaches(list([stream]), list(subs));
    c.start(); // enqueues everything at low priority, as every resync does
    await waitFor("the stream reconciled", () => streamRuns === 1);
    c.onSubscriptionChange("added", sub("new", false), undefined);
    release();
    await c.subscriptionQueue.idle();
    // r0 was being reconciled when the stream's reconcile asked its dependents to look again:
    // once more afterwards, still at low priority.
    expect(runs).toEqual(["r0", "waiting", "new", "r1", "r2", "r3", "r0"]);
    await c.stop();
  });
});
