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
  delivery?: { maxAckPending?: number };
  subscriber?: {
    deployment?: string;
    http?: { service?: string; port?: number; path?: string; url?: string; timeout?: string; replyTypes?: string[] };
  };
}

export interface DeploymentOptions {
  natsUrl: string;
  logLevel: string;
  /** Script per deployment name (default services/<name>/src/main.ts). */
  script?: (deployment: string) => string;
  /** Service-specific env per deployment name (e.g. the inventory seed). */
  extraEnv?: Record<string, Record<string, string>>;
  /**
   * The URL of a `subscriber.http.service` on this machine (there is no cluster DNS): the dev
   * stack puts a round-robin proxy over the Service's Deployment there. Unset: http://<service>:<port>.
   */
  serviceUrl?: (namespace: string, service: string) => string;
  /** Absolute directories of JSON Schemas the dispatcher checks replies against. */
  schemasDirs?: string[];
}

/** The dispatcher Deployment of an HTTP-push subscription is `<subscription>-dispatcher`. */
export const DISPATCHER_SUFFIX = "-dispatcher";
export const DISPATCHER_SCRIPT = "services/edge/src/main.ts dispatcher";
export const INGRESS_SCRIPT = "services/edge/src/main.ts ingress";

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
    const contract: Record<string, string> = {
      NATS_URL: opts.natsUrl,
      JETMESH_STREAM: `${ns}_${spec.stream}`,
      JETMESH_CONSUMER: `${ns}_${sub}`,
      JETMESH_TYPES: (spec.types ?? []).join(","),
      JETMESH_DEAD_LETTER_SUBJECT: `jetmesh.dlq.${ns}.${sub}`,
    };
    const http = spec.subscriber?.http;
    if (!http) {
      out.push(
        devDeployment(
          ns,
          deployment,
          opts.script?.(deployment) ?? `services/${deployment}/src/main.ts`,
          contract,
          opts.extraEnv?.[deployment] ?? {},
          opts.logLevel,
        ),
      );
      continue;
    }
    // Push delivery: the subscriber speaks HTTP only; a dispatcher consumes for it.
    const url = http.url ?? `${opts.serviceUrl?.(ns, http.service ?? "") ?? `http://${http.service}:${http.port ?? 80}`}${http.path ?? "/"}`;
    out.push(
      devDeployment(
        ns,
        deployment,
        opts.script?.(deployment) ?? `services/${deployment}/${deployment}.py`,
        {},
        opts.extraEnv?.[deployment] ?? {},
        opts.logLevel,
      ),
    );
    out.push(
      devDeployment(
        ns,
        `${sub}${DISPATCHER_SUFFIX}`,
        DISPATCHER_SCRIPT,
        contract,
        {
          DISPATCH_URL: url,
          DISPATCH_TIMEOUT: http.timeout ?? "10s",
          DISPATCH_REPLY_TYPES: (http.replyTypes ?? []).join(","),
          DISPATCH_SCHEMAS_DIR: opts.schemasDirs?.join(",") ?? "",
          // JetStream bounds unacknowledged events at maxAckPending; one replica at most as many.
          CONCURRENCY: String(Math.min(spec.delivery?.maxAckPending ?? 1000, 256)),
        },
        opts.logLevel,
      ),
    );
  }
  return out;
}

/** `<namespace>/<service>` of every subscription's `subscriber.http.service`. */
export function httpServices(manifests: Manifest[]): string[] {
  const out = new Set<string>();
  for (const m of manifests) {
    const service = m.kind === "EventSubscription" ? (m.spec as SubscriptionSpec | undefined)?.subscriber?.http?.service : undefined;
    if (service) out.add(`${m.metadata.namespace ?? "default"}/${service}`);
  }
  return [...out];
}

/** A Deployment the dev runner runs: `script` (node, or python3 for .py; arguments after it) with `env`. */
export function devDeployment(
  namespace: string,
  name: string,
  script: string,
  contract: Record<string, string>,
  extra: Record<string, string>,
  logLevel: string,
): Manifest {
  const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "jetmesh", "app.kubernetes.io/component": "service" };
  const env: Record<string, string> = {
    ...contract,
    // The runner replaces this with each replica's own free port.
    HTTP_PORT: "8080",
    // Loopback only: the dev stack is not meant to be reachable from the network.
    HTTP_HOST: "127.0.0.1",
    LOG_LEVEL: logLevel,
    ...extra,
  };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace, labels, annotations: { [DEV_COMMAND_ANNOTATION]: script } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": name } },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            {
              name,
              image: `jetmesh/${name}:dev`,
              env: Object.entries(env).map(([k, value]) => ({ name: k, value })),
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
              livenessProbe: { httpGet: { path: "/healthz", port: "http" } },
            },
          ],
        },
      },
    },
  };
}
