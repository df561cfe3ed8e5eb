// Per-process CPU time from /proc (Linux), for the benches' "where does the CPU go" lines.
import { readFileSync } from "node:fs";

/** utime + stime (or stime only) of a process, in ms; 0 when unavailable (not Linux, process gone). */
export function procCpuMs(pid: number, which: "all" | "system" = "all"): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = (which === "all" ? Number(fields[11]) : 0) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Read and write system calls a process made so far (/proc/<pid>/io); 0 when unavailable. */
export function procSyscalls(pid: number): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    return Number(/^syscr: (\d+)$/m.exec(io)?.[1] ?? 0) + Number(/^syscw: (\d+)$/m.exec(io)?.[1] ?? 0);
  } catch {
    return 0;
  }
}
