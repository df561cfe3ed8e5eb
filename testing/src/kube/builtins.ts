// The built-in resources JetMesh uses, with the defaulting and validation the real server
// applies that a client can notice (Deployment defaults, Service cluster IP, Namespace phase).
import type { StatusCause } from "./errors.ts";
import { isObject, type JsonObject, type KubeObject, type ResourceType } from "./types.ts";

const rt = (r: Partial<ResourceType> & Pick<ResourceType, "group" | "version" | "kind" | "plural" | "namespaced">): ResourceType => ({
  listKind: `${r.kind}List`,
  singular: r.kind.toLowerCase(),
  shortNames: [],
  categories: [],
  status: false,
  strategicMerge: true,
  ...r,
});

export const BUILTIN_TYPES: ResourceType[] = [
  rt({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, shortNames: ["ns"], status: true }),
  rt({ group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"], createOnUpdate: true }),
  rt({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, shortNames: ["cm"] }),
  rt({ group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true }),
  rt({ group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, shortNames: ["sa"] }),
  rt({ group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, shortNames: ["svc"], categories: ["all"], status: true }),
  rt({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, shortNames: ["po"], categories: ["all"], status: true }),
  rt({
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    namespaced: true,
    shortNames: ["deploy"],
    categories: ["all"],
    status: true,
    scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" },
  }),
  // Stored as sent: what the operator renders for EventSubscriptions in scaling mode hpa.
  rt({
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    namespaced: true,
    shortNames: ["hpa"],
    categories: ["all"],
    status: true,
    strategicMerge: false,
  }),
  rt({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true, createOnUpdate: true }),
  // Stored as sent (no authorization here, no policy enforcement): what `helm install` of the
  // chart creates besides Deployments and Services.
  rt({ group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false, strategicMerge: false }),
  rt({
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
    strategicMerge: false,
  }),
  rt({ group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true, strategicMerge: false }),
  rt({ group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true, strategicMerge: false }),
  rt({
    group: "networking.k8s.io",
    version: "v1",
    kind: "NetworkPolicy",
    plural: "networkpolicies",
    namespaced: true,
    shortNames: ["netpol"],
    strategicMerge: false,
  }),
  rt({
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    namespaced: true,
    shortNames: ["pdb"],
    status: true,
    strategicMerge: false,
  }),
  rt({
    group: "events.k8s.io",
    version: "v1",
    kind: "Event",
    plural: "events",
    namespaced: true,
    shortNames: ["ev"],
    createOnUpdate: true,
    storage: "/events",
    convert: { toStored: eventToCore, fromStored: eventFromCore },
  }),
  rt({
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
    shortNames: ["crd", "crds"],
    categories: ["api-extensions"],
    status: true,
    strategicMerge: false,
  }),
];

// events.k8s.io/v1 and core/v1 Events are one resource in two shapes (the real server
// stores core events and converts); field names as in k8s.io/kubernetes/pkg/apis/events.
const EVENT_FIELDS: [core: string, v1: string][] = [
  ["involvedObject", "regarding"],
  ["message", "note"],
  ["source", "deprecatedSource"],
  ["firstTimestamp", "deprecatedFirstTimestamp"],
  ["lastTimestamp", "deprecatedLastTimestamp"],
  ["count", "deprecatedCount"],
  ["reportingComponent", "reportingController"],
  ["reportingInstance", "reportingInstance"],
  ["reason", "reason"],
  ["type", "type"],
  ["action", "action"],
  ["related", "related"],
  ["eventTime", "eventTime"],
  ["series", "series"],
];

function renameFields(o: KubeObject, apiVersion: string, from: 0 | 1): KubeObject {
  const out: KubeObject = { apiVersion, kind: "Event", metadata: o.metadata };
  for (const pair of EVENT_FIELDS) {
    const v = o[pair[from]];
    if (v !== undefined) out[pair[1 - from]!] = v;
  }
  return out;
}

function eventToCore(o: KubeObject): KubeObject {
  return renameFields(o, "v1", 1);
}

function eventFromCore(o: KubeObject): KubeObject {
  return renameFields(o, "events.k8s.io/v1", 0);
}

let nextIp = 10;

/** Server-side defaults of built-in objects (a subset of the real defaulters). Mutates `o`. */
export function defaultBuiltin(r: ResourceType, o: KubeObject): void {
  const spec = (isObject(o.spec) ? o.spec : (o.spec = {})) as JsonObject;
  if (r.group === "apps" && r.plural === "deployments") {
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    spec.strategy ??= { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } };
    const tpl = isObject(spec.template) ? spec.template : (spec.template = {});
    const ps = isObject(tpl.spec) ? tpl.spec : (tpl.spec = {});
    ps.restartPolicy ??= "Always";
    ps.terminationGracePeriodSeconds ??= 30;
    ps.dnsPolicy ??= "ClusterFirst";
    ps.schedulerName ??= "default-scheduler";
    ps.securityContext ??= {};
    for (const c of Array.isArray(ps.containers) ? ps.containers : []) {
      if (!isObject(c)) continue;
      const image = String(c.image ?? "");
      c.imagePullPolicy ??= image.endsWith(":latest") || !/:[^/]+$/.test(image) ? "Always" : "IfNotPresent";
      c.terminationMessagePath ??= "/dev/termination-log";
      c.terminationMessagePolicy ??= "File";
      c.resources ??= {};
      for (const p of Array.isArray(c.ports) ? c.ports : []) if (isObject(p)) p.protocol ??= "TCP";
    }
  } else if (r.group === "" && r.plural === "services") {
    spec.type ??= "ClusterIP";
    spec.sessionAffinity ??= "None";
    if (spec.clusterIP === undefined) {
      const n = nextIp++;
      spec.clusterIP = `10.96.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
      spec.clusterIPs = [spec.clusterIP];
    }
    for (const p of Array.isArray(spec.ports) ? spec.ports : []) {
      if (!isObject(p)) continue;
      p.protocol ??= "TCP";
      p.targetPort ??= p.port ?? null;
    }
  } else if (r.group === "" && r.plural === "namespaces") {
    spec.finalizers ??= ["kubernetes"];
    o.status = { phase: "Active", ...(isObject(o.status) ? (o.status as JsonObject) : {}) };
    o.metadata.labels = { ...o.metadata.labels, "kubernetes.io/metadata.name": o.metadata.name ?? "" };
  } else if (r.group === "" && r.plural === "secrets") {
    delete o.spec;
    o.type ??= "Opaque";
    // stringData is write-only: merged into data (base64), as the real server does.
    if (isObject(o.stringData)) {
      const data = (isObject(o.data) ? o.data : {}) as JsonObject;
      for (const [k, v] of Object.entries(o.stringData as JsonObject)) data[k] = Buffer.from(String(v)).toString("base64");
      o.data = data;
      delete o.stringData;
    }
  } else {
    // Most kinds have no spec at all; do not invent one.
    if (Object.keys(spec).length === 0) delete o.spec;
  }
}

/** Validation the real server does for built-ins that our users would hit. */
export function validateBuiltin(r: ResourceType, o: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (old && r.group === "apps" && r.plural === "deployments") {
    const sel = (o.spec as JsonObject | undefined)?.selector;
    if (!same(sel, (old.spec as JsonObject | undefined)?.selector)) {
      out.push({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(sel ?? null)}: field is immutable`, field: "spec.selector" });
    }
  }
  // ConfigMaps and Secrets marked immutable keep their data (and stay immutable).
  if (old && r.group === "" && (r.plural === "configmaps" || r.plural === "secrets") && old.immutable === true) {
    for (const f of ["data", "binaryData", "immutable"]) {
      if (!same(o[f], old[f])) out.push({ reason: "FieldValueForbidden", message: "Forbidden: field is immutable when `immutable` is set", field: f });
    }
  }
  if (r.group === "apps" && r.plural === "deployments") {
    const spec = (o.spec ?? {}) as JsonObject;
    const sel = spec.selector;
    const tpl = (isObject(spec.template) ? spec.template : {}) as JsonObject;
    const tplLabels = (isObject(tpl.metadata) && isObject(tpl.metadata.labels) ? tpl.metadata.labels : {}) as Record<string, string>;
    if (!isObject(sel)) out.push({ reason: "FieldValueRequired", message: "Required value", field: "spec.selector" });
    else {
      const ml = (isObject(sel.matchLabels) ? sel.matchLabels : {}) as Record<string, string>;
      if (Object.entries(ml).some(([k, v]) => tplLabels[k] !== v)) {
        out.push({
          reason: "FieldValueInvalid",
          message: `Invalid value: ${JSON.stringify(tplLabels)}: \`selector\` does not match template \`labels\``,
          field: "spec.template.metadata.labels",
        });
      }
    }
    const ps = (isObject(tpl.spec) ? tpl.spec : {}) as JsonObject;
    const containers = Array.isArray(ps.containers) ? ps.containers : [];
    if (containers.length === 0) out.push({ reason: "FieldValueRequired", message: "Required value", field: "spec.template.spec.containers" });
    containers.forEach((c, i) => {
      if (!isObject(c) || !c.name) out.push({ reason: "FieldValueRequired", message: "Required value", field: `spec.template.spec.containers[${i}].name` });
      if (!isObject(c) || !c.image) out.push({ reason: "FieldValueRequired", message: "Required value", field: `spec.template.spec.containers[${i}].image` });
    });
    if (typeof spec.replicas === "number" && spec.replicas < 0) {
      out.push({ reason: "FieldValueInvalid", message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`, field: "spec.replicas" });
    }
  }
  return out;
}
