// The demo's verdict: `jetmesh shop verify` (the shop's invariant checker) as a child process, so
// @jetmesh/testing does not depend on the shop's code; it waits for orders in flight to finish.
import { spawn } from "node:child_process";
import { join } from "node:path";

export function runShopVerify(
  rootDir: string,
  natsUrl: string,
  settleSeconds: number,
  onProgress?: (text: string) => void,
): Promise<{ ok: boolean; text: string }> {
  const bin = join(rootDir, "services/cli/bin/jetmesh.js");
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, "shop", "verify", "--settle", String(settleSeconds), "--nats", natsUrl], { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    // stdout is the verdict; on stderr, the progress while it waits goes to onProgress as it
    // comes, anything else (an error) into the verdict.
    p.stdout.on("data", (b: Buffer) => (text += b.toString()));
    p.stderr.on("data", (b: Buffer) => {
      for (const line of b.toString().split("\n").filter(Boolean)) {
        if (line.startsWith("waiting for the shop to settle")) onProgress?.(line);
        else text += `${line}\n`;
      }
    });
    p.once("error", (err) => resolve({ ok: false, text: `cannot run ${bin}: ${err.message}` }));
    p.once("exit", (code) => resolve({ ok: code === 0 && !/in flight .*did not settle/.test(text), text: text.trimEnd() }));
  });
}
