// What the chart's NetworkPolicies allow, evaluated with the Kubernetes semantics (a pod
// selected by a policy of a type may only do what some rule of such a policy allows; rules
// match on port/protocol and on peers by pod labels in the namespace or by CIDR): services
// reach only DNS and NATS, the operator also the API server, and nothing else gets out.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chartDir, loadYaml } from "./chart.ts";
import { renderChart, type Obj } from "./rendered.ts";

interface Endpoint {
  /** Pod labels when the peer is a pod in the release namespace. */
  labels?: Record<string, string>;
  ip: string;
  port: number;
  protocol?: "TCP" | "UDP";
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  if (bits === 0) return true;
  const block = 2 ** (32 - bits);
  return Math.floor(ipToInt(base!) / block) === Math.floor(ipToInt(ip) / block);
}

function selects(selector: Obj | undefined, labels: Record<string, string> | undefined): boolean {
  const match = (selector?.matchLabels ?? {}) as Record<string, string>;
  return Object.entries(match).every(([k, v]) => labels?.[k] === v);
}

function portMatches(ports: Obj[] | undefined, to: Endpoint): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.port === undefined || p.port === to.port) && (p.protocol ?? "TCP") === (to.protocol ?? "TCP"));
}

function peerMatches(peers: Obj[] | undefined, other: Endpoint): boolean {
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => {
    if (peer.ipBlock) return cidrContains(peer.ipBlock.cidr, other.ip);
    if (peer.podSelector && !peer.namespaceSelector) return other.labels !== undefined && selects(peer.podSelector, other.labels);
    return false;
  });
}

/** Whether a pod with `labels` may open a connection to `to` (egress side only). */
function egressAllowed(policies: Obj[], labels: Record<string, string>, to: Endpoint): boolean {
  const mine = policies.filter((p) => selects(p.spec.podSelector, labels) && (p.spec.policyTypes as string[]).includes("Egress"));
  if (mine.length === 0) return true;
  return mine.some((p) => ((p.spec.egress ?? []) as Obj[]).some((rule) => portMatches(rule.ports, to) && peerMatches(rule.to, to)));
}

/** Whether a pod with `labels` accepts a connection on `port` from `from` (ingress side). */
function ingressAllowed(policies: Obj[], labels: Record<string, string>, port: number, from: Endpoint): boolean {
  const mine = policies.filter((p) => selects(p.spec.podSelector, labels) && (p.spec.policyTypes as string[]).includes("Ingress"));
  if (mine.length === 0) return true;
  return mine.some((p) => ((p.spec.ingress ?? []) as Obj[]).some((rule) => portMatches(rule.ports, { ...from, port }) && peerMatches(rule.from, from)));
}

const nats = { labels: { "app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "jetmesh" }, ip: "10.244.1.7" };
const dns = { ip: "10.96.0.10", port: 53, protocol: "UDP" as const };
const apiServer = { ip: "172.18.0.2" };
const postgres = { labels: { app: "postgres" }, ip: "10.244.2.9", port: 5432 };

/** Pod labels of a component's Deployment (release `jetmesh`: named jetmesh-<component>). */
function podLabels(objects: Obj[], component: string): Record<string, string> {
  const name = component === "jetmesh-operator" ? component : `jetmesh-${component}`;
  const d = objects.find((o) => o.kind === "Deployment" && o.metadata.name === name);
  if (!d) throw new Error(`no Deployment ${name}`);
  return d.spec.template.metadata.labels as Record<string, string>;
}

describe("the NetworkPolicy evaluator itself", () => {
  it("matches CIDRs", () => {
    expect([cidrContains("10.244.0.0/16", "10.244.3.4"), cidrContains("10.244.0.0/16", "10.245.0.1"), cidrContains("0.0.0.0/0", "8.8.8.8")]).toEqual([
      true,
      false,
      true,
    ]);
  });
  it("allows everything for a pod no policy selects", () => {
    expect(egressAllowed([], { a: "b" }, { ip: "1.2.3.4", port: 1 })).toBe(true);
  });
});

describe("NetworkPolicies with the chart's defaults (NATS subchart)", () => {
  const { objects } = renderChart({});
  const policies = objects.filter((o) => o.kind === "NetworkPolicy");
  const services = ["order", "inventory", "payment", "shipping"];

  it("a shop service reaches DNS and NATS, and nothing else", () => {
    for (const svc of services) {
      const labels = podLabels(objects, svc);
      expect(egressAllowed(policies, labels, dns), `${svc} → DNS`).toBe(true);
      expect(egressAllowed(policies, labels, { ...nats, port: 4222 }), `${svc} → NATS client port`).toBe(true);
      expect(egressAllowed(policies, labels, { ...nats, port: 6222 }), `${svc} → NATS cluster port`).toBe(false);
      expect(egressAllowed(policies, labels, { ...apiServer, port: 6443 }), `${svc} → API server`).toBe(false);
      expect(egressAllowed(policies, labels, { ...apiServer, port: 443 }), `${svc} → API server`).toBe(false);
      expect(egressAllowed(policies, labels, postgres), `${svc} → elsewhere`).toBe(false);
      // A pod on 4222 that is not NATS (say, an attacker's listener) is not reachable either.
      expect(egressAllowed(policies, labels, { labels: { app: "evil" }, ip: "10.244.9.9", port: 4222 }), `${svc} → fake NATS`).toBe(false);
    }
  });

  it("the operator reaches DNS, NATS and the API server, and nothing else", () => {
    const labels = podLabels(objects, "jetmesh-operator");
    expect(egressAllowed(policies, labels, dns)).toBe(true);
    expect(egressAllowed(policies, labels, { ...nats, port: 4222 })).toBe(true);
    expect(egressAllowed(policies, labels, { ...apiServer, port: 6443 })).toBe(true);
    expect(egressAllowed(policies, labels, { ...apiServer, port: 443 })).toBe(true);
    expect(egressAllowed(policies, labels, postgres)).toBe(false);
    expect(egressAllowed(policies, labels, { ip: "8.8.8.8", port: 80 })).toBe(false);
  });

  it("JetMesh pods accept connections only on their HTTP port (API, probes, metrics)", () => {
    const prometheus = { ip: "10.244.2.3", port: 0 };
    const order = podLabels(objects, "order");
    expect(ingressAllowed(policies, order, 8080, prometheus)).toBe(true);
    expect(ingressAllowed(policies, order, 9229, prometheus)).toBe(false);
    expect(ingressAllowed(policies, podLabels(objects, "jetmesh-operator"), 8080, prometheus)).toBe(true);
  });
});

describe("NetworkPolicies with an external NATS (examples/external-nats.yaml)", () => {
  const { objects } = renderChart(loadYaml(join(chartDir, "examples", "external-nats.yaml")));
  const policies = objects.filter((o) => o.kind === "NetworkPolicy");
  it("NATS traffic may go only to the listed CIDRs", () => {
    const labels = podLabels(objects, "payment");
    expect(egressAllowed(policies, labels, { ip: "10.244.7.1", port: 4222 })).toBe(true);
    expect(egressAllowed(policies, labels, { ip: "203.0.113.5", port: 4222 })).toBe(false);
    expect(egressAllowed(policies, labels, { ip: "10.244.7.1", port: 5432 })).toBe(false);
  });
});

describe("NetworkPolicies of the HTTP edge (docs/http.md#network-policies)", () => {
  const edgeOn = {
    edge: { ingress: { enabled: true, tokensSecret: "t" }, dispatchers: { enabled: true } },
    notifications: { enabled: true },
    nats: { jetmeshAuth: { ingress: { types: ["shop.>"] } } },
    tracing: { otlpEndpoint: "http://collector.monitoring:4318", egress: { ports: [4318], cidrs: ["10.96.40.0/24"] } },
  };
  const { objects } = renderChart(edgeOn);
  const policies = objects.filter((o) => o.kind === "NetworkPolicy");
  const ingressPod = podLabels(objects, "ingress");
  const dispatcherPod = podLabels(objects, "notifications-dispatcher");
  const notificationsPod = podLabels(objects, "notifications");
  const orderPod = podLabels(objects, "order");
  const collector = { ip: "10.96.40.9", port: 4318 };
  const at = (labels: Record<string, string>, ip: string, port = 8080) => ({ labels, ip, port });

  it("selects each edge pod (so none is left open)", () => {
    for (const labels of [ingressPod, dispatcherPod, notificationsPod]) {
      const mine = policies.filter((p) => selects(p.spec.podSelector, labels));
      expect(mine.map((p) => p.metadata.name as string)).toHaveLength(1);
    }
  });

  it("the ingress takes producers from anywhere on its port, and reaches only DNS, NATS and the collector", () => {
    expect(ingressAllowed(policies, ingressPod, 8080, { ip: "203.0.113.7", port: 0 })).toBe(true);
    expect(ingressAllowed(policies, ingressPod, 8080, { labels: { app: "billing" }, ip: "10.244.3.3", port: 0 })).toBe(true);
    expect(ingressAllowed(policies, ingressPod, 9229, { ip: "203.0.113.7", port: 0 })).toBe(false);
    expect(egressAllowed(policies, ingressPod, dns)).toBe(true);
    expect(egressAllowed(policies, ingressPod, { ...nats, port: 4222 })).toBe(true);
    expect(egressAllowed(policies, ingressPod, collector)).toBe(true);
    expect(egressAllowed(policies, ingressPod, { ...collector, port: 4317 })).toBe(false);
    expect(egressAllowed(policies, ingressPod, at(notificationsPod, "10.244.4.4"))).toBe(false);
    expect(egressAllowed(policies, ingressPod, postgres)).toBe(false);
    expect(egressAllowed(policies, ingressPod, { ip: "8.8.8.8", port: 443 })).toBe(false);
  });

  it("edge.ingress.allowedFrom narrows who may reach the ingress", () => {
    const narrowed = renderChart({
      ...edgeOn,
      edge: {
        ...edgeOn.edge,
        ingress: { ...edgeOn.edge.ingress, allowedFrom: [{ podSelector: { matchLabels: { role: "producer" } } }, { ipBlock: { cidr: "192.168.0.0/16" } }] },
      },
    }).objects.filter((o) => o.kind === "NetworkPolicy");
    expect(ingressAllowed(narrowed, ingressPod, 8080, { labels: { role: "producer" }, ip: "10.244.3.3", port: 0 })).toBe(true);
    expect(ingressAllowed(narrowed, ingressPod, 8080, { ip: "192.168.7.1", port: 0 })).toBe(true);
    expect(ingressAllowed(narrowed, ingressPod, 8080, { labels: { role: "other" }, ip: "10.244.3.4", port: 0 })).toBe(false);
    expect(ingressAllowed(narrowed, ingressPod, 8080, { ip: "203.0.113.7", port: 0 })).toBe(false);
  });

  it("the notifications dispatcher reaches DNS, NATS, the collector and the notifications pods' port, nothing else", () => {
    expect(egressAllowed(policies, dispatcherPod, dns)).toBe(true);
    expect(egressAllowed(policies, dispatcherPod, { ...nats, port: 4222 })).toBe(true);
    expect(egressAllowed(policies, dispatcherPod, collector)).toBe(true);
    expect(egressAllowed(policies, dispatcherPod, at(notificationsPod, "10.244.4.4"))).toBe(true);
    expect(egressAllowed(policies, dispatcherPod, at(notificationsPod, "10.244.4.4", 9090))).toBe(false);
    expect(egressAllowed(policies, dispatcherPod, at(orderPod, "10.244.4.5"))).toBe(false);
    expect(egressAllowed(policies, dispatcherPod, { ...nats, port: 6222 })).toBe(false);
    expect(egressAllowed(policies, dispatcherPod, { ip: "8.8.8.8", port: 443 })).toBe(false);
  });

  it("the notifications pods take connections only from their dispatcher and reach only DNS", () => {
    expect(ingressAllowed(policies, notificationsPod, 8080, { labels: dispatcherPod, ip: "10.244.4.6", port: 0 })).toBe(true);
    expect(ingressAllowed(policies, notificationsPod, 8080, { labels: ingressPod, ip: "10.244.4.7", port: 0 })).toBe(false);
    expect(ingressAllowed(policies, notificationsPod, 8080, { labels: orderPod, ip: "10.244.4.8", port: 0 })).toBe(false);
    expect(ingressAllowed(policies, notificationsPod, 8080, { ip: "10.244.2.3", port: 0 })).toBe(false);
    expect(egressAllowed(policies, notificationsPod, dns)).toBe(true);
    expect(egressAllowed(policies, notificationsPod, { ...nats, port: 4222 })).toBe(false);
    expect(egressAllowed(policies, notificationsPod, collector)).toBe(false);
    expect(egressAllowed(policies, notificationsPod, at(orderPod, "10.244.4.5"))).toBe(false);
    expect(egressAllowed(policies, notificationsPod, { ip: "8.8.8.8", port: 443 })).toBe(false);
    // Without dispatchers nobody may connect (no rule that would let everyone in).
    const alone = renderChart({ notifications: { enabled: true } }).objects.filter((o) => o.kind === "NetworkPolicy");
    expect(ingressAllowed(alone, notificationsPod, 8080, { labels: dispatcherPod, ip: "10.244.4.6", port: 0 })).toBe(false);
  });

  it("a dispatcher pushing to a URL reaches only what edge.dispatchers.egress allows; without it the chart refuses", () => {
    const billing = {
      stream: "events",
      types: ["shop.order.confirmed.v1"],
      deadLetter: { stream: "dead-letters" },
      subscriber: { deployment: "billing", http: { url: "https://billing.example.com/events" } },
    };
    const base = {
      ...edgeOn,
      shop: { subscriptions: { billing } },
      nats: {
        jetmeshAuth: {
          ...edgeOn.nats.jetmeshAuth,
          dispatchers: { notifications: { stream: "events", replyTypes: ["shop.notification.sent.v1"] }, billing: { stream: "events" } },
        },
      },
    };
    expect(() => renderChart(base)).toThrow(/edge\.dispatchers\.egress\.billing: .*https:\/\/billing\.example\.com\/events/);
    const allowed = renderChart({
      ...base,
      edge: {
        ...edgeOn.edge,
        dispatchers: { enabled: true, egress: { billing: [{ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }], ports: [{ port: 443 }] }] } },
      },
    }).objects;
    const pols = allowed.filter((o) => o.kind === "NetworkPolicy");
    const pod = podLabels(allowed, "billing-dispatcher");
    expect(egressAllowed(pols, pod, { ip: "203.0.113.5", port: 443 })).toBe(true);
    expect(egressAllowed(pols, pod, { ip: "203.0.113.5", port: 80 })).toBe(false);
    expect(egressAllowed(pols, pod, { ip: "198.51.100.1", port: 443 })).toBe(false);
    expect(egressAllowed(pols, pod, at(notificationsPod, "10.244.4.4"))).toBe(false);
    expect(egressAllowed(pols, pod, { ...nats, port: 4222 })).toBe(true);
  });
});

describe("NetworkPolicies switched off", () => {
  it("render no policy", () => {
    expect(renderChart({ networkPolicy: { enabled: false } }).objects.filter((o) => o.kind === "NetworkPolicy")).toEqual([]);
  });
});
