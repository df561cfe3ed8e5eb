// Finalizer bookkeeping shared by both reconcilers.
import { FINALIZER } from "../api/types.ts";
import type { ObjectWriter, OwnObject } from "../kube/objects.ts";
import type { ResourceRef } from "../kube/rest.ts";

export async function ensureFinalizer<T extends OwnObject>(writer: ObjectWriter, ref: ResourceRef, obj: T): Promise<T> {
  const list = obj.metadata.finalizers ?? [];
  if (list.includes(FINALIZER)) return obj;
  return writer.setFinalizers(ref, obj, [...list, FINALIZER]);
}

export async function removeFinalizer<T extends OwnObject>(writer: ObjectWriter, ref: ResourceRef, obj: T): Promise<void> {
  const list = obj.metadata.finalizers ?? [];
  if (!list.includes(FINALIZER)) return;
  await writer.setFinalizers(
    ref,
    obj,
    list.filter((f) => f !== FINALIZER),
  );
}

export function hasFinalizer(obj: OwnObject): boolean {
  return (obj.metadata.finalizers ?? []).includes(FINALIZER);
}
