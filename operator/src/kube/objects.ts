// Writes the reconcilers make to their own objects: status (via the status subresource, so a
// status write never bumps generation; guarded by resourceVersion) and finalizers (merge patch carrying the
// resourceVersion read, so a concurrent change makes it fail with 409 and retry instead of
// silently dropping someone else's finalizer).
import type { KubeRest, ResourceRef } from "./rest.ts";

export interface OwnObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; finalizers?: string[] };
}

export interface ObjectWriter {
  patchStatus<T extends OwnObject>(ref: ResourceRef, obj: T, status: unknown): Promise<T>;
  setFinalizers<T extends OwnObject>(ref: ResourceRef, obj: T, finalizers: string[]): Promise<T>;
}

export function kubeObjectWriter(rest: KubeRest): ObjectWriter {
  return {
    patchStatus(ref, obj, status) {
      // The resourceVersion makes this fail (409) rather than overwrite conditions another
      // writer (the autoscaler) added since our copy was read; the queue retries with fresh data.
      return rest.patch(
        ref,
        obj.metadata.namespace,
        obj.metadata.name,
        { metadata: { resourceVersion: obj.metadata.resourceVersion }, status },
        "merge",
        "status",
      );
    },
    setFinalizers(ref, obj, finalizers) {
      return rest.patch(ref, obj.metadata.namespace, obj.metadata.name, {
        metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion },
      });
    },
  };
}
