// The `jetmesh` command: parse, connect, run one subcommand, map failures to exit codes.
import * as k8s from "@kubernetes/client-node";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { maskCardNumbers, redactUrls } from "@jetmesh/mesh";
import { parseArgs, UsageError, USAGE, type Command, type NatsTarget } from "./args.ts";
import { readStatus, renderStatus } from "./status.ts";
import { setPaused, subscriptionRef } from "./pause.ts";
import { allSequences, getMessage, headerList, listDeadLetters, renderShow, replayDeadLetter } from "./dlq.ts";
import { renderTable } from "./table.ts";
import { runVerify } from "./verify.ts";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A failure a person can act on, with the exit code it maps to. */
export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

export async function runCli(argv: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseArgs(argv, env);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`jetmesh: ${err.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    throw err;
  }
  try {
    return await run(cmd, env, io);
  } catch (err) {
    // Errors may quote a NATS or API server URL: never with its password.
    if (err instanceof CliError) {
      io.err(`jetmesh: ${redactUrls(err.message)}`);
      return err.exitCode;
    }
    io.err(`jetmesh: ${redactUrls((err as Error).message ?? String(err))}`);
    return EXIT_FAILED;
  }
}

async function run(cmd: Command, env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  switch (cmd.kind) {
    case "help":
      io.out(USAGE);
      return EXIT_OK;
    case "status": {
      const kc = loadKubeconfig(cmd.kubeconfig, env);
      const server = kc.getCurrentCluster()?.server ?? "(no cluster in kubeconfig)";
      let report;
      try {
        report = await readStatus(kc, cmd.allNamespaces ? undefined : cmd.namespace);
      } catch (err) {
        throw kubeError(err, server);
      }
      io.out(cmd.output === "json" ? JSON.stringify(report, null, 2) : renderStatus(report));
      return EXIT_OK;
    }
    case "pause":
    case "resume": {
      const kc = loadKubeconfig(cmd.kubeconfig, env);
      const server = kc.getCurrentCluster()?.server ?? "(no cluster in kubeconfig)";
      const { namespace, name } = subscriptionRef(cmd.subscription, cmd.namespace, kc);
      const paused = cmd.kind === "pause";
      let r;
      try {
        r = await setPaused(kc, namespace, name, paused);
      } catch (err) {
        if ((err as { code?: number }).code === 404) {
          throw new CliError(`no EventSubscription ${namespace}/${name} at ${server} (kubectl get eventsubscriptions -A lists them)`, EXIT_FAILED);
        }
        throw kubeError(err, server);
      }
      const what = paused ? "paused" : "resumed";
      io.out(
        r.changed
          ? `EventSubscription ${namespace}/${name}: spec.paused=${paused}; the operator ${paused ? "pauses" : "resumes"} its consumer (status.paused shows when it did)`
          : `EventSubscription ${namespace}/${name} is already ${what} (spec.paused=${paused}); nothing changed`,
      );
      return EXIT_OK;
    }
    case "dlq-list":
      return withNats(cmd.nats, async (nc) => {
        const found = await streamCall(cmd.nats, () => listDeadLetters(nc, cmd.nats.stream, cmd.limit));
        const items = cmd.showSensitive ? found : found.map((d) => ({ ...d, error: maskCardNumbers(d.error) }));
        if (cmd.output === "json") {
          io.out(JSON.stringify(items, null, 2));
        } else if (!items.length) {
          io.out(`no dead letters in stream ${cmd.nats.stream}`);
        } else {
          io.out(
            renderTable(
              ["SEQ", "TIME", "ORIGINAL-SUBJECT", "REASON", "DELIVERIES", "CE-ID", "ERROR"],
              items.map((d) => [String(d.seq), d.time, d.originalSubject, d.reason || "-", d.deliveries || "-", d.ceId, oneLine(d.error) || "-"]),
            ),
          );
        }
        return EXIT_OK;
      });
    case "dlq-show":
      return withNats(cmd.nats, async (nc) => {
        const jsm = await jetstreamManager(nc);
        const m = await streamCall(cmd.nats, () => getMessage(jsm, cmd.nats.stream, cmd.seq));
        if (!m) throw new CliError(`no dead letter with sequence ${cmd.seq} in stream ${cmd.nats.stream}`, EXIT_FAILED);
        const text = renderShow({ seq: m.seq, subject: m.subject, time: m.time.toISOString(), headers: headerList(m.header), data: m.data });
        io.out(cmd.showSensitive ? text : maskCardNumbers(text));
        return EXIT_OK;
      });
    case "dlq-replay":
      return withNats(cmd.nats, async (nc) => {
        const seqs = cmd.seqs === "all" ? await streamCall(cmd.nats, () => allSequences(nc, cmd.nats.stream)) : cmd.seqs;
        if (!seqs.length) {
          io.out(`no dead letters in stream ${cmd.nats.stream}`);
          return EXIT_OK;
        }
        let failed = 0;
        for (const seq of seqs) {
          try {
            const r = await streamCall(cmd.nats, () => replayDeadLetter(nc, cmd.nats.stream, seq, cmd.keep));
            io.out(
              `replayed ${seq}: ${r.subject} ce-id ${r.ceId} → stream seq ${r.publishedSeq}${r.duplicate ? " (duplicate: already replayed)" : ""}${r.deleted ? ", dead letter deleted" : ""}`,
            );
          } catch (err) {
            if (err instanceof CliError) throw err;
            failed++;
            io.err(`jetmesh: replay of ${seq} failed: ${redactUrls((err as Error).message)}`);
          }
        }
        return failed ? EXIT_FAILED : EXIT_OK;
      });
    case "verify":
      return withNats(cmd.nats, async (nc) => {
        const result = await runVerify(nc, { settleMs: cmd.settleSeconds * 1_000, stuckAfterMs: cmd.stuckAfterSeconds * 1_000 });
        io.out(cmd.output === "json" ? JSON.stringify(result.report, null, 2) : result.text);
        return result.ok ? EXIT_OK : EXIT_FAILED;
      });
  }
}

function loadKubeconfig(flag: string | undefined, env: Record<string, string | undefined>): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const file = flag ?? env.KUBECONFIG?.split(":")[0];
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CliError(`cannot read kubeconfig ${file ?? "(default)"}: ${(err as Error).message}`, EXIT_UNREACHABLE);
  }
  // client-node 2.x refuses plain http:// (kubectl proxy, the dev API server) unless the
  // cluster is marked insecure-skip-tls-verify; with http there is no TLS to verify.
  kc.clusters = kc.clusters.map((c) => (c.server.startsWith("http://") && !c.skipTLSVerify ? { ...c, skipTLSVerify: true } : c));
  if (!kc.getCurrentCluster()) {
    throw new CliError(`no current cluster in kubeconfig ${file ?? "(default)"}; set KUBECONFIG or --kubeconfig (make dev writes .dev/kubeconfig)`, EXIT_UNREACHABLE);
  }
  return kc;
}

function kubeError(err: unknown, server: string): CliError {
  const e = err as { code?: number; message?: string; body?: unknown; cause?: { code?: string } };
  if (typeof e.code === "number") {
    if (e.code === 404) {
      return new CliError(`the API server at ${server} does not know the JetMesh resources (HTTP 404): are the CRDs in crds/ applied?`, EXIT_FAILED);
    }
    return new CliError(`API server at ${server} answered HTTP ${e.code}: ${bodyMessage(e.body) ?? e.message}`, EXIT_FAILED);
  }
  const cause = e.cause?.code ?? "";
  return new CliError(
    `cannot reach the Kubernetes API server at ${server}${cause ? ` (${cause})` : ""}: ${e.message ?? String(err)}; is it running (make dev) and KUBECONFIG right?`,
    EXIT_UNREACHABLE,
  );
}

function bodyMessage(body: unknown): string | undefined {
  if (typeof body !== "string") return undefined;
  try {
    return (JSON.parse(body) as { message?: string }).message;
  } catch {
    return body.slice(0, 200);
  }
}

async function withNats(target: NatsTarget, fn: (nc: NatsConnection) => Promise<number>): Promise<number> {
  let nc: NatsConnection;
  try {
    const servers = target.servers.split(",").map((u) => u.trim().replace(/^([a-z]+:\/\/)[^@/]*@/, "$1"));
    const auth = target.user !== undefined ? { user: target.user, pass: target.pass ?? "" } : {};
    nc = await connect({ servers, timeout: 3_000, maxReconnectAttempts: 0, name: "jetmesh-cli", ...auth });
  } catch (err) {
    throw new CliError(`cannot connect to NATS at ${target.servers}: ${(err as Error).message}; is it running (make dev) and NATS_URL / --nats right?`, EXIT_UNREACHABLE);
  }
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Runs a JetStream call, turning "stream not found" into an actionable message. */
async function streamCall<T>(target: NatsTarget, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const msg = (err as Error).message ?? "";
    if (/stream not found/i.test(msg)) {
      throw new CliError(`stream ${target.stream} does not exist on ${target.servers} (is the dead-letters EventStream applied? use --stream to pick another)`, EXIT_FAILED);
    }
    throw err;
  }
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}
