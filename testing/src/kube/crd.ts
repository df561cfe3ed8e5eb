// CustomResourceDefinitions: validation of the CRD itself, the resource types it serves,
// and the status the real apiextensions server reports (NamesAccepted, Established).
import type { StatusCause } from "./errors.ts";
import { checkSchema } from "./schema.ts";
import { isObject, type JsonObject, type KubeObject, type PrinterColumn, type ResourceType } from "./types.ts";

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: JsonObject };
  subresources?: { status?: unknown; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
  additionalPrinterColumns?: PrinterColumn[];
  selectableFields?: { jsonPath: string }[];
}

interface CrdSpec {
  group: string;
  scope: string;
  names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
  versions: CrdVersion[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function validateCrd(o: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const req = (field: string) => out.push({ reason: "FieldValueRequired", message: "Required value", field });
  const spec = o.spec as Partial<CrdSpec> | undefined;
  if (!spec) {
    req("spec");
    return out;
  }
  if (!spec.group) req("spec.group");
  if (!spec.names?.plural) req("spec.names.plural");
  else if (!DNS_LABEL.test(spec.names.plural))
    out.push({
      reason: "FieldValueInvalid",
      field: "spec.names.plural",
      message: `Invalid value: "${spec.names.plural}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`,
    });
  if (!spec.names?.kind) req("spec.names.kind");
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
    out.push({
      reason: "FieldValueNotSupported",
      field: "spec.scope",
      message: `Unsupported value: "${spec.scope ?? ""}": supported values: "Cluster", "Namespaced"`,
    });
  }
  if (spec.group && spec.names?.plural && o.metadata.name !== `${spec.names.plural}.${spec.group}`) {
    out.push({ reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: "${o.metadata.name}": must be spec.names.plural+"."+spec.group` });
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) req("spec.versions");
  if (versions.length > 0 && versions.filter((v) => v.storage).length !== 1) {
    out.push({
      reason: "FieldValueInvalid",
      field: "spec.versions",
      message: `Invalid value: ${JSON.stringify(versions.map((v) => v.name))}: must have exactly one version marked as storage version`,
    });
  }
  versions.forEach((v, i) => {
    const s = v.schema?.openAPIV3Schema;
    if (!isObject(s)) {
      out.push({ reason: "FieldValueRequired", field: `spec.versions[${i}].schema.openAPIV3Schema`, message: "Required value: schemas are required" });
      return;
    }
    if (s.type !== "object")
      out.push({
        reason: "FieldValueRequired",
        field: `spec.versions[${i}].schema.openAPIV3Schema.type`,
        message: 'Required value: must be "object" at the root',
      });
    out.push(...checkSchema(s, `spec.versions[${i}].schema.openAPIV3Schema`));
  });
  return out;
}

export function crdTypes(o: KubeObject): ResourceType[] {
  const spec = o.spec as CrdSpec;
  return spec.versions
    .filter((v) => v.served)
    .map((v) => ({
      group: spec.group,
      version: v.name,
      kind: spec.names.kind,
      listKind: spec.names.listKind ?? `${spec.names.kind}List`,
      plural: spec.names.plural,
      singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
      namespaced: spec.scope === "Namespaced",
      shortNames: spec.names.shortNames ?? [],
      categories: spec.names.categories ?? [],
      status: v.subresources?.status !== undefined,
      ...(v.subresources?.scale ? { scale: v.subresources.scale } : {}),
      ...(v.schema?.openAPIV3Schema ? { schema: v.schema.openAPIV3Schema } : {}),
      printerColumns: v.additionalPrinterColumns ?? [],
      crd: o.metadata.name!,
      selectableFields: (v.selectableFields ?? []).map((f) => f.jsonPath.replace(/^\./, "")),
    }));
}

/** Defaults and status the real server adds to a CRD (it is served at once, no controller lag). */
export function prepareCrd(o: KubeObject, previous?: KubeObject): void {
  const spec = o.spec as CrdSpec;
  for (const v of spec.versions) {
    for (const c of v.additionalPrinterColumns ?? []) c.priority ??= 0;
  }
  const names = { ...spec.names, singular: spec.names.singular ?? spec.names.kind.toLowerCase(), listKind: spec.names.listKind ?? `${spec.names.kind}List` };
  spec.names = names;
  (spec as unknown as JsonObject).conversion ??= { strategy: "None" };
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const prevStatus = (previous?.status ?? {}) as { storedVersions?: string[]; conditions?: { type: string; lastTransitionTime?: string }[] };
  const storage = spec.versions.find((v) => v.storage)?.name;
  const stored = new Set([...(prevStatus.storedVersions ?? []), ...(storage ? [storage] : [])]);
  const since = (t: string) => prevStatus.conditions?.find((c) => c.type === t)?.lastTransitionTime ?? now;
  o.status = {
    acceptedNames: names,
    storedVersions: [...stored],
    conditions: [
      { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found", lastTransitionTime: since("NamesAccepted") },
      {
        type: "Established",
        status: "True",
        reason: "InitialNamesAccepted",
        message: "the initial names have been accepted",
        lastTransitionTime: since("Established"),
      },
    ],
  };
}
