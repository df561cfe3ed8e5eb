// ScaleTarget on a Deployment: reads spec.replicas and readiness from the Deployment, writes
// spec.replicas through the `scale` subresource (a merge patch of only that field, so the
// autoscaler needs RBAC on deployments/scale and never touches the rest of the object).
// Through the operator's KubeRest, so these calls (most of the operator's API traffic: two
// reads per subscription and poll) count in rest_client_requests_total like every other.
import { KubeError, resourcePath, type KubeRest } from "../kube/rest.ts";
import { ScaleForbiddenError, type DeploymentScale, type ScaleTarget } from "./types.ts";

const DEPLOYMENTS = { group: "apps", version: "v1", plural: "deployments" };

interface Scale {
  spec?: { replicas?: number };
}
interface Deployment {
  status?: { observedGeneration?: number; readyReplicas?: number };
}

export class DeploymentScaleTarget implements ScaleTarget {
  readonly #rest: KubeRest;
  readonly #fieldManager: string;

  constructor(rest: KubeRest, fieldManager = "jetmesh-autoscaler") {
    this.#rest = rest;
    this.#fieldManager = fieldManager;
  }

  async get(namespace: string, deployment: string): Promise<DeploymentScale | null> {
    try {
      const scale = await forbiddenAs("get", "deployments/scale", namespace, () =>
        this.#rest.request<Scale>("GET", resourcePath(DEPLOYMENTS, namespace, deployment, "scale")),
      );
      const replicas = scale.spec?.replicas ?? 0;
      // Readiness is on the Deployment, not on Scale; a Deployment nobody reconciles (no
      // observedGeneration) reports none, and then every replica counts as ready.
      const d = await forbiddenAs("get", "deployments", namespace, () => this.#rest.get<Deployment>(DEPLOYMENTS, namespace, deployment));
      const managed = d.status?.observedGeneration !== undefined;
      return managed ? { replicas, readyReplicas: d.status?.readyReplicas ?? 0 } : { replicas };
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return null;
      throw err;
    }
  }

  async set(namespace: string, deployment: string, replicas: number): Promise<void> {
    const path = `${resourcePath(DEPLOYMENTS, namespace, deployment, "scale")}?fieldManager=${encodeURIComponent(this.#fieldManager)}`;
    await forbiddenAs("patch", "deployments/scale", namespace, () => this.#rest.request("PATCH", path, { spec: { replicas } }, "application/merge-patch+json"));
  }
}

/** Runs one API call; a 403 becomes a ScaleForbiddenError naming the permission. */
async function forbiddenAs<T>(verb: string, resource: string, namespace: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof KubeError && err.status === 403) throw new ScaleForbiddenError(verb, resource, namespace, err.serverMessage);
    throw err;
  }
}
