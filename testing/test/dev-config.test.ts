import { describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { parseDevConfig, ConfigError } from "../src/dev/config.ts";
import { readManifests, shopDeployments } from "../src/dev/manifests.ts";
import { replicaTargets } from "../src/dev/prometheus.ts";
import { workloadFromDeployment, type DeploymentLike } from "../src/dev/workload.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("parseDevConfig", () => {
  it("has the documented defaults", () => {
    const c = parseDevConfig({}, "/repo");
    expect(c).toMatchObject({
      stateDir: "/repo/.dev",
      natsPort: 4222,
      natsMonitorPort: 8222,
      kubePort: 6443,
      kube: "test",
      orderPort: 8080,
      operatorPort: 8081,
      prometheusPort: 9090,
      prometheus: "auto",
      logLevel: "warn",
      graceSeconds: 10,
      paymentLatencyMs: 40,
      paymentConcurrency: 4,
    });
  });
  it.each([
    [{ JETMESH_DEV_NATS_PORT: "70000" }, /JETMESH_DEV_NATS_PORT must be a port/],
    [{ JETMESH_DEV_ORDER_PORT: "http" }, /JETMESH_DEV_ORDER_PORT must be a port/],
    [{ JETMESH_DEV_PROMETHEUS: "yes" }, /auto or off/],
    [{ JETMESH_DEV_LOG_LEVEL: "loud" }, /JETMESH_DEV_LOG_LEVEL/],
    [{ JETMESH_DEV_GRACE_SECONDS: "-1" }, /GRACE_SECONDS/],
    [{ JETMESH_DEV_KUBE: "kind" }, /JETMESH_DEV_KUBE \(make dev KUBE=...\) must be test or real, got kind/],
  ])("refuses %j", (env, msg) => {
    expect(() => parseDevConfig(env, "/repo")).toThrow(ConfigError);
    expect(() => parseDevConfig(env, "/repo")).toThrow(msg);
  });
  it("takes ports and the state dir from env (0 = any free port)", () => {
    const c = parseDevConfig({ JETMESH_DEV_DIR: "/tmp/x", JETMESH_DEV_KUBE_PORT: "0" }, "/repo");
    expect(c.stateDir).toBe("/tmp/x");
    expect(c.kubePort).toBe(0);
  });
});

describe("shopDeployments", () => {
  it("derives one runnable Deployment per subscription of examples/ with the contract env", () => {
    const deps = shopDeployments(readManifests(`${root}/examples`), { natsUrl: "nats://127.0.0.1:4222", logLevel: "warn" });
    expect(deps.map((d) => d.metadata.name).sort()).toEqual(["inventory", "notifications", "notifications-dispatcher", "order", "payment", "shipping"]);
    const inv = deps.find((d) => d.metadata.name === "inventory");
    const w = workloadFromDeployment(inv as never);
    if (!w.ok) throw new Error(w.reason);
    expect(w.workload).toMatchObject({ namespace: "shop", script: "services/inventory/src/main.ts", replicas: 1 });
    expect(w.workload.env).toMatchObject({
      NATS_URL: "nats://127.0.0.1:4222",
      JETMESH_STREAM: "shop_events",
      JETMESH_CONSUMER: "shop_inventory",
      JETMESH_TYPES: "shop.order.placed.v1,shop.order.cancelled.v1,shop.shipment.dispatched.v1",
      JETMESH_DEAD_LETTER_SUBJECT: "jetmesh.dlq.shop.inventory",
    });
    expect(inv?.metadata.labels?.["app.kubernetes.io/part-of"]).toBe("jetmesh");
  });

  it("runs an HTTP subscriber (python) and a dispatcher that pushes to its Service", () => {
    const deps = shopDeployments(readManifests(`${root}/examples`), {
      natsUrl: "nats://127.0.0.1:4222",
      logLevel: "warn",
      serviceUrl: (ns, service) => `http://127.0.0.1:7${ns === "shop" && service === "notifications" ? "777" : "000"}`,
    });
    const workload = (name: string) => {
      const w = workloadFromDeployment(deps.find((d) => d.metadata.name === name) as DeploymentLike);
      if (!w.ok) throw new Error(w.reason);
      return w.workload;
    };
    expect(workload("notifications")).toMatchObject({ script: "services/notifications/notifications.py" });
    expect(workload("notifications").env.JETMESH_CONSUMER).toBeUndefined();
    expect(workload("notifications-dispatcher")).toMatchObject({ script: "services/edge/src/main.ts", args: ["dispatcher"] });
    expect(workload("notifications-dispatcher").env).toMatchObject({
      JETMESH_STREAM: "shop_events",
      JETMESH_CONSUMER: "shop_notifications",
      JETMESH_TYPES: "shop.shipment.dispatched.v1",
      JETMESH_DEAD_LETTER_SUBJECT: "jetmesh.dlq.shop.notifications",
      DISPATCH_URL: "http://127.0.0.1:7777/events",
      DISPATCH_TIMEOUT: "10s",
      DISPATCH_REPLY_TYPES: "shop.notification.sent.v1",
      CONCURRENCY: "64",
    });
  });
});

describe("replicaTargets", () => {
  it("lists live replicas only, labelled by deployment and pod", () => {
    const t = replicaTargets({
      updatedAt: "",
      workloads: [
        {
          namespace: "shop",
          name: "order",
          script: "services/order/src/main.ts",
          desired: 2,
          replicas: [
            { index: 0, name: "order-0", pid: 10, port: 5000, alive: true, ready: true, restarts: 0 },
            { index: 1, name: "order-1", pid: undefined, port: 5001, alive: false, ready: false, restarts: 2 },
          ],
        },
      ],
    });
    expect(t).toEqual([{ targets: ["127.0.0.1:5000"], labels: { namespace: "shop", deployment: "order", pod: "order-0" } }]);
  });
});
