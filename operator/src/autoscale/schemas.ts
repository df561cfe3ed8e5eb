// Compact JSON Schemas (draft-07, for ajv) of the fields JetMesh renders, transcribed from:
// - KEDA's CRD, kedacore/keda config/crd/bases/keda.sh_scaledobjects.yaml (ScaledObjectSpec:
//   scaleTargetRef{name required}, triggers[]{type, metadata: map of strings} required,
//   int32 pollingInterval/cooldownPeriod/minReplicaCount/maxReplicaCount,
//   advanced.horizontalPodAutoscalerConfig.behavior = HPA behavior), and the nats-jetstream
//   scaler's documented metadata keys (keda.sh/docs/scalers/nats-jetstream).
// - Kubernetes OpenAPI v3, kubernetes/kubernetes api/openapi-spec/v3/apis__autoscaling__v2_openapi.json
//   (HorizontalPodAutoscalerSpec requires scaleTargetRef + maxReplicas; CrossVersionObjectReference
//   requires kind + name; MetricSpec requires type; ExternalMetricSource requires metric + target;
//   MetricIdentifier requires name; MetricTarget requires type; HPAScalingPolicy requires
//   type + value + periodSeconds; stabilizationWindowSeconds 0..3600).
// Only what the renderers emit is described, but unknown fields are refused so a typo fails.

const int32 = { type: "integer", minimum: -2147483648, maximum: 2147483647 } as const;
const quantity = { type: "string", pattern: "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$" } as const;

const objectMeta = {
  type: "object",
  required: ["name", "namespace"],
  properties: {
    name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 253 },
    namespace: { type: "string", minLength: 1 },
    labels: { type: "object", additionalProperties: { type: "string" } },
    ownerReferences: {
      type: "array",
      items: {
        type: "object",
        required: ["apiVersion", "kind", "name", "uid"],
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          name: { type: "string" },
          uid: { type: "string" },
          controller: { type: "boolean" },
          blockOwnerDeletion: { type: "boolean" },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const;

const hpaScalingRules = {
  type: "object",
  properties: {
    stabilizationWindowSeconds: { type: "integer", minimum: 0, maximum: 3600 },
    selectPolicy: { enum: ["Max", "Min", "Disabled"] },
    policies: {
      type: "array",
      items: {
        type: "object",
        required: ["type", "value", "periodSeconds"],
        properties: { type: { enum: ["Pods", "Percent"] }, value: { type: "integer", minimum: 1 }, periodSeconds: { type: "integer", minimum: 1, maximum: 1800 } },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const;

const behavior = {
  type: "object",
  properties: { scaleUp: hpaScalingRules, scaleDown: hpaScalingRules },
  additionalProperties: false,
} as const;

const scaleTargetRef = {
  type: "object",
  required: ["kind", "name"],
  properties: { apiVersion: { type: "string" }, kind: { type: "string", minLength: 1 }, name: { type: "string", minLength: 1 } },
  additionalProperties: false,
} as const;

export const SCALED_OBJECT_SCHEMA = {
  $id: "keda.sh/v1alpha1/ScaledObject",
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  properties: {
    apiVersion: { const: "keda.sh/v1alpha1" },
    kind: { const: "ScaledObject" },
    metadata: objectMeta,
    spec: {
      type: "object",
      required: ["scaleTargetRef", "triggers"],
      properties: {
        scaleTargetRef: { ...scaleTargetRef, required: ["name"] },
        pollingInterval: { ...int32, minimum: 1 },
        cooldownPeriod: { ...int32, minimum: 0 },
        minReplicaCount: { ...int32, minimum: 0 },
        maxReplicaCount: { ...int32, minimum: 1 },
        advanced: {
          type: "object",
          properties: {
            horizontalPodAutoscalerConfig: { type: "object", properties: { behavior }, additionalProperties: false },
            restoreToOriginalReplicaCount: { type: "boolean" },
          },
          additionalProperties: false,
        },
        triggers: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["type", "metadata"],
            properties: {
              type: { const: "nats-jetstream" },
              name: { type: "string" },
              metadata: {
                type: "object",
                required: ["natsServerMonitoringEndpoint", "stream", "consumer", "lagThreshold"],
                properties: {
                  natsServerMonitoringEndpoint: { type: "string", pattern: "^[^/:]+(:[0-9]+)?$" },
                  account: { type: "string", minLength: 1 },
                  stream: { type: "string", pattern: "^[A-Za-z0-9_-]+$" },
                  consumer: { type: "string", pattern: "^[A-Za-z0-9_-]+$" },
                  lagThreshold: { type: "string", pattern: "^[1-9][0-9]*$" },
                  activationLagThreshold: { type: "string", pattern: "^[0-9]+$" },
                  useHttps: { enum: ["true", "false"] },
                },
                additionalProperties: false,
              },
            },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

export const HPA_V2_SCHEMA = {
  $id: "autoscaling/v2/HorizontalPodAutoscaler",
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  properties: {
    apiVersion: { const: "autoscaling/v2" },
    kind: { const: "HorizontalPodAutoscaler" },
    metadata: objectMeta,
    spec: {
      type: "object",
      required: ["scaleTargetRef", "maxReplicas"],
      properties: {
        scaleTargetRef,
        // Without the HPAScaleToZero feature gate the API refuses minReplicas 0.
        minReplicas: { ...int32, minimum: 1 },
        maxReplicas: { ...int32, minimum: 1 },
        metrics: {
          type: "array",
          items: {
            type: "object",
            required: ["type"],
            properties: {
              type: { enum: ["External", "Object", "Pods", "Resource", "ContainerResource"] },
              external: {
                type: "object",
                required: ["metric", "target"],
                properties: {
                  metric: {
                    type: "object",
                    required: ["name"],
                    properties: {
                      name: { type: "string", minLength: 1 },
                      selector: {
                        type: "object",
                        properties: { matchLabels: { type: "object", additionalProperties: { type: "string" } } },
                        additionalProperties: false,
                      },
                    },
                    additionalProperties: false,
                  },
                  target: {
                    type: "object",
                    required: ["type"],
                    properties: {
                      type: { enum: ["Utilization", "Value", "AverageValue"] },
                      value: quantity,
                      averageValue: quantity,
                      averageUtilization: int32,
                    },
                    additionalProperties: false,
                  },
                },
                additionalProperties: false,
              },
            },
            // An External metric must carry its source (the API server's validation).
            if: { properties: { type: { const: "External" } } },
            then: { required: ["external"] },
            additionalProperties: false,
          },
        },
        behavior,
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;
