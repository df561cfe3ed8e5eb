// A real Prometheus (Debian's `prometheus` binary) for tests: loopback only, a temporary
// data directory, a short scrape interval, stopped and removed by stop().
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "@jetmesh/testing";

export interface ScrapeJob {
  job: string;
  /** Static targets, or (below) a file_sd file that the caller rewrites as targets come and go. */
  targets?: string[];
  targetsFile?: string;
  /** Keep the scraped labels when they collide with target labels (the operator's `namespace`). */
  honorLabels?: boolean;
}

export interface QueryResult {
  status: "success" | "error";
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown[] };
}

export class TestPrometheus {
  readonly url: string;
  private readonly dir: string;
  private readonly child: ChildProcess;
  private output = "";

  private constructor(dir: string, port: number, child: ChildProcess) {
    this.dir = dir;
    this.url = `http://127.0.0.1:${port}`;
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }

  static async start(jobs: ScrapeJob[], opts: { ruleFiles?: string[]; binary?: string } = {}): Promise<TestPrometheus> {
    const binary = opts.binary ?? process.env.PROMETHEUS_BIN ?? "prometheus";
    const dir = mkdtempSync(join(tmpdir(), "jetmesh-prometheus-"));
    const port = await freePort();
    const config = [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      `rule_files: ${JSON.stringify(opts.ruleFiles ?? [])}`,
      "scrape_configs:",
      ...jobs.flatMap((j) => [
        `  - job_name: ${JSON.stringify(j.job)}`,
        `    honor_labels: ${j.honorLabels === true}`,
        ...(j.targetsFile
          ? ["    file_sd_configs:", `      - files: [${JSON.stringify(j.targetsFile)}]`, "        refresh_interval: 1s"]
          : ["    static_configs:", `      - targets: ${JSON.stringify(j.targets ?? [])}`]),
      ]),
      "",
    ].join("\n");
    writeFileSync(join(dir, "prometheus.yml"), jobs.length ? config : "global:\n  scrape_interval: 1s\n");
    const child = spawn(
      binary,
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const prom = new TestPrometheus(dir, port, child);
    const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`prometheus exited (${code}):\n${prom.output}`))));
    exited.catch(() => {});
    await Promise.race([
      exited,
      waitFor("prometheus /-/ready", async () => (await fetch(`${prom.url}/-/ready`).catch(() => undefined))?.ok === true, {
        timeoutMs: 20_000,
        intervalMs: 100,
      }),
    ]);
    return prom;
  }

  async query(expr: string): Promise<QueryResult> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as QueryResult;
  }

  /** Rule groups as Prometheus evaluates them (health "ok" or "err" with lastError). */
  async rules(): Promise<{ name: string; health: string; lastError?: string; state?: string }[]> {
    const res = await fetch(`${this.url}/api/v1/rules`);
    const body = (await res.json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string; state?: string }[] }[] } };
    return body.data.groups.flatMap((g) => g.rules);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
