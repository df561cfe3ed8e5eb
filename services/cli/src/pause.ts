// `jetmesh pause|resume`: sets spec.paused of an EventSubscription through the Kubernetes API;
// the operator pauses or resumes its JetStream consumer and reports it in status.
import * as k8s from "@kubernetes/client-node";

const REF = { group: "jetmesh.io", version: "v1alpha1", plural: "eventsubscriptions" };

/** Whether spec.paused had to change (false: it already said so). Throws the API's errors. */
export async function setPaused(kc: k8s.KubeConfig, namespace: string, name: string, paused: boolean): Promise<{ changed: boolean }> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const current = (await api.getNamespacedCustomObject({ ...REF, namespace, name })) as { spec?: { paused?: boolean } };
  if ((current.spec?.paused === true) === paused) return { changed: false };
  await api.patchNamespacedCustomObject(
    { ...REF, namespace, name, body: { spec: { paused } } },
    k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  );
  return { changed: true };
}

/** "ns/name", or name in `namespace` (-n, else the kubeconfig context's, else default). */
export function subscriptionRef(arg: string, namespace: string): { namespace: string; name: string } {
  const slash = arg.indexOf("/");
  if (slash > 0) return { namespace: arg.slice(0, slash), name: arg.slice(slash + 1) };
  return { namespace, name: arg };
}
