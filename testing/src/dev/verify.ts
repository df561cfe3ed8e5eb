// The demo's verdict: `jetmesh verify` (the shop's invariant checker) as a child process, so
// @jetmesh/testing does not depend on the shop's code; it waits for orders in flight to finish.
import { spawn } from "node:child_process";
import { join } from "node:path";

export function runShopVerify(rootDir: string, natsUrl: string, settleSeconds: number): Promise<{ ok: boolean; text: string }> {
  const bin = join(rootDir, "services/cli/bin/jetmesh.js");
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, "verify", "--settle", String(settleSeconds), "--nats", natsUrl], { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    p.stdout.on("data", (b: Buffer) => (text += b.toString()));
    p.stderr.on("data", (b: Buffer) => (text += b.toString()));
    p.once("error", (err) => resolve({ ok: false, text: `cannot run ${bin}: ${err.message}` }));
    p.once("exit", (code) => resolve({ ok: code === 0 && !/in flight .*did not settle/.test(text), text: text.trimEnd() }));
  });
}
