// The KEDA ScaledObjects and HPAs the EventSubscription reconcile renders (mode keda / hpa),
// kept like any owned object in controller-runtime: create-or-update on every reconcile and
// resync (so an object deleted or edited out of band is put back), owned by the subscription
// (ownerReferences: garbage-collected with it), and watched — a change or deletion of one
// requeues its subscription at once (label jetmesh.io/subscription), so drift is repaired
// within seconds, and by the next resync at the latest.
//
// The watch of a kind starts the first time a subscription asks for that mode, so a cluster
// without KEDA (or an operator without the optional renderedScalers RBAC) never lists it.
import type { Logger } from "pino";
import { SUBSCRIPTION_LABEL, type RenderedMetadata } from "../autoscale/render.ts";
import { Informer, type InformerOptions, type KubeObject } from "../kube/informer.ts";
import { isNotFound, type KubeRest, type ResourceRef } from "../kube/rest.ts";

export const SCALED_OBJECTS: ResourceRef = { group: "keda.sh", version: "v1alpha1", plural: "scaledobjects" };
export const HPAS: ResourceRef = { group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers" };

export interface RenderedObject {
  metadata: RenderedMetadata;
}

interface LiveObject extends KubeObject {
  metadata: KubeObject["metadata"] & { resourceVersion?: string; labels?: Record<string, string>; ownerReferences?: { uid: string }[] };
}

export type ConvergeResult = "created" | "updated" | "unchanged";

/**
 * Pure: does `actual` hold everything `desired` says? Objects are compared key by key (keys
 * only in `actual` are the API server's defaults, e.g. an HPA's scaleUp policies, and do not
 * count), arrays element by element with equal length, scalars by value.
 */
export function holds(actual: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && actual.length === desired.length && desired.every((d, i) => holds(actual[i], d));
  }
  if (desired !== null && typeof desired === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => v === undefined || holds(a[k], v));
  }
  return actual === desired;
}

export class ScalerObjects {
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #informerOptions: InformerOptions;
  readonly #onChange: (subscriptionKey: string) => void;
  readonly #watches = new Map<string, Informer<LiveObject>>();

  /** `onChange` gets `<namespace>/<subscription>` of a rendered object that changed or went away. */
  constructor(rest: KubeRest, informerOptions: InformerOptions, log: Logger, onChange: (subscriptionKey: string) => void) {
    this.#rest = rest;
    this.#informerOptions = informerOptions;
    this.#log = log;
    this.#onChange = onChange;
  }

  #watch(ref: ResourceRef): void {
    if (this.#watches.has(ref.plural)) return;
    const informer = new Informer<LiveObject>(
      this.#rest,
      ref,
      (_type, obj) => {
        const sub = obj.metadata.labels?.[SUBSCRIPTION_LABEL];
        if (sub && obj.metadata.namespace) this.#onChange(`${obj.metadata.namespace}/${sub}`);
      },
      this.#informerOptions,
      this.#log,
    );
    this.#watches.set(ref.plural, informer);
    informer.start();
  }

  /**
   * Makes the object exist as rendered: created when missing, replaced (at the live
   * resourceVersion, so a concurrent edit is a conflict for the queue) when it lacks anything
   * rendered. Reads the live object, not a cache: this is what repairs drift.
   */
  async converge(ref: ResourceRef, desired: RenderedObject): Promise<ConvergeResult> {
    this.#watch(ref);
    const { namespace, name } = desired.metadata;
    const live = await this.#get(ref, namespace, name);
    if (!live) {
      await this.#rest.create(ref, namespace, desired);
      return "created";
    }
    if (holds(live, desired)) return "unchanged";
    await this.#rest.replace(ref, namespace, name, { ...desired, metadata: { ...desired.metadata, resourceVersion: live.metadata.resourceVersion } });
    return "updated";
  }

  /** Deletes the object if it exists and belongs to the subscription with `ownerUid`; true if it did. */
  async remove(ref: ResourceRef, namespace: string, name: string, ownerUid: string | undefined): Promise<boolean> {
    // A kind that is not installed (no KEDA CRD) answers 404 as well: nothing to remove.
    const live = await this.#get(ref, namespace, name);
    if (!live || !live.metadata.ownerReferences?.some((o) => o.uid === ownerUid)) return false;
    await this.#rest.delete(ref, namespace, name).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    return true;
  }

  async #get(ref: ResourceRef, namespace: string, name: string): Promise<LiveObject | undefined> {
    try {
      return await this.#rest.get<LiveObject>(ref, namespace, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#watches.values()].map((w) => w.stop()));
    this.#watches.clear();
  }
}
