// Runs a shop service as its own process (`node src/main.ts` with the source condition, or
// `node dist/main.js`), for the crash test, the bench and `make demo`.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ShopService } from "@jetmesh/shop";

export interface ServiceProcess {
  readonly name: ShopService;
  readonly url: string;
  readonly pid: number | undefined;
  /** Last lines the process wrote (for failure messages). */
  readonly output: string;
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGKILL: no graceful shutdown, in-flight work is lost mid-way. */
  kill(): Promise<void>;
  /** SIGSTOP: the process keeps its connections but does nothing (no acks) until killed. */
  freeze(): void;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

export function serviceEntry(name: ShopService, fromSource = true): string {
  return fileURLToPath(new URL(fromSource ? `../../${name}/src/main.ts` : `../../${name}/dist/main.js`, import.meta.url));
}

export function spawnService(name: ShopService, env: Record<string, string>, opts: { fromSource?: boolean; nodeArgs?: string[] } = {}): ServiceProcess {
  const fromSource = opts.fromSource ?? true;
  const args = [...(fromSource ? ["--conditions=source"] : []), ...(opts.nodeArgs ?? []), serviceEntry(name, fromSource)];
  const proc: ChildProcess = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const tail: string[] = [];
  const keep = (b: Buffer) => {
    tail.push(b.toString());
    if (tail.length > 100) tail.splice(0, tail.length - 100);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const url = `http://127.0.0.1:${env.HTTP_PORT}`;
  const signal = async (s: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(s);
    await exited;
  };
  return {
    name,
    url,
    get pid() {
      return proc.pid;
    },
    get output() {
      return tail.join("");
    },
    async waitReady(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}):\n${tail.join("")}`);
        try {
          const res = await fetch(`${url}/readyz`);
          if (res.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${name} not ready within ${timeoutMs} ms:\n${tail.join("")}`);
    },
    kill: () => signal("SIGKILL"),
    freeze() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGSTOP");
    },
    async stop() {
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await signal("SIGTERM");
      clearTimeout(t);
    },
  };
}
