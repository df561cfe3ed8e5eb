// The scaling step of the EventSubscription reconcile. From the spec (and the status, for the
// replica count JetMesh last asked for — it survives an operator restart there):
// - native: the subscription's loop runs (controller/autoscalers.ts) and its last report
//   becomes the Scaling condition, `replicas`, `lastScaleTime`, `lastScaleReason`;
// - keda / hpa: the ScaledObject or HPA is created or updated (controller/scaler-objects.ts),
//   and the loop runs only to report lag (and export the metric the HPA reads);
// - no subscriber Deployment: nothing runs, nothing is rendered, no Scaling condition.
// A rendered object of a mode no longer in use is deleted. Pure apart from the two edges it
// is handed; the reconciler writes what it returns.
import type { ConditionInput } from "../api/conditions.ts";
import { objectKey } from "../api/names.ts";
import type { EventSubscription } from "../api/types.ts";
import {
  renderHorizontalPodAutoscaler,
  renderScaledObject,
  renderedName,
  scalingTargetFor,
  ScalingSpecError,
  type AutoscaleStatus,
} from "../autoscale/index.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { ScalingLoops } from "./autoscalers.ts";
import { HPAS, SCALED_OBJECTS, type ConvergeResult, type RenderedObject, type ScalerObjects } from "./scaler-objects.ts";

export interface ScalingAccess {
  loops: ScalingLoops;
  objects: ScalerObjects;
  /** host:port of the NATS monitoring endpoint (KEDA's trigger reads it); mode keda needs it. */
  natsMonitoringEndpoint: string | undefined;
}

/** The scaling part of the EventSubscription status; undefined fields are left as they are. */
export interface ScalingStatus {
  /** The Scaling condition; null removes it (nothing to scale). */
  condition: ConditionInput | null | undefined;
  replicas?: AutoscaleStatus["replicas"];
  lastScaleTime?: string;
  lastScaleReason?: string;
}

const DELEGATED = new Set(["DelegatedToKeda", "DelegatedToHpa", "KedaNotConfigured"]);

export async function reconcileScaling(s: ScalingAccess, events: EventRecorder, obj: EventSubscription): Promise<ScalingStatus> {
  const { namespace, name, uid } = obj.metadata;
  const key = objectKey(namespace, name);
  let target;
  try {
    target = scalingTargetFor(namespace, name, obj.spec, obj.status);
  } catch (err) {
    if (!(err instanceof ScalingSpecError)) throw err;
    s.loops.run(key, undefined);
    return { condition: { type: "Scaling", status: "False", reason: "InvalidSpec", message: err.message } };
  }
  const mode = target?.policy.mode;
  const previous = obj.status?.conditions?.find((c) => c.type === "Scaling");
  // Only a subscription that rendered something before can have something to delete: no
  // reads on the hot path of native subscriptions.
  if (previous && DELEGATED.has(previous.reason)) {
    const rendered = renderedName(name);
    if (mode !== "keda" && (await s.objects.remove(SCALED_OBJECTS, namespace, rendered, uid)))
      events.normal(obj, "ScalerDeleted", `deleted ScaledObject ${rendered}: scaling.mode is ${mode ?? "unset"} now`);
    if (mode !== "hpa" && (await s.objects.remove(HPAS, namespace, rendered, uid)))
      events.normal(obj, "ScalerDeleted", `deleted HorizontalPodAutoscaler ${rendered}: scaling.mode is ${mode ?? "unset"} now`);
  }
  s.loops.run(key, target);
  if (!target) return { condition: null };

  const owner = { apiVersion: obj.apiVersion, kind: obj.kind, name, uid: uid ?? "" };
  if (mode === "keda") {
    if (!s.natsMonitoringEndpoint) {
      return {
        condition: {
          type: "Scaling",
          status: "False",
          reason: "KedaNotConfigured",
          message: "mode keda needs the operator's NATS_MONITORING_ENDPOINT (host:port of the NATS monitoring port) for the ScaledObject's trigger",
        },
      };
    }
    note(
      events,
      obj,
      "ScaledObject",
      await s.objects.converge(SCALED_OBJECTS, renderScaledObject(target, { natsServerMonitoringEndpoint: s.natsMonitoringEndpoint, owner })),
    );
  } else if (mode === "hpa") {
    note(events, obj, "HorizontalPodAutoscaler", await s.objects.converge(HPAS, renderHorizontalPodAutoscaler(target, { owner }) satisfies RenderedObject));
  }
  const report = s.loops.report(key);
  if (!report) return { condition: undefined };
  return {
    condition: report.condition,
    ...(report.replicas ? { replicas: report.replicas } : {}),
    ...(report.lastScaleTime ? { lastScaleTime: report.lastScaleTime, lastScaleReason: report.lastScaleReason } : {}),
  };
}

function note(events: EventRecorder, obj: EventSubscription, kind: string, result: ConvergeResult): void {
  const name = renderedName(obj.metadata.name);
  if (result === "created") events.normal(obj, "ScalerCreated", `created ${kind} ${name} from spec.scaling (mode ${obj.spec.scaling?.mode})`);
  else if (result === "updated") events.normal(obj, "ScalerUpdated", `${kind} ${name} did not match spec.scaling (edited, or the spec changed); restored it`);
}
