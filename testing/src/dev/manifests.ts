// The shop's Deployments for the dev stack, derived from the EventSubscriptions in examples/
// so the pod env (docs/contracts.md) can never disagree with the subscriptions: one Deployment
// per subscriber.deployment, running services/<deployment>/src/main.ts.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { DEV_COMMAND_ANNOTATION } from "./workload.ts";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

/** Every YAML document of the .yaml/.yml files in `dir`, in file-name order. */
export function readManifests(dir: string): Manifest[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort();
  const out: Manifest[] = [];
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), "utf8"))) {
      if (doc.errors.length) throw new Error(`${join(dir, f)}: ${doc.errors[0]?.message}`);
      const m = doc.toJS() as Manifest | null;
      if (m && typeof m === "object" && m.kind) out.push(m);
    }
  }
  return out;
}

interface SubscriptionSpec {
  stream?: string;
  types?: string[];
  subscriber?: { deployment?: string };
}

export interface DeploymentOptions {
  natsUrl: string;
  logLevel: string;
  /** Script per deployment name (default services/<name>/src/main.ts). */
  script?: (deployment: string) => string;
  /** Service-specific env per deployment name (e.g. the inventory seed). */
  extraEnv?: Record<string, Record<string, string>>;
}

/** One Deployment per subscriber of the EventSubscriptions among `manifests`. */
export function shopDeployments(manifests: Manifest[], opts: DeploymentOptions): Manifest[] {
  const out: Manifest[] = [];
  for (const m of manifests) {
    if (m.kind !== "EventSubscription") continue;
    const spec = (m.spec ?? {}) as SubscriptionSpec;
    const deployment = spec.subscriber?.deployment;
    if (!deployment || !spec.stream) continue;
    const ns = m.metadata.namespace ?? "default";
    const sub = m.metadata.name;
    const labels = { "app.kubernetes.io/name": deployment, "app.kubernetes.io/part-of": "jetmesh", "app.kubernetes.io/component": "service" };
    const env: Record<string, string> = {
      NATS_URL: opts.natsUrl,
      JETMESH_STREAM: `${ns}_${spec.stream}`,
      JETMESH_CONSUMER: `${ns}_${sub}`,
      JETMESH_TYPES: (spec.types ?? []).join(","),
      JETMESH_DEAD_LETTER_SUBJECT: `jetmesh.dlq.${ns}.${sub}`,
      // The runner replaces this with each replica's own free port.
      HTTP_PORT: "8080",
      // Loopback only: the dev stack is not meant to be reachable from the network.
      HTTP_HOST: "127.0.0.1",
      LOG_LEVEL: opts.logLevel,
      ...opts.extraEnv?.[deployment],
    };
    out.push({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: deployment,
        namespace: ns,
        labels,
        annotations: { [DEV_COMMAND_ANNOTATION]: opts.script?.(deployment) ?? `services/${deployment}/src/main.ts` },
      },
      spec: {
        replicas: 1,
        selector: { matchLabels: { "app.kubernetes.io/name": deployment } },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: deployment,
                image: `jetmesh/${deployment}:dev`,
                env: Object.entries(env).map(([name, value]) => ({ name, value })),
                ports: [{ name: "http", containerPort: 8080 }],
                readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
                livenessProbe: { httpGet: { path: "/healthz", port: "http" } },
              },
            ],
          },
        },
      },
    });
  }
  return out;
}
