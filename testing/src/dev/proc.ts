// A child process of the dev stack: spawned in its own process group (so a terminal's Ctrl-C
// reaches only the dev stack's main process, which then stops children in order), with every
// output line prefixed by a short name, and a graceful stop (SIGTERM, then SIGKILL).
import { spawn, type ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";

export interface ChildSpec {
  /** Prefix of every log line, e.g. `order-0` or `nats`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where prefixed output goes (default: process.stdout). */
  log?: Writable;
  /** Lines for which this returns false are kept for lastLines but not printed. */
  show?: (line: string) => boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the exit followed stop(): not a crash. */
  requested: boolean;
}

export class ManagedChild {
  readonly name: string;
  readonly startedAt = Date.now();
  readonly exited: Promise<ExitInfo>;
  private readonly proc: ChildProcess;
  private stopRequested = false;
  private exitInfo: ExitInfo | undefined;
  private readonly tail: string[] = [];

  constructor(spec: ChildSpec) {
    this.name = spec.name;
    const out = spec.log ?? process.stdout;
    this.proc = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const prefix = `${spec.name.padEnd(12)} | `;
    const onLine = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 50) this.tail.shift();
      if (out.writable && (spec.show?.(line) ?? true)) out.write(prefix + line + "\n");
    };
    lineSplitter(this.proc.stdout, onLine);
    lineSplitter(this.proc.stderr, onLine);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        this.exitInfo = { code, signal, requested: this.stopRequested };
        resolve(this.exitInfo);
      };
      this.proc.once("exit", done);
      this.proc.once("error", (err) => {
        onLine(`spawn error: ${err.message}`);
        done(127, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get stopping(): boolean {
    return this.stopRequested && this.running;
  }

  /** The last lines the process printed (for error messages). */
  get lastLines(): string {
    return this.tail.join("\n");
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 5_000): Promise<ExitInfo> {
    this.stopRequested = true;
    if (!this.running) return this.exited;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  /** Sends a signal to the process (not its group: a service's own children are its business). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      this.proc.kill(sig);
    } catch {
      // already gone
    }
  }
}

function lineSplitter(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
  });
  stream.on("end", () => {
    if (buf) onLine(buf);
    buf = "";
  });
}

/** True when a process with this pid exists (signal 0 probes without touching it). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The little of this process's environment a child inherits: like a container, a service
 * sees its Deployment's env, not the developer's shell (a stray NATS_URL or NODE_OPTIONS in
 * the terminal must not change what the stack runs).
 */
export function hostEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"]) if (env[k] !== undefined) out[k] = env[k];
  return out;
}
