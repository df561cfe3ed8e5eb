// ScaleTarget on a Deployment: reads spec.replicas and readiness from the Deployment, writes
// spec.replicas through the `scale` subresource (a merge patch of only that field, so the
// autoscaler needs RBAC on deployments/scale and never touches the rest of the object).
import { ApiException, AppsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { ScaleForbiddenError, type DeploymentScale, type ScaleTarget } from "./types.ts";

export class DeploymentScaleTarget implements ScaleTarget {
  readonly #apps: AppsV1Api;
  readonly #fieldManager: string;

  constructor(kc: KubeConfig, fieldManager = "jetmesh-autoscaler") {
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#fieldManager = fieldManager;
  }

  async get(namespace: string, deployment: string): Promise<DeploymentScale | null> {
    try {
      const scale = await forbiddenAs("get", "deployments/scale", namespace, () => this.#apps.readNamespacedDeploymentScale({ name: deployment, namespace }));
      const replicas = scale.spec?.replicas ?? 0;
      // Readiness is on the Deployment, not on Scale; a Deployment nobody reconciles (no
      // observedGeneration) reports none, and then every replica counts as ready.
      const d = await forbiddenAs("get", "deployments", namespace, () => this.#apps.readNamespacedDeployment({ name: deployment, namespace }));
      const managed = d.status?.observedGeneration !== undefined;
      return managed ? { replicas, readyReplicas: d.status?.readyReplicas ?? 0 } : { replicas };
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return null;
      throw err;
    }
  }

  async set(namespace: string, deployment: string, replicas: number): Promise<void> {
    await forbiddenAs("patch", "deployments/scale", namespace, () =>
      this.#apps.patchNamespacedDeploymentScale(
        { name: deployment, namespace, body: { spec: { replicas } }, fieldManager: this.#fieldManager },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ),
    );
  }
}

/** Runs one API call; a 403 becomes a ScaleForbiddenError naming the permission. */
async function forbiddenAs<T>(verb: string, resource: string, namespace: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ApiException && err.code === 403) {
      let message = "403 Forbidden";
      try {
        message = (JSON.parse(String(err.body)) as { message?: string }).message ?? message;
      } catch {
        // a body that is not a Status: keep the bare code
      }
      throw new ScaleForbiddenError(verb, resource, namespace, message);
    }
    throw err;
  }
}
