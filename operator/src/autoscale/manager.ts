// Keeps one SubscriptionAutoscaler per EventSubscription key, as the reconciler says:
// upsert(key, target) after each successful reconcile, remove(key) on delete (or when the
// subscription no longer names a subscriber). Only the leader should hold any.
import { SubscriptionAutoscaler, sameScaleSubject, type AutoscalerDeps } from "./autoscaler.ts";
import type { ScalingTarget } from "./types.ts";

export class AutoscalerManager {
  readonly #deps: AutoscalerDeps;
  readonly #autoscalers = new Map<string, SubscriptionAutoscaler>();

  constructor(deps: AutoscalerDeps) {
    this.#deps = deps;
  }

  /** Starts an autoscaler for `key`, or updates its policy in place (keeping measured rates). */
  async upsert(key: string, target: ScalingTarget): Promise<void> {
    const existing = this.#autoscalers.get(key);
    if (existing && sameScaleSubject(existing.target, target)) {
      existing.update(target);
      return;
    }
    if (existing) {
      // Another consumer or Deployment: what was measured no longer applies.
      await existing.stop();
      this.#deps.reporter.forget?.(existing.target);
    }
    const a = new SubscriptionAutoscaler(target, this.#deps);
    this.#autoscalers.set(key, a);
    a.start();
  }

  /** Stops and forgets the autoscaler for `key` (its metric series are removed). Idempotent. */
  async remove(key: string): Promise<void> {
    const a = this.#autoscalers.get(key);
    if (!a) return;
    this.#autoscalers.delete(key);
    await a.stop();
    this.#deps.reporter.forget?.(a.target);
  }

  /** Stops everything (shutdown, or leadership lost). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#autoscalers.keys()].map((k) => this.remove(k)));
  }

  has(key: string): boolean {
    return this.#autoscalers.has(key);
  }

  get size(): number {
    return this.#autoscalers.size;
  }
}
