// Known fields of the built-in kinds (Kubernetes 1.32), for unknown-field detection: the real
// server decodes built-ins into typed structs, so an unknown field is dropped (with a warning)
// or, with fieldValidation=Strict (kubectl's default), refused. Only the parts JetMesh's
// manifests touch are spelled out; deeper structures are open
// (x-kubernetes-preserve-unknown-fields) so that valid manifests are never refused.
import type { JsonObject } from "./types.ts";

const open: JsonObject = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
const obj = (keys: string[], sub: Record<string, JsonObject> = {}): JsonObject => ({
  type: "object",
  properties: Object.fromEntries(keys.map((k) => [k, sub[k] ?? open])),
});
const list = (items: JsonObject): JsonObject => ({ type: "array", items });
const scalar: JsonObject = {};

const container = obj(
  ["name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty"],
  {
    name: scalar, image: scalar, command: scalar, args: scalar, workingDir: scalar, restartPolicy: scalar,
    terminationMessagePath: scalar, terminationMessagePolicy: scalar, imagePullPolicy: scalar, stdin: scalar, stdinOnce: scalar, tty: scalar,
    ports: list(obj(["name", "hostPort", "containerPort", "protocol", "hostIP"], { name: scalar, hostPort: scalar, containerPort: scalar, protocol: scalar, hostIP: scalar })),
    env: list(obj(["name", "value", "valueFrom"], { name: scalar, value: scalar })),
    envFrom: list(open),
    volumeMounts: list(open),
  },
);

const podSpec = obj(
  ["volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector", "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain", "affinity", "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims", "resources"],
  {
    containers: list(container), initContainers: list(container), ephemeralContainers: list(open),
    restartPolicy: scalar, terminationGracePeriodSeconds: scalar, activeDeadlineSeconds: scalar, dnsPolicy: scalar,
    serviceAccountName: scalar, serviceAccount: scalar, automountServiceAccountToken: scalar, nodeName: scalar,
    hostNetwork: scalar, hostPID: scalar, hostIPC: scalar, shareProcessNamespace: scalar, hostname: scalar, subdomain: scalar,
    schedulerName: scalar, priorityClassName: scalar, priority: scalar, runtimeClassName: scalar, enableServiceLinks: scalar,
    preemptionPolicy: scalar, setHostnameAsFQDN: scalar, hostUsers: scalar,
  },
);

const podTemplate = obj(["metadata", "spec"], { spec: podSpec });
const root = (keys: string[], sub: Record<string, JsonObject> = {}): JsonObject => obj(["apiVersion", "kind", "metadata", ...keys], sub);

/** By storage key (`<group>/<plural>`). Kinds not listed are not checked. */
export const BUILTIN_SCHEMAS: Record<string, JsonObject> = {
  "apps/deployments": root(["spec", "status"], {
    spec: obj(["replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit", "paused", "progressDeadlineSeconds"], {
      replicas: scalar, minReadySeconds: scalar, revisionHistoryLimit: scalar, paused: scalar, progressDeadlineSeconds: scalar,
      template: podTemplate,
    }),
  }),
  "/pods": root(["spec", "status"], { spec: podSpec }),
  "/services": root(["spec", "status"], {
    spec: obj(
      ["ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP", "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy", "healthCheckNodePort", "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution"],
      { ports: list(obj(["name", "protocol", "appProtocol", "port", "targetPort", "nodePort"], { name: scalar, protocol: scalar, appProtocol: scalar, port: scalar, targetPort: scalar, nodePort: scalar })) },
    ),
  }),
  "/configmaps": root(["data", "binaryData", "immutable"], { immutable: scalar }),
  "/secrets": root(["data", "stringData", "type", "immutable"], { type: scalar, immutable: scalar }),
  "/serviceaccounts": root(["secrets", "imagePullSecrets", "automountServiceAccountToken"], { automountServiceAccountToken: scalar }),
  "/namespaces": root(["spec", "status"]),
  "coordination.k8s.io/leases": root(["spec"], {
    spec: obj(["holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions", "strategy", "preferredHolder"], {
      holderIdentity: scalar, leaseDurationSeconds: scalar, acquireTime: scalar, renewTime: scalar, leaseTransitions: scalar, strategy: scalar, preferredHolder: scalar,
    }),
  }),
  "/events": root(["involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"], {
    reason: scalar, message: scalar, firstTimestamp: scalar, lastTimestamp: scalar, count: scalar, type: scalar, eventTime: scalar, action: scalar, reportingComponent: scalar, reportingInstance: scalar,
  }),
};
