// A deterministic simulated payment processor. The same order always gets the same answer,
// so a redelivered authorization request cannot turn into a different (or second) charge.
import { createHash } from "node:crypto";
import type { DeclineReason, PaymentDetails } from "@jetmesh/shop";

export interface ProcessorRules {
  /** Amounts above this (minor units) are declined with amount_limit. */
  amountLimit: number;
  /** Card numbers that are always declined (card_declined). */
  declinedCards: ReadonlySet<string>;
  /** Card numbers declined for insufficient funds. */
  insufficientFundsCards: ReadonlySet<string>;
}

export const DEFAULT_RULES: ProcessorRules = {
  amountLimit: 1_000_000,
  declinedCards: new Set(["4000000000000002"]),
  insufficientFundsCards: new Set(["4000000000009995"]),
};

export type Decision = { outcome: "authorized"; authorizationId: string } | { outcome: "declined"; reason: DeclineReason };

export function decide(orderId: string, payment: PaymentDetails, rules: ProcessorRules): Decision {
  if (rules.declinedCards.has(payment.card)) return { outcome: "declined", reason: "card_declined" };
  if (rules.insufficientFundsCards.has(payment.card)) return { outcome: "declined", reason: "insufficient_funds" };
  if (payment.amount > rules.amountLimit) return { outcome: "declined", reason: "amount_limit" };
  // The order id is the processor's idempotency key: the authorization id derives from it.
  return { outcome: "authorized", authorizationId: `auth-${digest(orderId).slice(0, 20)}` };
}

/**
 * Whether this attempt hits a simulated transient processor failure. Derived from the order
 * and the delivery count, so a test run is reproducible and a retry can succeed.
 */
export function transientFailure(orderId: string, deliveryCount: number, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  const h = digest(`${orderId}#${deliveryCount}`);
  return parseInt(h.slice(0, 8), 16) / 0x1_0000_0000 < rate;
}

function digest(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}
