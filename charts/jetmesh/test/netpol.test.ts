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

describe("NetworkPolicies switched off", () => {
  it("render no policy", () => {
    expect(renderChart({ networkPolicy: { enabled: false } }).objects.filter((o) => o.kind === "NetworkPolicy")).toEqual([]);
  });
});
