// Server-side apply (application/apply-patch+yaml), simplified but faithful where kubectl
// notices: each Apply manager owns the fields of its last applied configuration (recorded in
// metadata.managedFields as FieldsV1); applying merges the configuration into the live
// object (maps recursively, list-map lists by key, other lists atomically), removes fields
// the manager no longer applies (unless another manager owns them), and reports conflicts
// with other Apply managers' differing values (409) unless force=true.
// Non-apply writes record Update ownership of the fields they change (recordUpdate), so an
// apply that changes a field last written by, say, the autoscaler conflicts, as on a real server.
import { ApiError } from "./errors.ts";
import { clone, isObject, type Json, type JsonObject, type KubeObject, type ManagedFieldsEntry } from "./types.ts";

type Schema = JsonObject | undefined;

const BUILTIN_LIST_KEYS: Record<string, string[]> = {
  containers: ["name"],
  initContainers: ["name"],
  env: ["name"],
  volumes: ["name"],
  volumeMounts: ["mountPath"],
  conditions: ["type"],
  imagePullSecrets: ["name"],
};

function sub(s: Schema, k: string): Schema {
  if (!s) return undefined;
  const p = isObject(s.properties) ? s.properties[k] : undefined;
  if (isObject(p)) return p;
  return isObject(s.additionalProperties) ? s.additionalProperties : undefined;
}

function listKeys(s: Schema, field: string, builtin: boolean): string[] | undefined {
  if (s && s["x-kubernetes-list-type"] === "map" && Array.isArray(s["x-kubernetes-list-map-keys"])) return s["x-kubernetes-list-map-keys"].map(String);
  if (builtin || field === "conditions") return BUILTIN_LIST_KEYS[field];
  return undefined;
}

const keyPE = (e: JsonObject, keys: string[]) => `k:${JSON.stringify(Object.fromEntries(keys.map((k) => [k, e[k] ?? null])))}`;

/** Leaf field paths (each a list of path elements: f:<name> / k:<keys>) of an applied config. */
function fieldPaths(v: Json, s: Schema, prefix: string[], field: string, builtin: boolean, out: Map<string, string[]>): void {
  if (isObject(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) fieldPaths(x, sub(s, k), [...prefix, `f:${k}`], k, builtin, out);
    return;
  }
  const keys = Array.isArray(v) ? listKeys(s, field, builtin) : undefined;
  if (Array.isArray(v) && keys && v.every(isObject)) {
    const items = isObject(s?.items) ? s.items : undefined;
    for (const e of v as JsonObject[]) {
      const p = [...prefix, keyPE(e, keys)];
      out.set(JSON.stringify([...p, "."]), [...p, "."]);
      for (const [k, x] of Object.entries(e)) fieldPaths(x, sub(items, k), [...p, `f:${k}`], k, builtin, out);
    }
    return;
  }
  out.set(JSON.stringify(prefix), prefix);
}

function appliedPaths(applied: JsonObject, s: Schema, builtin: boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, x] of Object.entries(applied)) {
    if (k === "apiVersion" || k === "kind" || k === "status") continue;
    if (k === "metadata" && isObject(x)) {
      for (const mk of ["labels", "annotations"]) {
        if (isObject(x[mk]))
          for (const lk of Object.keys(x[mk])) out.set(JSON.stringify(["f:metadata", `f:${mk}`, `f:${lk}`]), ["f:metadata", `f:${mk}`, `f:${lk}`]);
      }
      if (Array.isArray(x.finalizers))
        for (const f of x.finalizers)
          out.set(JSON.stringify(["f:metadata", "f:finalizers", `v:${JSON.stringify(f)}`]), ["f:metadata", "f:finalizers", `v:${JSON.stringify(f)}`]);
      continue;
    }
    fieldPaths(x, sub(s, k), [`f:${k}`], k, builtin, out);
  }
  return out;
}

export function toFieldsV1(paths: Iterable<string[]>): JsonObject {
  const root: JsonObject = {};
  for (const p of paths) {
    let cur = root;
    for (const pe of p) {
      if (!isObject(cur[pe])) cur[pe] = {};
      cur = cur[pe] as JsonObject;
    }
  }
  return root;
}

export function fromFieldsV1(f: JsonObject, prefix: string[] = [], out = new Map<string, string[]>()): Map<string, string[]> {
  const entries = Object.entries(f);
  if (entries.length === 0 && prefix.length > 0) out.set(JSON.stringify(prefix), prefix);
  for (const [pe, child] of entries) fromFieldsV1(isObject(child) ? child : {}, [...prefix, pe], out);
  return out;
}

/** Navigates one path element; returns undefined when absent. */
function step(v: Json | undefined, pe: string): Json | undefined {
  if (pe.startsWith("f:")) return isObject(v) ? v[pe.slice(2)] : undefined;
  if (pe.startsWith("k:") && Array.isArray(v)) {
    const key = JSON.parse(pe.slice(2)) as JsonObject;
    return v.find((e) => isObject(e) && Object.entries(key).every(([k, x]) => JSON.stringify(e[k] ?? null) === JSON.stringify(x)));
  }
  if (pe.startsWith("v:") && Array.isArray(v)) return v.find((e) => JSON.stringify(e) === pe.slice(2));
  return undefined;
}

function valueAt(v: Json, path: string[]): Json | undefined {
  let cur: Json | undefined = v;
  for (const pe of path) {
    if (pe === ".") return cur;
    cur = step(cur, pe);
    if (cur === undefined) return undefined;
  }
  return cur;
}

function removeAt(root: Json, path: string[]): void {
  const p = path[path.length - 1] === "." ? path.slice(0, -1) : path;
  const parent = valueAt(root, p.slice(0, -1));
  const last = p[p.length - 1]!;
  if (last.startsWith("f:") && isObject(parent)) delete parent[last.slice(2)];
  else if (Array.isArray(parent)) {
    const el = step(parent, last);
    const i = parent.indexOf(el as Json);
    if (i >= 0) parent.splice(i, 1);
  }
}

function merge(live: Json | undefined, applied: Json, s: Schema, field: string, builtin: boolean): Json {
  if (isObject(applied)) {
    const out: JsonObject = isObject(live) ? clone(live) : {};
    for (const [k, x] of Object.entries(applied)) out[k] = merge(out[k], x, sub(s, k), k, builtin);
    return out;
  }
  const keys = Array.isArray(applied) ? listKeys(s, field, builtin) : undefined;
  if (Array.isArray(applied) && keys && Array.isArray(live) && applied.every(isObject)) {
    const out = clone(live);
    const items = isObject(s?.items) ? s.items : undefined;
    for (const e of applied as JsonObject[]) {
      const i = out.findIndex((x) => isObject(x) && keyPE(x, keys) === keyPE(e, keys));
      if (i >= 0) out[i] = merge(out[i], e, items, field, builtin);
      else out.push(clone(e));
    }
    return out;
  }
  if (field === "finalizers" && Array.isArray(applied) && Array.isArray(live)) {
    return [...live, ...applied.filter((x) => !live.some((l) => JSON.stringify(l) === JSON.stringify(x)))];
  }
  return clone(applied);
}

export interface ApplyInput {
  live: KubeObject | undefined;
  applied: JsonObject;
  manager: string;
  force: boolean;
  schema: Schema;
  builtin: boolean;
  apiVersion: string;
  /** For 409 messages */
  describe: string;
}

/** Computes the object after applying; throws 409 on conflicts with other Apply managers. */
export function serverSideApply(inp: ApplyInput): KubeObject {
  const { live, applied, manager } = inp;
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const newPaths = appliedPaths(applied, inp.schema, inp.builtin);
  const entries: ManagedFieldsEntry[] = clone(live?.metadata.managedFields ?? []);
  const mine = entries.find((e) => e.manager === manager && e.operation === "Apply" && !e.subresource);
  const prevPaths = mine ? fromFieldsV1(mine.fieldsV1) : new Map<string, string[]>();
  const conflicts: { manager: string; path: string[] }[] = [];
  const base: Json = live ? (clone(live) as unknown as Json) : {};
  for (const e of entries) {
    if (e === mine) continue;
    const theirs = fromFieldsV1(e.fieldsV1);
    for (const [k, p] of newPaths) {
      if (!theirs.has(k) || p[p.length - 1] === ".") continue;
      const cur = valueAt(base, p);
      const want = valueAt(applied, p);
      if (JSON.stringify(cur) !== JSON.stringify(want)) {
        if (inp.force) theirs.delete(k);
        else
          conflicts.push({
            manager:
              e.operation === "Apply" ? `"${e.manager}"` : `"${e.manager}"${e.subresource ? ` with subresource "${e.subresource}"` : ""} using ${e.apiVersion}`,
            path: p,
          });
      }
    }
    if (inp.force) e.fieldsV1 = toFieldsV1(theirs.values());
  }
  if (conflicts.length > 0) {
    const fmt = (p: string[]) =>
      p
        .map((pe) =>
          pe.startsWith("f:")
            ? `.${pe.slice(2)}`
            : pe.startsWith("k:")
              ? `[${pe
                  .slice(2)
                  .replace(/^\{|\}$/g, "")
                  .replace(/"/g, "")}]`
              : "",
        )
        .join("");
    const causes = conflicts.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with ${c.manager}: ${fmt(c.path)}`, field: fmt(c.path) }));
    const msg = `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${causes.map((c) => c.message).join("\n")}`;
    throw new ApiError(409, "Conflict", msg, { causes });
  }
  const appliedBody = clone(applied);
  delete appliedBody.status;
  let result = merge(base, appliedBody, inp.schema, "", inp.builtin) as JsonObject;
  // Fields this manager applied before but not now are removed, unless someone else owns them.
  const othersOwn = new Set<string>();
  for (const e of entries) if (e !== mine) for (const k of fromFieldsV1(e.fieldsV1).keys()) othersOwn.add(k);
  for (const [k, p] of prevPaths) {
    if (newPaths.has(k) || othersOwn.has(k)) continue;
    if (p[0] === "f:metadata" && p[1] !== "f:labels" && p[1] !== "f:annotations" && p[1] !== "f:finalizers") continue;
    removeAt(result, p);
  }
  result = result as JsonObject;
  const entry: ManagedFieldsEntry = {
    manager,
    operation: "Apply",
    apiVersion: inp.apiVersion,
    time: now,
    fieldsType: "FieldsV1",
    fieldsV1: toFieldsV1(newPaths.values()),
  };
  const kept = entries.filter((e) => e !== mine && Object.keys(e.fieldsV1).length > 0);
  const obj = result as unknown as KubeObject;
  obj.metadata = { ...(obj.metadata ?? {}), managedFields: [...kept, entry] };
  return obj;
}

/** Leaf field paths of a whole object (tracked part: spec-like fields, or only status), with their values. */
function objectPaths(o: KubeObject | undefined, schema: Schema, builtin: boolean, statusOnly: boolean): Map<string, { path: string[]; value: string }> {
  const out = new Map<string, { path: string[]; value: string }>();
  if (!o) return out;
  const body: JsonObject = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    if ((k === "status") !== statusOnly) continue;
    body[k] = v as Json;
  }
  const paths = appliedPaths(body, schema, builtin);
  if (!statusOnly) {
    const m = o.metadata;
    for (const mk of ["labels", "annotations"] as const)
      for (const k of Object.keys(m[mk] ?? {})) paths.set(JSON.stringify(["f:metadata", `f:${mk}`, `f:${k}`]), ["f:metadata", `f:${mk}`, `f:${k}`]);
    for (const f of m.finalizers ?? [])
      paths.set(JSON.stringify(["f:metadata", "f:finalizers", `v:${JSON.stringify(f)}`]), ["f:metadata", "f:finalizers", `v:${JSON.stringify(f)}`]);
  }
  if (statusOnly && isObject(o.status as Json)) {
    for (const [k, p] of fieldPathsOf(o.status as JsonObject, sub(schema, "status"), builtin)) paths.set(k, p);
  }
  for (const [k, p] of paths) out.set(k, { path: p, value: JSON.stringify(valueAt(o as unknown as Json, p) ?? null) });
  return out;
}

function fieldPathsOf(status: JsonObject, s: Schema, builtin: boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  fieldPaths(status, s, ["f:status"], "status", builtin, out);
  return out;
}

export interface UpdateRecord {
  manager: string;
  apiVersion: string;
  subresource?: string;
  schema: Schema;
  builtin: boolean;
}

/**
 * Field ownership after a non-apply write (operation Update), as the real server's field
 * manager records it: the writer owns every field it changed, previous owners lose those
 * fields, removed fields belong to nobody. Returns the new managedFields.
 */
export function recordUpdate(old: KubeObject | undefined, next: KubeObject, r: UpdateRecord): ManagedFieldsEntry[] {
  const statusOnly = r.subresource === "status";
  const before = objectPaths(old, r.schema, r.builtin, statusOnly);
  const after = objectPaths(next, r.schema, r.builtin, statusOnly);
  const changed = new Map<string, string[]>();
  for (const [k, v] of after) if (before.get(k)?.value !== v.value) changed.set(k, v.path);
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const entries: ManagedFieldsEntry[] = clone(old?.metadata.managedFields ?? []);
  if (changed.size === 0 && removed.length === 0) return entries;
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const out: ManagedFieldsEntry[] = [];
  let mine: Map<string, string[]> | undefined;
  for (const e of entries) {
    const set = fromFieldsV1(e.fieldsV1);
    for (const k of [...changed.keys(), ...removed]) set.delete(k);
    if (e.manager === r.manager && e.operation === "Update" && (e.subresource ?? "") === (r.subresource ?? "")) {
      mine = set;
      continue;
    }
    if (set.size > 0) out.push({ ...e, fieldsV1: toFieldsV1(set.values()) });
  }
  const owned = mine ?? new Map<string, string[]>();
  for (const [k, p] of changed) owned.set(k, p);
  if (owned.size > 0) {
    out.push({
      manager: r.manager,
      operation: "Update",
      apiVersion: r.apiVersion,
      time: now,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1(owned.values()),
      ...(r.subresource ? { subresource: r.subresource } : {}),
    });
  }
  return out;
}
