// Writes a kubeconfig (cluster + user + context, current-context set) for the test server.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { stringify } from "yaml";

export function kubeconfigYaml(url: string, namespace = "default"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    // client-node refuses plain http unless insecure-skip-tls-verify is set (config.ts).
    clusters: [{ name: "jetmesh-test", cluster: { server: url, "insecure-skip-tls-verify": true } }],
    // The server does not authenticate; a token keeps clients that insist on credentials happy.
    users: [{ name: "jetmesh-test", user: { token: "jetmesh-test-token" } }],
    contexts: [{ name: "jetmesh-test", context: { cluster: "jetmesh-test", user: "jetmesh-test", namespace } }],
    "current-context": "jetmesh-test",
  });
}

export function writeKubeconfig(path: string, url: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, kubeconfigYaml(url), { mode: 0o600 });
}
