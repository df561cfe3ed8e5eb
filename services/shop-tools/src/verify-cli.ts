// npm run verify -- --nats nats://127.0.0.1:4222 [--json] [--settle 30]
// Exit code 0: no violation; 1: violations; 2: usage or connection error.
import { connect } from "@nats-io/transport-node";
import { formatReport, verifyShop } from "./verify.ts";

const USAGE =
  "usage: verify [--nats <url>] [--json] [--settle <seconds>]\n  --nats    NATS server URL(s), comma-separated (default $NATS_URL or nats://127.0.0.1:4222)\n  --json    print the report as JSON\n  --settle  wait up to this many seconds for in-flight orders to finish first\nNATS_USER and NATS_PASSWORD, when set, authenticate (e.g. the chart's generated admin user).";

function parseArgs(argv: string[]): { servers: string; json: boolean; settleMs: number } {
  let servers = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
  let json = false;
  let settleMs = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") json = true;
    else if (a === "--nats") servers = argv[++i] ?? "";
    else if (a === "--settle") {
      const s = Number(argv[++i]);
      if (!Number.isFinite(s) || s < 0) throw new Error("--settle needs a number of seconds");
      settleMs = s * 1000;
    } else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!servers) throw new Error("--nats needs a URL");
  return { servers, json, settleMs };
}

let args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`verify: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
try {
  // NATS with authentication (the chart's default): the generated admin user, e.g.
  // NATS_USER=admin NATS_PASSWORD=$(kubectl get secret jetmesh-nats-auth-admin ...).
  const user = process.env.NATS_USER;
  const pass = process.env.NATS_PASSWORD;
  const nc = await connect({ servers: args.servers.split(","), name: "jetmesh-verify", timeout: 5000, ...(user && pass ? { user, pass } : {}) });
  const report = await verifyShop(nc, { settleMs: args.settleMs });
  await nc.close();
  console.log(args.json ? JSON.stringify(report) : formatReport(report));
  process.exit(report.violations.length > 0 ? 1 : 0);
} catch (err) {
  console.error(`verify: ${(err as Error).message}`);
  process.exit(2);
}
