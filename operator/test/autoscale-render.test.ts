import { describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { readFileSync } from "node:fs";
import {
  HPA_V2_SCHEMA,
  LAG_METRIC,
  renderHorizontalPodAutoscaler,
  renderScaledObject,
  SCALED_OBJECT_SCHEMA,
  scalingTargetFor,
} from "../src/autoscale/index.ts";

const ajv = new Ajv({ allErrors: true, strict: false });
const validScaledObject = ajv.compile(SCALED_OBJECT_SCHEMA);
const validHpa = ajv.compile(HPA_V2_SCHEMA);

const target = scalingTargetFor("shop", "inventory", {
  stream: "events",
  subscriber: { deployment: "inventory" },
  scaling: { minReplicas: 0, maxReplicas: 12, targetLagPerReplica: 250, maxDrainSeconds: 20, scaleDownStabilization: "90s", mode: "keda" },
})!;
const owner = { apiVersion: "jetmesh.io/v1alpha1", kind: "EventSubscription", name: "inventory", uid: "0b7e-uid" };

describe("rendering for mode keda and mode hpa", () => {
  it("maps a subscription onto contract names", () => {
    expect(target).toMatchObject({ stream: "shop_events", consumer: "shop_inventory", deployment: "inventory" });
    expect(scalingTargetFor("shop", "x", { stream: "events" })).toBeUndefined();
  });

  it("renders a KEDA ScaledObject with the nats-jetstream trigger that passes the CRD schema", () => {
    const so = renderScaledObject(target, { natsServerMonitoringEndpoint: "nats.nats.svc.cluster.local:8222", owner });
    expect(validScaledObject(so), JSON.stringify(validScaledObject.errors)).toBe(true);
    expect(so.metadata).toMatchObject({ name: "jetmesh-inventory", namespace: "shop", ownerReferences: [{ uid: "0b7e-uid", controller: true }] });
    expect(so.spec).toMatchObject({ minReplicaCount: 0, maxReplicaCount: 12, cooldownPeriod: 90, scaleTargetRef: { name: "inventory" } });
    expect(so.spec.triggers[0]).toEqual({
      type: "nats-jetstream",
      metadata: {
        natsServerMonitoringEndpoint: "nats.nats.svc.cluster.local:8222",
        account: "$G",
        stream: "shop_events",
        consumer: "shop_inventory",
        lagThreshold: "250",
        activationLagThreshold: "0",
        useHttps: "false",
      },
    });
  });

  it("renders an autoscaling/v2 HPA on the External lag metric that passes the OpenAPI schema", () => {
    const hpa = renderHorizontalPodAutoscaler(target, { owner });
    expect(validHpa(hpa), JSON.stringify(validHpa.errors)).toBe(true);
    // HPA cannot scale to zero: minReplicas 0 becomes 1.
    expect(hpa.spec.minReplicas).toBe(1);
    expect(hpa.spec.metrics[0]!.external).toEqual({
      metric: { name: LAG_METRIC, selector: { matchLabels: { namespace: "shop", subscription: "inventory" } } },
      target: { type: "AverageValue", averageValue: "250" },
    });
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(90);
  });

  it("the schemas refuse what the API servers would refuse", () => {
    const so = renderScaledObject(target, { natsServerMonitoringEndpoint: "http://nats:8222" });
    expect(validScaledObject(so)).toBe(false); // KEDA wants host:port, the scheme comes from useHttps
    const hpa = renderHorizontalPodAutoscaler(target);
    const broken = { ...hpa, spec: { ...hpa.spec, metrics: [{ type: "External" }] } };
    expect(validHpa(broken)).toBe(false);
    const noMax = { ...hpa, spec: { ...hpa.spec, maxReplicas: undefined } };
    expect(validHpa(JSON.parse(JSON.stringify(noMax)))).toBe(false);
  });

  it("every field of the CRD's scaling block is understood, and its defaults parse", () => {
    const crd = parseYaml(readFileSync(new URL("../../crds/eventsubscriptions.jetmesh.io.yaml", import.meta.url), "utf8"));
    const scaling = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.scaling.properties as Record<string, { default?: unknown }>;
    const defaults = Object.fromEntries(Object.entries(scaling).filter(([, v]) => v.default !== undefined).map(([k, v]) => [k, v.default]));
    const known = ["minReplicas", "maxReplicas", "targetLagPerReplica", "maxDrainSeconds", "scaleDownStabilization", "mode", "pollInterval"];
    for (const field of Object.keys(scaling)) expect(known).toContain(field);
    expect(scalingTargetFor("shop", "x", { stream: "s", subscriber: { deployment: "d" }, scaling: defaults })!.policy).toMatchObject({ mode: "native" });
  });
});
