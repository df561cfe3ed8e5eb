import { describe, expect, it } from "vitest";
import { DEFAULT_RULES, decide, transientFailure } from "../src/processor.ts";

const pay = (card: string, amount: number) => ({ card, amount, currency: "EUR" });

describe("decide", () => {
  it.each([
    { name: "ordinary card, small amount", p: pay("4242424242424242", 1000), outcome: "authorized" },
    { name: "amount at the limit", p: pay("4242424242424242", DEFAULT_RULES.amountLimit), outcome: "authorized" },
    { name: "amount over the limit", p: pay("4242424242424242", DEFAULT_RULES.amountLimit + 1), outcome: "declined", reason: "amount_limit" },
    { name: "test card that is always declined", p: pay("4000000000000002", 100), outcome: "declined", reason: "card_declined" },
    { name: "insufficient funds card", p: pay("4000000000009995", 100), outcome: "declined", reason: "insufficient_funds" },
  ])("$name", ({ p, outcome, reason }) => {
    const d = decide("o1", p, DEFAULT_RULES);
    expect(d.outcome).toBe(outcome);
    if (d.outcome === "declined") expect(d.reason).toBe(reason);
  });

  it("gives the same order the same authorization id, another order another", () => {
    const a = decide("o1", pay("4242424242424242", 1), DEFAULT_RULES);
    const b = decide("o1", pay("4242424242424242", 1), DEFAULT_RULES);
    const c = decide("o2", pay("4242424242424242", 1), DEFAULT_RULES);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe("transientFailure", () => {
  it("never fails at rate 0 and always at rate 1", () => {
    expect(transientFailure("o1", 1, 0)).toBe(false);
    expect(transientFailure("o1", 1, 1)).toBe(true);
  });
  it("fails about `rate` of attempts, reproducibly", () => {
    let n = 0;
    for (let i = 0; i < 2000; i++) if (transientFailure(`o${i}`, 1, 0.25)) n++;
    expect(n).toBeGreaterThan(400);
    expect(n).toBeLessThan(600);
    expect(transientFailure("o7", 2, 0.5)).toBe(transientFailure("o7", 2, 0.5));
  });
});
