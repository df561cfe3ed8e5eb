// Standalone Kubernetes API test server (for `make dev`):
//   node --conditions=source testing/src/kube/main.ts --port 0 --data .dev/kube --kubeconfig .dev/kubeconfig
// Prints {"url":...,"kubeconfig":...} as one JSON line on stdout; runs until SIGTERM/SIGINT.
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { startKubeApiServer } from "./server.ts";

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: main.ts [--port N] [--data DIR] [--kubeconfig FILE] [--history N] [--log]\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      data: { type: "string" },
      kubeconfig: { type: "string" },
      history: { type: "string" },
      log: { type: "boolean", default: false },
    },
  }).values;
} catch (e) {
  usage(e instanceof Error ? e.message : String(e));
}
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`invalid --port ${args.port}`);
const history = args.history === undefined ? undefined : Number(args.history);
if (history !== undefined && (!Number.isInteger(history) || history < 1)) usage(`invalid --history ${args.history}`);

const server = await startKubeApiServer({
  port,
  ...(args.data ? { persistDir: resolve(args.data) } : {}),
  ...(args.kubeconfig ? { kubeconfigPath: resolve(args.kubeconfig) } : {}),
  ...(history ? { historyLimit: history } : {}),
  // One JSON line per request on stderr (stdout carries only the address line).
  ...(args.log
    ? {
        onRequest: (r: { method: string; path: string; code: number; ms: number; userAgent: string | undefined }) =>
          process.stderr.write(`${JSON.stringify(r)}\n`),
      }
    : {}),
});
process.stdout.write(`${JSON.stringify({ url: server.url, kubeconfig: server.kubeconfigPath })}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.stop().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`stop failed: ${String(e)}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
