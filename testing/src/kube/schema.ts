// OpenAPI v3 structural schemas of custom resources: pruning of unknown fields, defaulting,
// and validation with field paths and messages worded like the real apiextensions server
// (kube-openapi validate errors + x-kubernetes-validations CEL rules).
import type { StatusCause } from "./errors.ts";
import { CelError, compileCel, type CelProgram } from "./cel.ts";
import { clone, isObject, type Json, type JsonObject } from "./types.ts";

export type Schema = JsonObject;

const str = (v: unknown): string => (v === undefined ? "null" : JSON.stringify(v));
const child = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function props(s: Schema): Record<string, Schema> {
  return isObject(s.properties) ? (s.properties as Record<string, Schema>) : {};
}

/**
 * Drops fields the schema does not know (unless x-kubernetes-preserve-unknown-fields) and
 * nulls in non-nullable fields. Returns the paths of the unknown fields (for fieldValidation).
 * At the root, apiVersion/kind/metadata are always kept.
 */
export function prune(value: Json, schema: Schema, path = "", root = true): string[] {
  const unknown: string[] = [];
  if (isObject(value)) {
    const p = props(schema);
    const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
    const addl = schema.additionalProperties;
    const embedded = schema["x-kubernetes-embedded-resource"] === true;
    for (const k of Object.keys(value)) {
      if ((root || embedded) && (k === "apiVersion" || k === "kind" || k === "metadata")) continue;
      const sub = p[k] ?? (isObject(addl) ? (addl as Schema) : undefined);
      if (!sub) {
        if (preserve || addl === true) continue;
        unknown.push(child(path, k));
        delete value[k];
        continue;
      }
      if (value[k] === null && sub.nullable !== true) {
        delete value[k];
        continue;
      }
      unknown.push(...prune(value[k]!, sub, child(path, k), false));
    }
  } else if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((v, i) => unknown.push(...prune(v, schema.items as Schema, `${path}[${i}]`, false)));
  }
  return unknown;
}

/** Sets `default` values for missing properties, recursively (after pruning, as the real server). */
export function applyDefaults(value: Json, schema: Schema): void {
  if (isObject(value)) {
    for (const [k, sub] of Object.entries(props(schema))) {
      if (value[k] === undefined && sub.default !== undefined) value[k] = clone(sub.default);
      if (value[k] !== undefined) applyDefaults(value[k]!, sub);
    }
    if (isObject(schema.additionalProperties)) {
      for (const k of Object.keys(value)) if (!(k in props(schema))) applyDefaults(value[k]!, schema.additionalProperties as Schema);
    }
  } else if (Array.isArray(value) && isObject(schema.items)) {
    for (const v of value) applyDefaults(v, schema.items as Schema);
  }
}

function typeName(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v === "object" ? "object" : typeof v;
}

function typeOk(v: Json, s: Schema): boolean {
  if (v === null) return s.nullable === true;
  if (s["x-kubernetes-int-or-string"] === true) return typeof v === "string" || (typeof v === "number" && Number.isInteger(v));
  switch (s.type) {
    case "object":
      return isObject(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "number":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    default:
      return true;
  }
}

const FORMATS: Record<string, RegExp> = {
  "date-time": /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  uuid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  email: /^[^@\s]+@[^@\s]+$/,
  hostname: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
  ipv4: /^(\d{1,3}\.){3}\d{1,3}$/,
  duration: /^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
  byte: /^[A-Za-z0-9+/]*={0,2}$/,
};

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "object" && x !== null && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

const programs = new Map<string, CelProgram>();
function program(rule: string): CelProgram {
  let p = programs.get(rule);
  if (!p) {
    p = compileCel(rule);
    programs.set(rule, p);
  }
  return p;
}

const REASONS: Record<string, [string, string]> = {
  FieldValueInvalid: ["FieldValueInvalid", "Invalid value"],
  FieldValueForbidden: ["FieldValueForbidden", "Forbidden"],
  FieldValueRequired: ["FieldValueRequired", "Required value"],
  FieldValueDuplicate: ["FieldValueDuplicate", "Duplicate value"],
};

/** Validates `v` against `s`; `old` is the previous value at the same path (transition rules). */
export function validate(v: Json, s: Schema, path: string, old?: Json): StatusCause[] {
  // Validation ratcheting (CRDValidationRatcheting, on by default since 1.30): an update may
  // keep a value that no longer validates, as long as it does not change it.
  if (old !== undefined && path !== "" && canonical(v) === canonical(old)) return [];
  const out: StatusCause[] = [];
  const inv = (value: unknown, msg: string) => out.push({ reason: "FieldValueInvalid", message: `Invalid value: ${str(value)}: ${msg}`, field: path });
  const where = path || "body";
  if (!typeOk(v, s)) {
    const t = s["x-kubernetes-int-or-string"] === true ? "integer-or-string" : String(s.type);
    out.push({
      reason: "FieldValueTypeInvalid",
      message: `Invalid value: ${str(typeName(v))}: ${where} in body must be of type ${t}: ${str(typeName(v))}`,
      field: path,
    });
    return out;
  }
  if (v === null) return out;
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
    out.push({ reason: "FieldValueNotSupported", message: `Unsupported value: ${str(v)}: supported values: ${s.enum.map(str).join(", ")}`, field: path });
  }
  if (typeof v === "number") {
    if (typeof s.minimum === "number") {
      if (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum) {
        inv(v, `${where} in body should be greater than ${s.exclusiveMinimum === true ? "" : "or equal to "}${s.minimum}`);
      }
    }
    if (typeof s.maximum === "number") {
      if (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum) {
        inv(v, `${where} in body should be less than ${s.exclusiveMaximum === true ? "" : "or equal to "}${s.maximum}`);
      }
    }
    if (typeof s.multipleOf === "number" && v % s.multipleOf !== 0) inv(v, `${where} in body should be a multiple of ${s.multipleOf}`);
  }
  if (typeof v === "string") {
    const len = [...v].length;
    if (typeof s.maxLength === "number" && len > s.maxLength)
      out.push({ reason: "FieldValueTooLong", message: `Too long: may not be more than ${s.maxLength} bytes`, field: path });
    if (typeof s.minLength === "number" && len < s.minLength) inv(v, `${where} in body should be at least ${s.minLength} chars long`);
    if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(v)) inv(v, `${where} in body should match '${s.pattern}'`);
    if (typeof s.format === "string" && FORMATS[s.format] && !FORMATS[s.format]!.test(v)) inv(v, `${where} in body must be of type ${s.format}: ${str(v)}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.maxItems === "number" && v.length > s.maxItems)
      out.push({ reason: "FieldValueTooMany", message: `Too many: ${v.length}: must have at most ${s.maxItems} items`, field: path });
    if (typeof s.minItems === "number" && v.length < s.minItems) inv(v.length, `${where} in body should have at least ${s.minItems} items`);
    if (s["x-kubernetes-list-type"] === "set" || s.uniqueItems === true) {
      const seen = new Set<string>();
      v.forEach((e, i) => {
        const k = JSON.stringify(e);
        if (seen.has(k)) out.push({ reason: "FieldValueDuplicate", message: `Duplicate value: ${str(e)}`, field: `${path}[${i}]` });
        seen.add(k);
      });
    }
    if (s["x-kubernetes-list-type"] === "map" && Array.isArray(s["x-kubernetes-list-map-keys"])) {
      const keys = s["x-kubernetes-list-map-keys"].map(String);
      const seen = new Set<string>();
      v.forEach((e, i) => {
        if (!isObject(e)) return;
        const k = JSON.stringify(keys.map((key) => e[key] ?? null));
        if (seen.has(k))
          out.push({
            reason: "FieldValueDuplicate",
            message: `Duplicate value: ${JSON.stringify(Object.fromEntries(keys.map((key) => [key, e[key] ?? null])))}`,
            field: `${path}[${i}]`,
          });
        seen.add(k);
      });
    }
    if (isObject(s.items)) v.forEach((e, i) => out.push(...validate(e, s.items as Schema, `${path}[${i}]`)));
  }
  if (isObject(v)) {
    const p = props(s);
    for (const r of Array.isArray(s.required) ? s.required : []) {
      if (v[String(r)] === undefined) out.push({ reason: "FieldValueRequired", message: "Required value", field: child(path, String(r)) });
    }
    const n = Object.keys(v).length;
    if (typeof s.maxProperties === "number" && n > s.maxProperties)
      out.push({ reason: "FieldValueTooMany", message: `Too many: ${n}: must have at most ${s.maxProperties} items`, field: path });
    if (typeof s.minProperties === "number" && n < s.minProperties) inv(n, `${where} in body should have at least ${s.minProperties} properties`);
    const oldObj = isObject(old) ? old : undefined;
    for (const [k, val] of Object.entries(v)) {
      const sub = p[k] ?? (isObject(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined);
      if (sub) out.push(...validate(val, sub, p[k] ? child(path, k) : `${path}[${k}]`, oldObj?.[k]));
    }
  }
  for (const key of ["allOf", "anyOf", "oneOf"] as const) {
    const subs = Array.isArray(s[key]) ? (s[key] as Schema[]) : [];
    if (subs.length === 0) continue;
    const results = subs.map((sub) => validate(v, { ...sub, type: (sub.type ?? s.type ?? null) as Json }, path, old));
    const passing = results.filter((r) => r.length === 0).length;
    if (key === "allOf") results.forEach((r) => out.push(...r));
    else if (key === "anyOf" && passing === 0) inv(typeName(v), `${where} in body must validate at least one schema (anyOf)`);
    else if (key === "oneOf" && passing !== 1) inv(typeName(v), `${where} in body must validate one and only one schema (oneOf)`);
  }
  if (isObject(s.not) && validate(v, s.not as Schema, path).length === 0) inv(typeName(v), `${where} in body must not validate the schema (not)`);
  out.push(...celRules(v, s, path, old));
  return out;
}

function celRules(v: Json, s: Schema, path: string, old: Json | undefined): StatusCause[] {
  const rules = Array.isArray(s["x-kubernetes-validations"]) ? (s["x-kubernetes-validations"] as JsonObject[]) : [];
  const out: StatusCause[] = [];
  for (const r of rules) {
    const prog = program(String(r.rule));
    if (prog.usesOldSelf && old === undefined && r.optionalOldSelf !== true) continue;
    let ok: unknown;
    let evalErr = "";
    try {
      ok = prog.eval({ self: v, oldSelf: old ?? null });
    } catch (e) {
      evalErr = e instanceof Error ? e.message : String(e);
    }
    if (ok === true) continue;
    const field = typeof r.fieldPath === "string" && r.fieldPath ? `${path}${r.fieldPath}` : path;
    if (evalErr) {
      out.push({ reason: "InternalError", message: `Internal error: ${r.rule}: evaluation error: ${evalErr}`, field });
      continue;
    }
    let message = typeof r.message === "string" && r.message ? r.message : `failed rule: ${String(r.rule)}`;
    if (typeof r.messageExpression === "string") {
      try {
        const m = program(r.messageExpression).eval({ self: v, oldSelf: old ?? null });
        if (typeof m === "string" && m) message = m;
      } catch {
        // A failing messageExpression falls back to message, as on the real server.
      }
    }
    const [reason, prefix] = REASONS[String(r.reason ?? "FieldValueInvalid")] ?? REASONS.FieldValueInvalid!;
    // kube-apiserver (1.35) shows a scalar's value ("Invalid value: 5: …", strings quoted) and
    // leaves an object's or a list's out ("Invalid value: <message>").
    const scalar = v === null || typeof v !== "object";
    const text = reason === "FieldValueInvalid" && scalar ? `${prefix}: ${str(v)}: ${message}` : `${prefix}: ${message}`;
    out.push({ reason, message: text, field });
  }
  return out;
}

/**
 * Checks a CRD version schema for what this server cannot do faithfully: CEL rules outside
 * the supported subset are reported (422 on the CRD), so a test never silently skips a rule.
 */
export function checkSchema(s: Json, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (!isObject(s)) return out;
  const rules = Array.isArray(s["x-kubernetes-validations"]) ? (s["x-kubernetes-validations"] as JsonObject[]) : [];
  rules.forEach((r, i) => {
    for (const key of ["rule", "messageExpression"] as const) {
      if (typeof r[key] !== "string") continue;
      try {
        program(r[key] as string);
      } catch (e) {
        const why = e instanceof CelError ? e.message : String(e);
        out.push({
          reason: "FieldValueInvalid",
          field: `${path}.x-kubernetes-validations[${i}].${key}`,
          message: `Invalid value: ${str(r[key])}: compilation failed: ERROR: ${why} (the JetMesh Kubernetes test server evaluates standard CEL without Kubernetes' own CEL libraries, see docs/testing.md)`,
        });
      }
    }
  });
  for (const [k, sub] of Object.entries(props(s))) out.push(...checkSchema(sub, `${path}.properties[${k}]`));
  if (isObject(s.items)) out.push(...checkSchema(s.items, `${path}.items`));
  if (isObject(s.additionalProperties)) out.push(...checkSchema(s.additionalProperties, `${path}.additionalProperties`));
  return out;
}
