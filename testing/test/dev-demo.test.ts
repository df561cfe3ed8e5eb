import { describe, expect, it } from "vitest";
import { SagaClock, drained, formatProgress, percentile } from "../src/dev/progress.ts";
import { orderBody } from "../src/dev/orders.ts";

describe("demo progress", () => {
  it.each([
    [[], 50, undefined],
    [[5], 99, 5],
    [[4, 1, 3, 2], 50, 2],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99, 10],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9],
  ])("percentile(%j, %i) = %s", (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it("prints rate, latency, backlog and replicas on one line", () => {
    const line = formatProgress({
      elapsedS: 12.4,
      phase: "load",
      rate: 99.6,
      ok: 1200,
      failed: 0,
      latenciesMs: [4, 5, 6, 40],
      sagaMs: [300, 1500],
      backlog: { payment: 640, inventory: 0 },
      replicas: { payment: { ready: 1, desired: 3 }, inventory: { ready: 1, desired: 1 } },
    });
    expect(line).toBe(
      "[  12s load ]  100 req/s  ok 1200  err 0  post p50 5.0ms p99 40ms  saga p50 300ms p99 1.5s | backlog: inventory 0  payment 640 | replicas: inventory 1  payment 1/3",
    );
  });

  it.each([
    [{}, false],
    [{ a: 0, b: 0 }, true],
    [{ a: 0, b: 3 }, false],
    [{ a: 0, b: undefined }, false],
  ])("drained(%j) = %s", (backlog, expected) => {
    expect(drained(backlog)).toBe(expected);
  });

  it("measures a saga from acceptance to finish, whichever is seen first, once", () => {
    const c = new SagaClock();
    c.accept("a", 100);
    c.finish("b", 150); // finished before its 202 arrived
    c.finish("a", 400);
    c.finish("a", 500); // a later KV update of a finished order counts once
    c.accept("b", 120);
    c.accept("c", 200);
    expect(c.take()).toEqual([300, 30]);
    expect(c.take()).toEqual([]);
    expect(c.finishedCount).toBe(2);
    expect(c.open).toBe(1);
  });

  it("orders are valid requests with some scarce SKUs and declined cards", () => {
    const bodies = Array.from({ length: 100 }, (_, i) => orderBody(i));
    expect(bodies.filter((b) => b.items[0]?.sku === "sprocket")).toHaveLength(2);
    expect(bodies.filter((b) => b.payment.card === "4000000000000002")).toHaveLength(5);
    for (const b of bodies) expect(b.payment.card).toMatch(/^[0-9]{12,19}$/);
  });
});
