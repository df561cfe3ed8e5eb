// A placed event whose first publish failed is published again until it goes through,
// once per order, and a full queue gives up its oldest order rather than growing.
import { describe, expect, it } from "vitest";
import { waitFor } from "@jetmesh/testing";
import { PlacedRetry } from "../src/placed-retry.ts";

describe("PlacedRetry", () => {
  it("retries a failing publish with backoff until it succeeds, and reports it", async () => {
    const published: [string, number][] = [];
    const retry = new PlacedRetry({ initialDelayMs: 5, maxDelayMs: 20, onPublished: (id, n) => published.push([id, n]) });
    let calls = 0;
    retry.add("o1", async () => {
      calls++;
      if (calls < 3) throw new Error("no responders");
    });
    retry.add("o1", async () => {
      throw new Error("a second add for the same order is ignored");
    });
    await waitFor("o1 published", () => published.length === 1, { timeoutMs: 5_000, intervalMs: 5 });
    expect(published).toEqual([["o1", 3]]);
    expect(retry.pending).toBe(0);
    retry.stop();
  });

  it("gives up the oldest order when full, and stop() ends every retry", async () => {
    const gaveUp: string[] = [];
    const retry = new PlacedRetry({ initialDelayMs: 5, maxPending: 2, onGiveUp: (id) => gaveUp.push(id) });
    const failing = async () => {
      throw new Error("down");
    };
    retry.add("a", failing);
    retry.add("b", failing);
    retry.add("c", failing);
    expect(gaveUp).toEqual(["a"]);
    expect(retry.pending).toBe(2);
    retry.stop();
    expect(retry.pending).toBe(0);
  });
});
