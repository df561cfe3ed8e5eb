// Deletion as the real control plane does it: finalizers and deletionTimestamp, propagation
// policies, background garbage collection of objects whose owners are gone, and the
// namespace and CRD cleanup that removes their contents before they go themselves.
import { clone, type JsonObject, type KubeObject, type ResourceType, storageKey } from "./types.ts";
import type { Store } from "./store.ts";

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export interface ReaperDeps {
  store: Store;
  /** Any served type of a storage key. */
  typeOfKey(key: string): ResourceType | undefined;
  type(group: string, version: string, plural: string): ResourceType | undefined;
  unregisterCrd(name: string): void;
}

export class Reaper {
  private readonly deps: ReaperDeps;
  private readonly store: Store;
  private gcTimer: NodeJS.Timeout | undefined;

  constructor(deps: ReaperDeps) {
    this.deps = deps;
    this.store = deps.store;
  }

  stop(): void {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.gcTimer = undefined;
  }

  /** Deletes now, or marks deletionTimestamp when finalizers hold the object. */
  deleteObject(rt: ResourceType, current: KubeObject, policy: string): KubeObject {
    const key = storageKey(rt);
    if (policy === "Orphan") this.orphanDependents(current);
    if (policy === "Foreground") this.deleteDependents(current);
    const isNamespace = rt.group === "" && rt.plural === "namespaces";
    const isCrd = rt.group === "apiextensions.k8s.io";
    if ((current.metadata.finalizers ?? []).length > 0 || isNamespace || isCrd) {
      if (current.metadata.deletionTimestamp) return current;
      const next = clone(current);
      next.metadata.deletionTimestamp = now();
      next.metadata.deletionGracePeriodSeconds = 0;
      if (isNamespace) next.status = { ...(next.status as JsonObject), phase: "Terminating" };
      const stored = this.store.put(key, next, "MODIFIED");
      if (isNamespace) this.terminateNamespace(stored);
      else if (isCrd) this.terminateCrd(stored);
      if ((stored.metadata.finalizers ?? []).length === 0 && this.store.get(key, stored.metadata.namespace, stored.metadata.name!)) {
        return this.removeNow(rt, stored);
      }
      return this.store.get(key, stored.metadata.namespace, stored.metadata.name!) ?? stored;
    }
    return this.removeNow(rt, current);
  }

  removeNow(rt: ResourceType, obj: KubeObject): KubeObject {
    const key = storageKey(rt);
    const gone = this.store.remove(key, obj);
    if (rt.group === "apiextensions.k8s.io") this.deps.unregisterCrd(obj.metadata.name!);
    this.afterRemoval(obj);
    return gone;
  }

  private afterRemoval(obj: KubeObject): void {
    this.scheduleGc();
    // A terminating namespace or CRD goes away once it is empty.
    if (obj.metadata.namespace) {
      const ns = this.store.get("/namespaces", undefined, obj.metadata.namespace);
      if (ns?.metadata.deletionTimestamp) setImmediate(() => this.finishNamespace(ns.metadata.name!));
    }
    for (const crd of this.store.list("apiextensions.k8s.io/customresourcedefinitions")) {
      if (crd.metadata.deletionTimestamp) setImmediate(() => this.finishCrd(crd.metadata.name!));
    }
  }

  private terminateNamespace(ns: KubeObject): void {
    const name = ns.metadata.name!;
    for (const key of this.store.keys()) {
      const rt = this.deps.typeOfKey(key);
      if (!rt?.namespaced) continue;
      for (const o of this.store.list(key, name)) this.deleteObject(rt, o, "Background");
    }
    this.finishNamespace(name);
  }

  private finishNamespace(name: string): void {
    const ns = this.store.get("/namespaces", undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    const empty = this.store.keys().every((k) => this.store.list(k, name).length === 0 || !this.deps.typeOfKey(k)?.namespaced);
    if (!empty) return;
    const rt = this.deps.type("", "v1", "namespaces")!;
    if ((ns.metadata.finalizers ?? []).length === 0) this.removeNow(rt, ns);
  }

  private terminateCrd(crd: KubeObject): void {
    const spec = crd.spec as { group: string; names: { plural: string } };
    const key = `${spec.group}/${spec.names.plural}`;
    const rt = this.deps.typeOfKey(key);
    if (rt) for (const o of this.store.list(key)) this.deleteObject(rt, o, "Background");
    this.finishCrd(crd.metadata.name!);
  }

  private finishCrd(name: string): void {
    const crd = this.store.get("apiextensions.k8s.io/customresourcedefinitions", undefined, name);
    if (!crd?.metadata.deletionTimestamp) return;
    const spec = crd.spec as { group: string; names: { plural: string } };
    if (this.store.list(`${spec.group}/${spec.names.plural}`).length > 0) return;
    if ((crd.metadata.finalizers ?? []).length === 0) this.removeNow(this.deps.type("apiextensions.k8s.io", "v1", "customresourcedefinitions")!, crd);
  }

  private dependentsOf(owner: KubeObject): { rt: ResourceType; obj: KubeObject }[] {
    const out: { rt: ResourceType; obj: KubeObject }[] = [];
    for (const key of this.store.keys()) {
      const rt = this.deps.typeOfKey(key);
      if (!rt) continue;
      for (const o of this.store.list(key)) {
        if (o.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid)) out.push({ rt, obj: o });
      }
    }
    return out;
  }

  private orphanDependents(owner: KubeObject): void {
    for (const { rt, obj } of this.dependentsOf(owner)) {
      const next = clone(obj);
      next.metadata.ownerReferences = (next.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
      if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
      this.store.put(storageKey(rt), next, "MODIFIED");
    }
  }

  private deleteDependents(owner: KubeObject): void {
    for (const { rt, obj } of this.dependentsOf(owner)) this.deleteObject(rt, obj, "Background");
  }

  scheduleGc(): void {
    if (this.gcTimer) return;
    // Background garbage collection is asynchronous in the real cluster, too.
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      this.collectGarbage();
    }, 10);
    this.gcTimer.unref();
  }

  /** Deletes every object whose owners are all gone (background propagation). */
  private collectGarbage(): void {
    for (const key of this.store.keys()) {
      const rt = this.deps.typeOfKey(key);
      if (!rt) continue;
      for (const o of this.store.list(key)) {
        const refs = o.metadata.ownerReferences ?? [];
        if (refs.length === 0 || o.metadata.deletionTimestamp) continue;
        if (refs.every((r) => !this.store.hasUid(r.uid))) this.deleteObject(rt, o, "Background");
      }
    }
  }
}
