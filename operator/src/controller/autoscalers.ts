// The leader's native autoscaler loops, as the EventSubscription reconcile sees them: the
// reconcile says which subscription is scaled how (run), and reads what its loop last
// reported (report) when it writes status. A loop only decides, writes the Deployment's
// scale and records Events; when what it reports changes (or every status refresh) it puts its
// subscription's key back on the queue, so the reconciler stays the one writer of the
// EventSubscription's status and a conflict is the queue's to retry.
import type { Logger } from "pino";
import { objectKey } from "../api/names.ts";
import type { EventSubscription } from "../api/types.ts";
import {
  AutoscalerManager,
  combineReporters,
  createAutoscaleMetrics,
  metricsReporter,
  type AutoscaleStatus,
  type LagSource,
  type ScaleTarget,
  type ScalingTarget,
} from "../autoscale/index.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { Registry } from "prom-client";
import type { Cache } from "./context.ts";

export interface ScalingLoops {
  /** Starts or updates the loop of `key` for `target`, or stops it (undefined). */
  run(key: string, target: ScalingTarget | undefined): void;
  /** What the loop of `key` last reported (undefined before its first poll). */
  report(key: string): AutoscaleStatus | undefined;
}

export interface AutoscalerLoopsDeps {
  lagSource: LagSource;
  scaleTarget: ScaleTarget;
  registry: Registry;
  events: EventRecorder;
  subscriptions: Cache<EventSubscription>;
  /** Puts a subscription's key back on the reconcile queue. */
  requeue: (key: string) => void;
  log: Logger;
}

export class AutoscalerLoops implements ScalingLoops {
  readonly #manager: AutoscalerManager;
  readonly #reports = new Map<string, AutoscaleStatus>();
  readonly #log: Logger;

  constructor(d: AutoscalerLoopsDeps) {
    this.#log = d.log;
    const keyOf = (t: ScalingTarget) => objectKey(t.namespace, t.subscription);
    const reports = this.#reports;
    const kube = {
      status(t: ScalingTarget, s: AutoscaleStatus) {
        const key = keyOf(t);
        reports.set(key, s);
        d.requeue(key);
      },
      event(t: ScalingTarget, e: { type: "Normal" | "Warning"; reason: string; message: string }) {
        const sub = d.subscriptions.get(keyOf(t));
        if (!sub) return;
        if (e.type === "Warning") d.events.warning(sub, e.reason, e.message);
        else d.events.normal(sub, e.reason, e.message);
      },
      forget(t: ScalingTarget) {
        reports.delete(keyOf(t));
      },
    };
    this.#manager = new AutoscalerManager({
      lagSource: d.lagSource,
      scaleTarget: d.scaleTarget,
      reporter: combineReporters(kube, metricsReporter(createAutoscaleMetrics(d.registry))),
      onError: (t, err) => d.log.warn({ object: keyOf(t), err: (err as Error).message }, "autoscaler"),
    });
  }

  run(key: string, target: ScalingTarget | undefined): void {
    const done = target ? this.#manager.upsert(key, target) : this.#manager.remove(key);
    done.catch((err: Error) => this.#log.warn({ object: key, err: err.message }, "autoscaler start/stop failed"));
  }

  report(key: string): AutoscaleStatus | undefined {
    return this.#reports.get(key);
  }

  /** Stops every loop (shutdown, or leadership lost). */
  async stopAll(): Promise<void> {
    await this.#manager.stopAll();
    this.#reports.clear();
  }
}
