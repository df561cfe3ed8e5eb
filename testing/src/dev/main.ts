// `make dev`: runs the whole mesh on this machine until Ctrl-C (docs/dev.md).
//   node --conditions=source testing/src/dev/main.ts          start (reusing .dev/ state)
//   node --conditions=source testing/src/dev/main.ts clean    remove .dev/ (make dev-clean)
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, parseDevConfig } from "./config.ts";
import { cleanDevState, startDevStack, type DevEndpoints } from "./stack.ts";

const rootDir = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

function step(msg: string): void {
  process.stdout.write(`==> ${msg}\n`);
}

export function summary(e: DevEndpoints): string {
  const rel = (p: string) => (p.startsWith(rootDir + "/") ? p.slice(rootDir.length + 1) : p);
  return [
    "",
    "JetMesh dev stack is running (Ctrl-C stops everything):",
    `  order API      ${e.orderUrl}   (curl -X POST ${e.orderUrl}/orders ...; GET ${e.orderUrl}/orders/<id>)`,
    `  HTTP ingress   ${e.ingressUrl}/events   (CloudEvents over HTTP, bearer token in ${rel(e.ingressTokensFile)}; docs/http.md)`,
    `  NATS           ${e.natsUrl}   (monitoring ${e.natsMonitorUrl})`,
    `  API server     ${e.kubeUrl}`,
    `  kubeconfig     ${rel(e.kubeconfig)}`,
    `  operator       ${e.operatorUrl}/metrics`,
    `  Prometheus     ${e.prometheusUrl ?? "(not running: prometheus not found, see above how to get it)"}`,
    `  Jaeger         ${e.jaegerUrl ? `${e.jaegerUrl}   (traces: ${e.jaegerUrl}/search?service=order; make demo prints one order's)` : "(not running: tools/ensure.sh jaeger builds it)"}`,
    `  processes      ${rel(e.processesFile)}`,
    // Convenience over security, which is only safe because everything listens on loopback.
    "  security       open, loopback only: the order API has no token (customer emails are masked)",
    "                 and NATS no authentication; the Helm chart turns both on (docs/security.md)",
    "",
    "In another terminal:",
    `  export KUBECONFIG=${e.kubeconfig}`,
    "  kubectl get jetmesh -A",
    "  kubectl get deploy -n shop -w",
    `  NATS_URL=${e.natsUrl} services/cli/bin/jetmesh.js status -n shop`,
    "  make demo",
    "",
  ].join("\n");
}

async function main(): Promise<number> {
  let config;
  try {
    config = parseDevConfig(process.env, rootDir);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`make dev: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (process.argv[2] === "clean") {
    try {
      process.stdout.write(`${await cleanDevState(config.stateDir)}\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`make dev-clean: ${(err as Error).message}\n`);
      return 1;
    }
  }
  let stopping: Promise<void> | undefined;
  let stack: Awaited<ReturnType<typeof startDevStack>> | undefined;
  const shutdown = (sig: string) => {
    if (stopping) {
      process.stderr.write(`\n${sig} again: still stopping, please wait (children get SIGKILL after ${config.graceSeconds} s)\n`);
      return;
    }
    step(`${sig}: stopping services and operator, then Prometheus, the API server and nats-server`);
    stopping = (stack?.stop() ?? Promise.resolve()).then(() => step("stopped; state kept in " + config.stateDir + " (make dev-clean removes it)"));
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  try {
    stack = await startDevStack(config, process.stdout, step);
  } catch (err) {
    process.stderr.write(`make dev: ${(err as Error).message}\n`);
    return 1;
  }
  if (stopping) {
    // A signal arrived while starting: stop what started.
    await stack.stop();
    return 0;
  }
  process.stdout.write(summary(stack.endpoints));
  await new Promise<void>((resolveWait) => {
    const check = setInterval(() => {
      if (stopping) {
        clearInterval(check);
        void stopping.then(resolveWait);
      }
    }, 200);
  });
  return 0;
}

process.exitCode = await main();
