// Discovery documents (/api, /apis, /api/v1, /apis/<g>/<v>, aggregated v2) and OpenAPI v3
// documents built from the served resource types. The OpenAPI v3 PATCH operations declare
// the `fieldValidation` parameter, which is how kubectl (resource.NewQueryParamVerifierV3)
// decides to leave validation to the server instead of downloading /openapi/v2.
import { createHash } from "node:crypto";
import { groupVersion, type JsonObject, type ResourceType } from "./types.ts";

/** Kubernetes version priority: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others (alphabetical). */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [0, 0, 0, v];
    const stability = m[2] === undefined ? 3 : m[2] === "beta" ? 2 : 1;
    return [stability, Number(m[1]), Number(m[3] ?? 0), v];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (rb[i] as number) - (ra[i] as number);
  return ra[3].localeCompare(rb[3]);
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function apiResourceList(gv: string, types: ResourceType[]): JsonObject {
  const resources: JsonObject[] = [];
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.categories.length ? { categories: t.categories } : {}),
      storageVersionHash: createHash("sha256").update(`${t.group}/${t.plural}`).digest("base64").slice(0, 11),
    });
    if (t.status) resources.push({ name: `${t.plural}/status`, singularName: "", namespaced: t.namespaced, kind: t.kind, verbs: ["get", "patch", "update"] });
    if (t.scale) {
      resources.push({
        name: `${t.plural}/scale`,
        singularName: "",
        namespaced: t.namespaced,
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        verbs: ["get", "patch", "update"],
      });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources };
}

/** Versions per group, preferred (highest priority) first. */
export function groupVersions(types: ResourceType[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of types) {
    const vs = out.get(t.group) ?? [];
    if (!vs.includes(t.version)) vs.push(t.version);
    out.set(t.group, vs);
  }
  for (const vs of out.values()) vs.sort(compareVersions);
  return out;
}

export function apiGroup(group: string, versions: string[]): JsonObject {
  const vs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: vs, preferredVersion: vs[0]! };
}

export function apiGroupList(types: ResourceType[]): JsonObject {
  const groups = [...groupVersions(types)].filter(([g]) => g !== "").map(([g, vs]) => apiGroup(g, vs));
  return { kind: "APIGroupList", apiVersion: "v1", groups };
}

/** apidiscovery.k8s.io/v2 APIGroupDiscoveryList for /api (legacy=true) or /apis. */
export function aggregatedDiscovery(types: ResourceType[], legacy: boolean): JsonObject {
  const items = [...groupVersions(types)]
    .filter(([g]) => (legacy ? g === "" : g !== ""))
    .map(([g, vs]) => ({
      metadata: { name: g, creationTimestamp: null },
      versions: vs.map((v) => ({
        version: v,
        freshness: "Current",
        resources: types
          .filter((t) => t.group === g && t.version === v)
          .map((t) => {
            const subresources: JsonObject[] = [];
            if (t.status)
              subresources.push({ subresource: "status", responseKind: { group: t.group, version: v, kind: t.kind }, verbs: ["get", "patch", "update"] });
            if (t.scale)
              subresources.push({
                subresource: "scale",
                responseKind: { group: "autoscaling", version: "v1", kind: "Scale" },
                verbs: ["get", "patch", "update"],
              });
            return {
              resource: t.plural,
              responseKind: { group: t.group, version: v, kind: t.kind },
              scope: t.namespaced ? "Namespaced" : "Cluster",
              singularResource: t.singular,
              verbs: VERBS,
              ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
              ...(t.categories.length ? { categories: t.categories } : {}),
              ...(subresources.length ? { subresources } : {}),
            };
          }),
      })),
    }));
  return { kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2", metadata: {}, items };
}

const gvPath = (group: string, version: string) => (group ? `apis/${group}/${version}` : `api/${version}`);

export function openApiV3Root(types: ResourceType[]): JsonObject {
  const paths: JsonObject = {};
  for (const [g, vs] of groupVersions(types)) {
    for (const v of vs) {
      const p = gvPath(g, v);
      const hash = createHash("sha256")
        .update(JSON.stringify(openApiV3Doc(types, g, v)))
        .digest("hex")
        .slice(0, 16)
        .toUpperCase();
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
    }
  }
  return { paths };
}

const schemaName = (t: ResourceType): string => `${(t.group || "core").split(".").reverse().join(".")}.${t.version}.${t.kind}`;

/**
 * One group/version's OpenAPI v3 document: operations carry x-kubernetes-group-version-kind
 * and the query parameters the server honours; custom resources carry their CRD schema
 * (so `kubectl explain` works). Built-in schemas are left out: kubectl then builds
 * strategic merge patches from its compiled-in types, as it does against old servers.
 */
export function openApiV3Doc(types: ResourceType[], group: string, version: string): JsonObject {
  const paths: JsonObject = {};
  const schemas: JsonObject = {};
  const param = (name: string) => ({ name, in: "query", schema: { type: "string", uniqueItems: true } });
  const writeParams = [param("dryRun"), param("fieldManager"), param("fieldValidation")];
  for (const t of types.filter((x) => x.group === group && x.version === version)) {
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    const ref = { $ref: `#/components/schemas/${schemaName(t)}` };
    const body = (types: string[]) => ({ content: Object.fromEntries(types.map((ct) => [ct, { schema: t.schema ? ref : { type: "object" } }])) });
    const patchTypes = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
    const op = (action: string, extra: JsonObject = {}) => ({
      operationId: `${action}${t.kind}`,
      "x-kubernetes-action": action,
      "x-kubernetes-group-version-kind": gvk,
      parameters: writeParams,
      responses: { "200": { description: "OK" } },
      ...extra,
    });
    const base = `/${gvPath(t.group, t.version)}${t.namespaced ? "/namespaces/{namespace}" : ""}/${t.plural}`;
    paths[base] = { get: op("list"), post: op("post", { requestBody: body(["*/*"]) }) };
    // Only custom resources publish a request body: built-ins without schemas must not look
    // like they support strategic merge via OpenAPI v3 (kubectl would then need their schema).
    paths[`${base}/{name}`] = {
      get: op("get"),
      put: op("put"),
      delete: op("delete"),
      patch: op("patch", t.crd ? { requestBody: body(patchTypes) } : {}),
    };
    if (t.status) paths[`${base}/{name}/status`] = { get: op("get"), put: op("put"), patch: op("patch") };
    if (t.schema) {
      schemas[schemaName(t)] = {
        ...t.schema,
        "x-kubernetes-group-version-kind": [gvk],
        properties: {
          apiVersion: { type: "string", description: "APIVersion defines the versioned schema of this representation of an object." },
          kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents." },
          metadata: { type: "object", description: "Standard object's metadata." },
          ...((t.schema.properties as JsonObject | undefined) ?? {}),
        },
      };
    }
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: "v1.32.0" },
    paths,
    components: { schemas },
  };
}

export const serverVersion = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-jetmesh-test",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.23.0",
  compiler: "gc",
  platform: "linux/amd64",
};

export { groupVersion };
