// Compact JSON Schemas for the Kubernetes kinds the chart renders, strict
// (additionalProperties: false) for every field the chart writes, so a misspelled or
// misplaced field fails the test instead of being dropped by the API server. They follow
// the Kubernetes API reference for apps/v1, v1, policy/v1, networking.k8s.io/v1,
// rbac.authorization.k8s.io/v1 and monitoring.coreos.com/v1; fields the chart never
// writes are left out (and so are refused).

type Schema = Record<string, unknown>;

const str: Schema = { type: "string" };
const bool: Schema = { type: "boolean" };
const int: Schema = { type: "integer" };
const strMap: Schema = { type: "object", additionalProperties: { type: "string" } };
const intOrString: Schema = { anyOf: [{ type: "integer" }, { type: "string" }] };
const quantity: Schema = { anyOf: [{ type: "string", pattern: "^[0-9]+(\\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$" }, { type: "number" }] };
const dnsLabel: Schema = { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 63 };

function strict(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: "object", properties, required, additionalProperties: false };
}
const arrayOf = (items: Schema, extra: Schema = {}): Schema => ({ type: "array", items, ...extra });

const metadata = strict({ name: str, namespace: str, labels: strMap, annotations: strMap }, ["name"]);
const labelSelector = strict({ matchLabels: strMap, matchExpressions: arrayOf({ type: "object" }) });

const probe = strict({
  httpGet: strict({ path: str, port: intOrString, scheme: { enum: ["HTTP", "HTTPS"] } }, ["port"]),
  initialDelaySeconds: int,
  periodSeconds: int,
  timeoutSeconds: int,
  failureThreshold: int,
  successThreshold: int,
});

const envVar = strict(
  {
    name: { type: "string", pattern: "^[-._a-zA-Z][-._a-zA-Z0-9]*$" },
    value: str,
    valueFrom: strict({
      secretKeyRef: strict({ name: str, key: str, optional: bool }, ["name", "key"]),
      configMapKeyRef: strict({ name: str, key: str, optional: bool }, ["name", "key"]),
      fieldRef: strict({ fieldPath: str, apiVersion: str }, ["fieldPath"]),
    }),
  },
  ["name"],
);

const containerSecurityContext = strict({
  runAsNonRoot: bool,
  runAsUser: int,
  runAsGroup: int,
  readOnlyRootFilesystem: bool,
  allowPrivilegeEscalation: bool,
  privileged: bool,
  capabilities: strict({ drop: arrayOf(str), add: arrayOf(str) }),
  seccompProfile: strict({ type: { enum: ["RuntimeDefault", "Localhost", "Unconfined"] }, localhostProfile: str }, ["type"]),
});

const podSecurityContext = strict({
  runAsNonRoot: bool,
  runAsUser: int,
  runAsGroup: int,
  fsGroup: int,
  supplementalGroups: arrayOf(int),
  seccompProfile: strict({ type: { enum: ["RuntimeDefault", "Localhost", "Unconfined"] }, localhostProfile: str }, ["type"]),
});

const container = strict(
  {
    name: dnsLabel,
    image: str,
    imagePullPolicy: { enum: ["Always", "IfNotPresent", "Never"] },
    command: arrayOf(str),
    args: arrayOf(str),
    ports: arrayOf(strict({ name: { type: "string", maxLength: 15 }, containerPort: int, protocol: { enum: ["TCP", "UDP", "SCTP"] } }, ["containerPort"])),
    env: arrayOf(envVar),
    startupProbe: probe,
    livenessProbe: probe,
    readinessProbe: probe,
    resources: strict({ requests: { type: "object", additionalProperties: quantity }, limits: { type: "object", additionalProperties: quantity } }),
    securityContext: containerSecurityContext,
    volumeMounts: arrayOf(strict({ name: str, mountPath: str, readOnly: bool, subPath: str }, ["name", "mountPath"])),
  },
  ["name", "image"],
);

const volume = strict(
  {
    name: dnsLabel,
    emptyDir: strict({ sizeLimit: quantity, medium: str }),
    secret: strict({ secretName: str, defaultMode: int, optional: bool, items: arrayOf({ type: "object" }) }, ["secretName"]),
    configMap: strict({ name: str, defaultMode: int, optional: bool }, ["name"]),
  },
  ["name"],
);

const podSpec = strict(
  {
    serviceAccountName: str,
    automountServiceAccountToken: bool,
    imagePullSecrets: arrayOf(strict({ name: str }, ["name"])),
    securityContext: podSecurityContext,
    terminationGracePeriodSeconds: int,
    containers: arrayOf(container, { minItems: 1 }),
    volumes: arrayOf(volume),
    nodeSelector: strMap,
    priorityClassName: str,
    topologySpreadConstraints: arrayOf(
      strict(
        {
          maxSkew: int,
          topologyKey: str,
          whenUnsatisfiable: { enum: ["DoNotSchedule", "ScheduleAnyway"] },
          labelSelector,
          matchLabelKeys: arrayOf(str),
          minDomains: int,
          nodeAffinityPolicy: str,
          nodeTaintsPolicy: str,
        },
        ["maxSkew", "topologyKey", "whenUnsatisfiable"],
      ),
    ),
    tolerations: arrayOf({ type: "object" }),
    affinity: strict({
      podAntiAffinity: strict({
        preferredDuringSchedulingIgnoredDuringExecution: arrayOf(
          strict({ weight: int, podAffinityTerm: strict({ topologyKey: str, labelSelector, namespaces: arrayOf(str) }, ["topologyKey"]) }, [
            "weight",
            "podAffinityTerm",
          ]),
        ),
        requiredDuringSchedulingIgnoredDuringExecution: arrayOf({ type: "object" }),
      }),
      podAffinity: { type: "object" },
      nodeAffinity: { type: "object" },
    }),
  },
  ["containers"],
);

const networkPolicyPeer = strict({
  podSelector: labelSelector,
  namespaceSelector: labelSelector,
  ipBlock: strict({ cidr: str, except: arrayOf(str) }, ["cidr"]),
});
const networkPolicyPort = strict({ port: intOrString, protocol: { enum: ["TCP", "UDP", "SCTP"] }, endPort: int });

const policyRule = strict({ apiGroups: arrayOf(str), resources: arrayOf(str), verbs: arrayOf(str, { minItems: 1 }), resourceNames: arrayOf(str) }, ["verbs"]);
const roleRef = strict({ apiGroup: { const: "rbac.authorization.k8s.io" }, kind: { enum: ["Role", "ClusterRole"] }, name: str }, ["apiGroup", "kind", "name"]);
const subject = strict({ kind: { enum: ["ServiceAccount", "User", "Group"] }, name: str, namespace: str, apiGroup: str }, ["kind", "name"]);

const envelope = (apiVersion: string, kind: string, rest: Record<string, Schema>, required: string[] = []): Schema =>
  strict({ apiVersion: { const: apiVersion }, kind: { const: kind }, metadata, ...rest }, ["apiVersion", "kind", "metadata", ...required]);

/** Schemas by kind. */
export const K8S_SCHEMAS: Record<string, Schema> = {
  Deployment: envelope(
    "apps/v1",
    "Deployment",
    {
      spec: strict(
        {
          replicas: int,
          selector: labelSelector,
          strategy: strict({ type: { enum: ["RollingUpdate", "Recreate"] }, rollingUpdate: strict({ maxUnavailable: intOrString, maxSurge: intOrString }) }),
          template: strict({ metadata: strict({ labels: strMap, annotations: strMap }), spec: podSpec }, ["spec"]),
        },
        ["selector", "template"],
      ),
    },
    ["spec"],
  ),
  Service: envelope(
    "v1",
    "Service",
    {
      spec: strict(
        {
          type: { enum: ["ClusterIP", "NodePort", "LoadBalancer"] },
          selector: strMap,
          ports: arrayOf(
            strict(
              {
                name: str,
                port: int,
                targetPort: intOrString,
                protocol: { enum: ["TCP", "UDP", "SCTP"] },
                nodePort: { type: "integer", minimum: 30000, maximum: 32767 },
              },
              ["port"],
            ),
            { minItems: 1 },
          ),
        },
        ["ports"],
      ),
    },
    ["spec"],
  ),
  PodDisruptionBudget: envelope(
    "policy/v1",
    "PodDisruptionBudget",
    {
      spec: {
        ...strict({ minAvailable: intOrString, maxUnavailable: intOrString, selector: labelSelector }, ["selector"]),
        not: { required: ["minAvailable", "maxUnavailable"] },
      },
    },
    ["spec"],
  ),
  NetworkPolicy: envelope(
    "networking.k8s.io/v1",
    "NetworkPolicy",
    {
      spec: strict(
        {
          podSelector: labelSelector,
          policyTypes: arrayOf({ enum: ["Ingress", "Egress"] }),
          ingress: arrayOf(strict({ from: arrayOf(networkPolicyPeer), ports: arrayOf(networkPolicyPort) })),
          egress: arrayOf(strict({ to: arrayOf(networkPolicyPeer), ports: arrayOf(networkPolicyPort) })),
        },
        ["podSelector"],
      ),
    },
    ["spec"],
  ),
  ServiceAccount: envelope("v1", "ServiceAccount", { automountServiceAccountToken: bool }),
  ConfigMap: envelope("v1", "ConfigMap", { data: strMap }),
  Secret: envelope("v1", "Secret", { type: str, data: strMap, stringData: strMap, immutable: bool }),
  ClusterRole: envelope("rbac.authorization.k8s.io/v1", "ClusterRole", { rules: arrayOf(policyRule) }),
  Role: envelope("rbac.authorization.k8s.io/v1", "Role", { rules: arrayOf(policyRule) }),
  ClusterRoleBinding: envelope("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", { roleRef, subjects: arrayOf(subject) }, ["roleRef"]),
  RoleBinding: envelope("rbac.authorization.k8s.io/v1", "RoleBinding", { roleRef, subjects: arrayOf(subject) }, ["roleRef"]),
  ServiceMonitor: envelope(
    "monitoring.coreos.com/v1",
    "ServiceMonitor",
    {
      spec: strict(
        {
          selector: labelSelector,
          namespaceSelector: strict({ matchNames: arrayOf(str), any: bool }),
          endpoints: arrayOf(
            strict({
              port: str,
              path: str,
              interval: { type: "string", pattern: "^[0-9]+(ms|s|m|h)$" },
              scrapeTimeout: str,
              honorLabels: bool,
              scheme: str,
              relabelings: arrayOf(strict({ sourceLabels: arrayOf(str), targetLabel: str, regex: str, replacement: str, action: str, separator: str })),
            }),
          ),
        },
        ["selector", "endpoints"],
      ),
    },
    ["spec"],
  ),
  PrometheusRule: envelope(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    {
      spec: strict(
        {
          groups: arrayOf(
            strict(
              {
                name: str,
                interval: str,
                rules: arrayOf(strict({ alert: str, record: str, expr: { anyOf: [str, int] }, for: str, labels: strMap, annotations: strMap }, ["expr"])),
              },
              ["name", "rules"],
            ),
          ),
        },
        ["groups"],
      ),
    },
    ["spec"],
  ),
};
