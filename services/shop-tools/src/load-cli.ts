// Drives orders at a fixed rate against a running shop and prints the result as JSON:
//   node --conditions=source services/shop-tools/src/load-cli.ts --order-url http://127.0.0.1:8080 \
//     --nats nats://127.0.0.1:4222 --rate 50 --duration 10 [--skus sku-1,sku-2] [--token T]
// Progress on stderr. Exit code 2 on bad arguments.
import { runLoad } from "./load.ts";

const USAGE =
  "usage: load-cli --order-url <url> [--nats <url>] [--rate <orders/s>] [--duration <s>] [--skus a,b] [--token <bearer>] [--settle <s>] [--max-in-flight <n>]";

function parse(argv: string[]) {
  const o = {
    orderUrl: process.env.ORDER_URL ?? "",
    nats: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
    rate: 20,
    duration: 10,
    skus: ["sku-1"],
    token: process.env.ORDER_API_TOKEN,
    settle: 30,
    maxInFlight: 512,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const num = (name: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
      i++;
      return n;
    };
    if (a === "--order-url" && v) ((o.orderUrl = v), i++);
    else if (a === "--nats" && v) ((o.nats = v), i++);
    else if (a === "--rate") o.rate = num(a);
    else if (a === "--duration") o.duration = num(a);
    else if (a === "--settle") o.settle = num(a);
    else if (a === "--max-in-flight") o.maxInFlight = num(a);
    else if (a === "--skus" && v)
      ((o.skus = v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)),
        i++);
    else if (a === "--token" && v) ((o.token = v), i++);
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown or incomplete argument ${a}`);
  }
  if (!o.orderUrl) throw new Error("--order-url is required");
  return o;
}

let o;
try {
  o = parse(process.argv.slice(2));
} catch (err) {
  console.error(`load: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const result = await runLoad({
  orderUrl: o.orderUrl,
  natsUrl: o.nats,
  ratePerSec: o.rate,
  durationMs: o.duration * 1000,
  settleMs: o.settle * 1000,
  maxInFlight: o.maxInFlight,
  skus: o.skus,
  ...(o.token ? { apiToken: o.token } : {}),
  onProgress: (p) =>
    process.stderr.write(
      `[load] t=${(p.elapsedMs / 1000).toFixed(0)}s sent ${p.sent} accepted ${p.accepted} finished ${p.finished} unfinished ${p.unfinished}\n`,
    ),
});
const { order_ids: _ids, ...summary } = result;
console.log(JSON.stringify(summary));
