import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { readFileSync } from "node:fs";
// The published models validate against KEDA's CRD and the Kubernetes OpenAPI (generated from them).
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { LAG_METRIC, renderHorizontalPodAutoscaler, renderScaledObject, scalingTargetFor } from "../src/autoscale/index.ts";

const validScaledObject = (o: unknown) => new ScaledObject(o as ScaledObject).validate();
const validHpa = (o: unknown) => new HorizontalPodAutoscaler(o as HorizontalPodAutoscaler).validate();

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
    expect(() => validScaledObject(so)).not.toThrow();
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
    expect(() => validHpa(hpa)).not.toThrow();
    // HPA cannot scale to zero: minReplicas 0 becomes 1.
    expect(hpa.spec.minReplicas).toBe(1);
    expect(hpa.spec.metrics?.[0]?.external).toEqual({
      metric: { name: LAG_METRIC, selector: { matchLabels: { namespace: "shop", subscription: "inventory" } } },
      target: { type: "AverageValue", averageValue: "250" },
    });
    expect(hpa.spec.behavior?.scaleDown?.stabilizationWindowSeconds).toBe(90);
  });

  it("the schemas refuse what the API servers would refuse", () => {
    const so = renderScaledObject(target, { natsServerMonitoringEndpoint: "nats:8222" });
    expect(() => validScaledObject({ ...so, spec: { ...so.spec, scaleTargetRef: {} } })).toThrow(/name/);
    const hpa = renderHorizontalPodAutoscaler(target);
    expect(() => validHpa({ ...hpa, spec: { ...hpa.spec, metrics: [{ type: "External", external: {} }] } })).toThrow();
    const noMax = { ...hpa, spec: { ...hpa.spec, maxReplicas: undefined } };
    expect(() => validHpa(JSON.parse(JSON.stringify(noMax)))).toThrow(/maxReplicas/);
  });

  it("every field of the CRD's scaling block is understood, and its defaults parse", () => {
    const crd = parseYaml(readFileSync(new URL("../../crds/eventsubscriptions.jetmesh.io.yaml", import.meta.url), "utf8"));
    const scaling = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.scaling.properties as Record<string, { default?: unknown }>;
    const defaults = Object.fromEntries(
      Object.entries(scaling)
        .filter(([, v]) => v.default !== undefined)
        .map(([k, v]) => [k, v.default]),
    );
    const known = ["minReplicas", "maxReplicas", "targetLagPerReplica", "maxDrainSeconds", "scaleDownStabilization", "mode", "pollInterval"];
    for (const field of Object.keys(scaling)) expect(known).toContain(field);
    expect(scalingTargetFor("shop", "x", { stream: "s", subscriber: { deployment: "d" }, scaling: defaults })!.policy).toMatchObject({ mode: "native" });
  });
});
