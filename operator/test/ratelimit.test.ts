import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TokenBucket } from "../src/kube/ratelimit.ts";

describe("client-side rate limiter (client-go's token bucket)", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const clock = () => Date.now();

  /** Starts `n` requests now; records when (ms after start) each got its token, by index. */
  function requests(bucket: TokenBucket, n: number, start: number, got: Map<number, number>, offset = 0): Promise<number[]> {
    return Promise.all(
      Array.from({ length: n }, (_, i) =>
        bucket.take().then((waited) => {
          got.set(offset + i, Date.now() - start);
          return waited;
        }),
      ),
    );
  }

  it("lets a burst through at once, then paces the rest at QPS", async () => {
    const bucket = new TokenBucket({ qps: 10, burst: 5, now: clock });
    const start = Date.now();
    const got = new Map<number, number>();
    const all = requests(bucket, 8, start, got);
    await vi.advanceTimersByTimeAsync(0);
    // The five of the burst without waiting; the next three one token (100 ms) apart.
    expect([...got.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 0],
    ]);
    await vi.advanceTimersByTimeAsync(300);
    expect(got.get(5)).toBe(100);
    expect(got.get(6)).toBe(200);
    expect(got.get(7)).toBe(300);
    expect(await all).toEqual([0, 0, 0, 0, 0, 0.1, 0.2, 0.3]);
  });

  it("refills at QPS up to the burst while idle", async () => {
    const bucket = new TokenBucket({ qps: 10, burst: 3, now: clock });
    await Promise.all([bucket.take(), bucket.take(), bucket.take()]);
    // Half a second idle refills five tokens' worth, but the bucket holds three.
    await vi.advanceTimersByTimeAsync(500);
    const start = Date.now();
    const got = new Map<number, number>();
    const all = requests(bucket, 4, start, got);
    await vi.advanceTimersByTimeAsync(0);
    expect(got.size).toBe(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(got.get(3)).toBe(100);
    await all;
    // 150 ms later one and a half tokens are back: one request goes at once, the next waits 50 ms.
    await vi.advanceTimersByTimeAsync(150);
    const later = new Map<number, number>();
    const t = Date.now();
    const two = requests(bucket, 2, t, later);
    await vi.advanceTimersByTimeAsync(100);
    expect(later.get(0)).toBe(0);
    expect(later.get(1)).toBe(50);
    await two;
  });

  it("serves waiting requests in the order they asked (FIFO), never letting a late one overtake", async () => {
    const bucket = new TokenBucket({ qps: 4, burst: 1, now: clock });
    const order: string[] = [];
    const ask = (name: string) => bucket.take().then(() => order.push(name));
    const first = [ask("a"), ask("b"), ask("c")];
    await vi.advanceTimersByTimeAsync(100);
    expect(order).toEqual(["a"]);
    // A lease renewal asking while b and c wait goes after them, not before, and not starved.
    const lease = ask("lease");
    expect(bucket.waiting).toBe(3);
    await vi.advanceTimersByTimeAsync(150);
    expect(order).toEqual(["a", "b"]);
    await vi.advanceTimersByTimeAsync(500);
    await Promise.all([...first, lease]);
    expect(order).toEqual(["a", "b", "c", "lease"]);
    expect(bucket.waiting).toBe(0);
  });

  it("holds the rate over a long run: 1,000 requests at 100 QPS, burst 10, take 9.9 s", async () => {
    const bucket = new TokenBucket({ qps: 100, burst: 10, now: clock });
    const start = Date.now();
    let done = 0;
    const all = Array.from({ length: 1000 }, () => bucket.take().then(() => done++));
    await vi.advanceTimersByTimeAsync(5000);
    // 10 from the burst and 100 per second after.
    expect(done).toBe(510);
    await vi.advanceTimersByTimeAsync(4900);
    await Promise.all(all);
    expect(Date.now() - start).toBe(9900);
  });

  it("refuses a bucket that could never hand out a token", () => {
    expect(() => new TokenBucket({ qps: 0, burst: 1 })).toThrow(/qps must be a positive number/);
    expect(() => new TokenBucket({ qps: 1, burst: 0 })).toThrow(/burst must be an integer ≥ 1/);
  });
});
