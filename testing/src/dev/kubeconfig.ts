import * as k8s from "@kubernetes/client-node";

/**
 * Loads a kubeconfig for @kubernetes/client-node. client-node 2.x refuses a plain http://
 * server unless the cluster says insecure-skip-tls-verify (there is no TLS to verify: the
 * flag only unlocks http), which kubectl does not require; the dev API server is plain http.
 */
export function loadKubeconfig(file: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  kc.clusters = kc.clusters.map((c) => (c.server.startsWith("http://") && !c.skipTLSVerify ? { ...c, skipTLSVerify: true } : c));
  return kc;
}
