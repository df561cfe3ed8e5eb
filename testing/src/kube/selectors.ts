// Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=),
// parsed once per request into predicates. Syntax as in apimachinery's labels.Parse.
import { badRequest } from "./errors.ts";
import type { KubeObject } from "./types.ts";

type Req =
  { op: "eq" | "neq"; key: string; value: string } | { op: "in" | "notin"; key: string; values: string[] } | { op: "exists" | "notexists"; key: string };

export type Selector = (labels: Record<string, string> | undefined) => boolean;

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== "");
}

export function parseLabelSelector(s: string | null | undefined): Selector {
  if (!s) return () => true;
  const reqs: Req[] = splitTerms(s).map((term) => {
    let m = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3]!
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v !== "");
      return { op: m[2] as "in" | "notin", key: m[1]!, values };
    }
    m = /^([^\s!=()]+)\s*(==|!=|=)\s*([^\s,()]*)$/.exec(term);
    if (m) return { op: m[2] === "!=" ? "neq" : "eq", key: m[1]!, value: m[3]! };
    m = /^!\s*([^\s!=()]+)$/.exec(term);
    if (m) return { op: "notexists", key: m[1]! };
    m = /^([^\s!=()]+)$/.exec(term);
    if (m) return { op: "exists", key: m[1]! };
    throw badRequest(`unable to parse requirement: invalid label selector "${s}"`);
  });
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => {
      const has = Object.hasOwn(l, r.key);
      switch (r.op) {
        case "eq":
          return has && l[r.key] === r.value;
        case "neq":
          return !has || l[r.key] !== r.value;
        case "in":
          return has && r.values.includes(l[r.key]!);
        case "notin":
          return !has || !r.values.includes(l[r.key]!);
        case "exists":
          return has;
        case "notexists":
          return !has;
      }
    });
  };
}

/** matchLabels + matchExpressions (a metav1.LabelSelector) → the string form used in Scale.status.selector. */
export function labelSelectorToString(sel: unknown): string {
  if (typeof sel !== "object" || sel === null) return "";
  const s = sel as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${vals})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.sort().join(",");
}

export type FieldSelector = (obj: KubeObject) => boolean;

function fieldValue(obj: unknown, path: string): string | undefined {
  let cur: unknown = obj;
  for (const p of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return undefined;
  return typeof cur === "object" ? JSON.stringify(cur) : String(cur);
}

/**
 * Field selectors: `metadata.name`, `metadata.namespace` everywhere; other fields only where
 * `allowed` says so (built-ins pass `undefined` = any field, custom resources their selectableFields).
 * Unsupported fields are a 400, as on the real server ("field label not supported").
 */
export function parseFieldSelector(s: string | null | undefined, allowed?: string[]): FieldSelector {
  if (!s) return () => true;
  const reqs = splitTerms(s).map((term) => {
    const m = /^([^\s!=]+)\s*(==|!=|=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${term}'`);
    const field = m[1]!;
    if (field !== "metadata.name" && field !== "metadata.namespace" && allowed && !allowed.includes(field)) {
      throw badRequest(`field label not supported: ${field}`);
    }
    return { field, neq: m[2] === "!=", value: m[3]!.trim() };
  });
  return (obj) =>
    reqs.every((r) => {
      // A missing field compares as the empty string, as the real field-set conversion does.
      const v = fieldValue(obj, r.field) ?? "";
      return r.neq ? v !== r.value : v === r.value;
    });
}
