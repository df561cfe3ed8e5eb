// The pid file of a running dev stack (.dev/pids.json): lets a second `make dev` refuse to
// start next to a live one, and clean up processes a hard-killed stack left behind.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { pidAlive } from "./proc.ts";

export interface PidEntry {
  name: string;
  pid: number;
  /** A word the process's command line must contain, so a recycled pid is never signalled. */
  match: string;
}

export interface PidFile {
  main: number;
  /** Part of the main process's command line (its script), checked like `match` below. */
  mainMatch?: string;
  children: PidEntry[];
}

export function writePidFile(file: string, content: PidFile): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(content, null, 2) + "\n");
  renameSync(`${file}.tmp`, file);
}

export function readPidFile(file: string): PidFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as PidFile;
  } catch {
    return undefined;
  }
}

/**
 * A process's command line: from /proc on Linux, from `ps` where there is no /proc (macOS).
 * "" when the process is gone.
 */
export function commandLine(pid: number, via: "proc" | "ps" = existsSync("/proc/self/cmdline") ? "proc" : "ps"): string {
  if (via === "ps") {
    const r = spawnSync("ps", ["-o", "command=", "-p", String(pid)], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : "";
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/** True when `pid` is alive and its command line contains `match`. */
export function isOurs(pid: number, match: string): boolean {
  return pidAlive(pid) && commandLine(pid).includes(match);
}

/**
 * Stops the leftovers of a previous stack that died without cleaning up: SIGTERM, then
 * SIGKILL after `graceMs`. Returns the names of what it stopped.
 */
export async function reapLeftovers(file: string, graceMs = 5_000): Promise<string[]> {
  const prev = readPidFile(file);
  if (!prev) return [];
  const live = prev.children.filter((c) => isOurs(c.pid, c.match));
  for (const c of live) signal(c.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (live.some((c) => pidAlive(c.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const c of live) if (pidAlive(c.pid)) signal(c.pid, "SIGKILL");
  return live.map((c) => `${c.name} (pid ${c.pid})`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone meanwhile
  }
}
