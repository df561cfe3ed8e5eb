// ObjectMeta validation the real server applies to every object (apimachinery
// ValidateObjectMeta): label keys and values, annotation keys and size, finalizer names,
// owner references. Kept here so tests fail where a real cluster would refuse the object.
import type { StatusCause } from "./errors.ts";
import type { ObjectMeta } from "./types.ts";

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** Problems with a qualified name (`prefix/name` or `name`), worded as apimachinery's IsQualifiedName. */
export function qualifiedNameErrors(key: string): string[] {
  const parts = key.split("/");
  if (parts.length > 2)
    return [
      `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character with an optional DNS subdomain prefix and '/'`,
    ];
  const name = parts[parts.length - 1]!;
  const errs: string[] = [];
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else if (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253)
      errs.push(
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      );
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 bytes");
  else if (!NAME.test(name)) errs.push(NAME_MSG);
  return errs;
}

export function validateMetadata(m: ObjectMeta): StatusCause[] {
  const out: StatusCause[] = [];
  const inv = (field: string, value: string, msg: string) =>
    out.push({ reason: "FieldValueInvalid", field, message: `Invalid value: ${JSON.stringify(value)}: ${msg}` });
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    for (const e of qualifiedNameErrors(k)) inv("metadata.labels", k, e);
    if (typeof v !== "string") inv(`metadata.labels`, String(v), "label values must be strings");
    else if (v.length > 63) inv("metadata.labels", v, "must be no more than 63 bytes");
    else if (v !== "" && !NAME.test(v))
      inv(
        "metadata.labels",
        v,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      );
  }
  let size = 0;
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    for (const e of qualifiedNameErrors(k.toLowerCase())) inv("metadata.annotations", k, e);
    size += k.length + String(v).length;
  }
  if (size > 256 * 1024) out.push({ reason: "FieldValueTooLong", field: "metadata.annotations", message: `Too long: may not be more than 262144 bytes` });
  (m.finalizers ?? []).forEach((f, i) => {
    for (const e of qualifiedNameErrors(f)) inv(`metadata.finalizers[${i}]`, f, e);
  });
  let controllers = 0;
  (m.ownerReferences ?? []).forEach((r, i) => {
    for (const f of ["apiVersion", "kind", "name", "uid"] as const) {
      if (!r[f]) out.push({ reason: "FieldValueInvalid", field: `metadata.ownerReferences[${i}].${f}`, message: `Invalid value: "": ${f} must not be empty` });
    }
    if (r.controller) controllers++;
  });
  if (controllers > 1)
    out.push({
      reason: "FieldValueInvalid",
      field: "metadata.ownerReferences",
      message: "Invalid value: []v1.OwnerReference{...}: Only one reference can have Controller set to true",
    });
  return out;
}
