// Patch formats the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
// and a strategic merge patch good enough for built-in types (lists merged by their
// patchMergeKey, `$patch`, `$setElementOrder`, `$deleteFromPrimitiveList`, `$retainKeys`).
import { badRequest, ApiError } from "./errors.ts";
import { clone, isObject, type Json, type JsonObject } from "./types.ts";

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

function parsePointer(p: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw badRequest(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p.slice(1).split("/").map(unescapePointer);
}

function resolveParent(doc: Json, path: string[], op: string): { parent: Json; key: string } {
  let cur = doc;
  for (const seg of path.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(seg)] as Json;
    else if (isObject(cur)) cur = cur[seg] as Json;
    else cur = undefined as unknown as Json;
    if (cur === undefined)
      throw new ApiError(
        422,
        "Invalid",
        `the server rejected our request due to an error in our request: ${op} operation does not apply: doc is missing path: "/${path.join("/")}": missing value`,
      );
  }
  return { parent: cur, key: path[path.length - 1]! };
}

function getAt(doc: Json, path: string[]): Json | undefined {
  let cur: Json | undefined = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObject(cur)) cur = cur[seg];
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

export function jsonPatch(doc: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw badRequest("json patch must be an array of operations");
  let root = clone(doc);
  const missing = (op: string, p: string) =>
    new ApiError(
      422,
      "Invalid",
      `the server rejected our request due to an error in our request: ${op} operation does not apply: doc is missing path: "${p}": missing value`,
    );
  const add = (path: string[], value: Json, opName: string, p: string) => {
    if (path.length === 0) {
      root = value;
      return;
    }
    const { parent, key } = resolveParent(root, path, opName);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw missing(opName, p);
      parent.splice(i, 0, value);
    } else if (isObject(parent)) parent[key] = value;
    else throw missing(opName, p);
  };
  const remove = (path: string[], opName: string, p: string): Json => {
    const { parent, key } = resolveParent(root, path, opName);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!(i >= 0 && i < parent.length)) throw missing(opName, p);
      return parent.splice(i, 1)[0]!;
    }
    if (isObject(parent) && Object.hasOwn(parent, key)) {
      const v = parent[key]!;
      delete parent[key];
      return v;
    }
    throw missing(opName, p);
  };
  for (const raw of ops) {
    if (!isObject(raw)) throw badRequest("json patch operation must be an object");
    const op = String(raw.op);
    const p = String(raw.path ?? "");
    const path = parsePointer(p);
    switch (op) {
      case "add":
        add(path, clone(raw.value as Json), op, p);
        break;
      case "remove":
        remove(path, op, p);
        break;
      case "replace":
        if (getAt(root, path) === undefined) throw missing(op, p);
        if (path.length === 0) root = clone(raw.value as Json);
        else {
          const { parent, key } = resolveParent(root, path, op);
          if (Array.isArray(parent)) parent[Number(key)] = clone(raw.value as Json);
          else if (isObject(parent)) parent[key] = clone(raw.value as Json);
        }
        break;
      case "move": {
        const from = parsePointer(String(raw.from ?? ""));
        const v = remove(from, op, String(raw.from));
        add(path, v, op, p);
        break;
      }
      case "copy": {
        const v = getAt(root, parsePointer(String(raw.from ?? "")));
        if (v === undefined) throw missing(op, String(raw.from));
        add(path, clone(v), op, p);
        break;
      }
      case "test": {
        const v = getAt(root, path);
        if (JSON.stringify(v) !== JSON.stringify(raw.value)) {
          throw new ApiError(422, "Invalid", `the server rejected our request due to an error in our request: testing value ${p} failed: test failed`);
        }
        break;
      }
      default:
        throw badRequest(`unknown json patch operation ${JSON.stringify(op)}`);
    }
  }
  return root;
}

/**
 * patchMergeKey by field name, for the built-in types this server serves (Deployments,
 * Services, ConfigMaps...). Fields not listed are atomic lists (replaced), as in the real
 * types without a patchStrategy. `primitive` marks lists of scalars merged as sets.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  volumes: "name",
  env: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  imagePullSecrets: "name",
  hostAliases: "ip",
  conditions: "type",
  ownerReferences: "uid",
  topologySpreadConstraints: "topologyKey",
  secrets: "name",
};
const PRIMITIVE_SET = new Set(["finalizers"]);

function mergeKeyFor(field: string, parentPath: string[]): string | undefined {
  // Container ports merge by containerPort, Service ports by port.
  if (field === "ports") return parentPath.includes("containers") || parentPath.includes("initContainers") ? "containerPort" : "port";
  return MERGE_KEYS[field];
}

export function strategicMergePatch(target: Json | undefined, patch: Json, path: string[] = []): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === "replace") {
    const p = clone(patch);
    delete p.$patch;
    return p;
  }
  if (patch.$patch === "delete") return null;
  const out: JsonObject = isObject(target) ? clone(target) : {};
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys.map(String));
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  const orders: Record<string, Json[]> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys") continue;
    if (k.startsWith("$setElementOrder/")) {
      orders[k.slice("$setElementOrder/".length)] = v as Json[];
      continue;
    }
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const f = k.slice("$deleteFromPrimitiveList/".length);
      const del = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[f])) out[f] = (out[f] as Json[]).filter((x) => !del.has(JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    if (Array.isArray(v)) {
      const key = mergeKeyFor(k, path);
      const cur = Array.isArray(out[k]) ? (out[k] as Json[]) : [];
      if (key) out[k] = mergeList(cur, v, key, [...path, k]);
      else if (PRIMITIVE_SET.has(k)) {
        const seen = new Set(cur.map((x) => JSON.stringify(x)));
        out[k] = [...cur, ...v.filter((x) => !seen.has(JSON.stringify(x)))];
      } else out[k] = clone(v);
      continue;
    }
    if (isObject(v)) {
      const merged = strategicMergePatch(out[k], v, [...path, k]);
      if (merged === null) delete out[k];
      else out[k] = merged;
      continue;
    }
    out[k] = v;
  }
  for (const [f, order] of Object.entries(orders)) {
    const key = mergeKeyFor(f, path);
    if (!key || !Array.isArray(out[f])) continue;
    const items = out[f] as Json[];
    const rank = new Map(order.map((o, i) => [JSON.stringify(isObject(o) ? o[key] : o), i]));
    out[f] = [...items].sort(
      (a, b) => (rank.get(JSON.stringify(isObject(a) ? a[key] : a)) ?? 1e9) - (rank.get(JSON.stringify(isObject(b) ? b[key] : b)) ?? 1e9),
    );
  }
  return out;
}

function mergeList(cur: Json[], patch: Json[], key: string, path: string[]): Json[] {
  if (patch.some((p) => isObject(p) && p.$patch === "replace")) {
    return patch.filter((p) => !(isObject(p) && p.$patch === "replace")).map((p) => clone(p));
  }
  const out = cur.map((x) => clone(x));
  for (const p of patch) {
    if (!isObject(p)) {
      out.push(clone(p));
      continue;
    }
    const idx = out.findIndex((x) => isObject(x) && JSON.stringify(x[key]) === JSON.stringify(p[key]));
    if (p.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMergePatch(out[idx], p, path);
    else out.push(strategicMergePatch(undefined, p, path));
  }
  return out;
}
