// The `jetmesh` command: parse, connect, run one subcommand, map failures to exit codes.
import { readFileSync } from "node:fs";
import * as k8s from "@kubernetes/client-node";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { maskCardNumbers, redactUrls } from "@jetmesh/mesh";
import { stringify as toYaml } from "yaml";
import { parseArgs, UsageError, USAGE, type Command, type DeadLetterSource, type KubeTarget, type NatsTarget, type Output } from "./args.ts";
import { byStream, readDeadLetterTargets, type DeadLetterTarget } from "./dead-letter-streams.ts";
import { readStatus, renderStatus } from "./status.ts";
import { setPaused, subscriptionRef } from "./pause.ts";
import { allSequences, getMessage, headerList, listDeadLetters, renderShow, replayDeadLetter, type DeadLetterSummary } from "./dlq.ts";
import { renderTable } from "./table.ts";
import { progressLine, runVerify } from "./verify.ts";

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

/** The CLI's version, from its package.json (next to src/ and dist/ alike). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

function render(output: Output, value: unknown, table: () => string): string {
  if (output === "json") return JSON.stringify(value, null, 2);
  if (output === "yaml") return toYaml(value).trimEnd();
  return table();
}

async function run(cmd: Command, env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  switch (cmd.kind) {
    case "help":
      io.out(USAGE);
      return EXIT_OK;
    case "version":
      io.out(`jetmesh ${cliVersion()}`);
      return EXIT_OK;
    case "status": {
      const kc = loadKubeconfig(cmd.kube, env);
      const server = kc.getCurrentCluster()?.server ?? "(no cluster in kubeconfig)";
      let report;
      try {
        report = await readStatus(kc, namespaceOf(cmd.kube, kc));
      } catch (err) {
        throw kubeError(err, server);
      }
      io.out(render(cmd.output, report, () => renderStatus(report)));
      return EXIT_OK;
    }
    case "pause":
    case "resume": {
      const kc = loadKubeconfig(cmd.kube, env);
      const server = kc.getCurrentCluster()?.server ?? "(no cluster in kubeconfig)";
      const { namespace, name } = subscriptionRef(cmd.subscription, namespaceOf(cmd.kube, kc) ?? "default");
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
    case "dlq-list": {
      const scope = await deadLetterScope(cmd.source, env);
      if (!scope.streams.length) {
        io.out(render(cmd.output, [], () => `no EventSubscription ${scope.where} names a dead-letter stream (spec.deadLetter)`));
        return EXIT_OK;
      }
      return withNats(cmd.nats, async (nc) => {
        const found: (DeadLetterSummary & { stream: string; subscription: string })[] = [];
        let missing = 0;
        for (const s of scope.streams) {
          try {
            const items = await streamCall(cmd.nats, s.stream, () => listDeadLetters(nc, s.stream, cmd.limit - found.length, s.subjects));
            found.push(...items.map((d) => ({ stream: s.stream, subscription: subscriptionOf(d.subject), ...d })));
          } catch (err) {
            // One namespace's missing stream does not hide the others' dead letters (-A).
            if (!(err instanceof CliError) || scope.streams.length === 1) throw err;
            io.err(`jetmesh: ${redactUrls(err.message)}`);
            missing++;
          }
          if (found.length >= cmd.limit) break;
        }
        if (missing === scope.streams.length) return EXIT_FAILED;
        const items = cmd.showSensitive ? found : found.map((d) => ({ ...d, error: maskCardNumbers(d.error) }));
        if (cmd.output === "table" && !items.length) {
          io.out(`no dead letters in stream ${scope.streams.map((s) => s.stream).join(", ")}${scope.subscription ? ` from ${scope.subscription}` : ""}`);
          return missing ? EXIT_FAILED : EXIT_OK;
        }
        io.out(
          render(cmd.output, items, () =>
            renderTable(
              ["STREAM", "SEQ", "TIME", "SUBSCRIPTION", "ORIGINAL-SUBJECT", "REASON", "DELIVERIES", "CE-ID", "ERROR"],
              items.map((d) => [
                d.stream,
                String(d.seq),
                d.time,
                d.subscription || "-",
                d.originalSubject,
                d.reason || "-",
                d.deliveries || "-",
                d.ceId,
                oneLine(d.error) || "-",
              ]),
            ),
          ),
        );
        return missing ? EXIT_FAILED : EXIT_OK;
      });
    }
    case "dlq-show": {
      const { stream, subjects } = oneStream(await deadLetterScope(cmd.source, env));
      return withNats(cmd.nats, async (nc) => {
        const jsm = await jetstreamManager(nc);
        const m = await streamCall(cmd.nats, stream, () => getMessage(jsm, stream, cmd.seq));
        if (!m || (subjects && !subjectIn(m.subject, subjects))) {
          throw new CliError(
            `no dead letter with sequence ${cmd.seq} in stream ${stream}${m ? ` on ${subjects!.join(", ")} (it is on ${m.subject})` : ""}`,
            EXIT_FAILED,
          );
        }
        const text = renderShow({ seq: m.seq, subject: m.subject, time: m.time.toISOString(), headers: headerList(m.header), data: m.data });
        io.out(cmd.showSensitive ? text : maskCardNumbers(text));
        return EXIT_OK;
      });
    }
    case "dlq-replay": {
      const { stream, subjects, exact } = oneStream(await deadLetterScope(cmd.source, env));
      return withNats(cmd.nats, async (nc) => {
        const seqs = cmd.seqs === "all" ? await streamCall(cmd.nats, stream, () => allSequences(nc, stream, subjects)) : cmd.seqs;
        if (!seqs.length) {
          io.out(`no dead letters in stream ${stream}`);
          return EXIT_OK;
        }
        let failed = 0;
        for (const seq of seqs) {
          try {
            const r = await streamCall(cmd.nats, stream, () => replayDeadLetter(nc, stream, seq, cmd.keep, exact));
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
    }
    case "shop-verify":
      if (cmd.deprecatedAlias)
        io.err("jetmesh: `jetmesh verify` is deprecated and will be removed; use `jetmesh shop verify` (the demo shop's invariant checker)");
      return withNats(cmd.nats, async (nc) => {
        let last = 0;
        const result = await runVerify(nc, {
          settleMs: cmd.settleSeconds * 1_000,
          stuckAfterMs: cmd.stuckAfterSeconds * 1_000,
          // At most one line a second, on stderr: stdout stays the report (-o json pipes cleanly).
          onProgress: (p) => {
            if (p.waitedMs - last < 1_000 && last !== 0) return;
            last = Math.max(p.waitedMs, 1);
            io.err(progressLine(p));
          },
        });
        io.out(render(cmd.output, result.report, () => result.text));
        return result.ok ? EXIT_OK : EXIT_FAILED;
      });
  }
}

/** -A: every namespace (undefined); else -n, else the kubeconfig context's namespace, else default. */
function namespaceOf(kube: KubeTarget, kc: k8s.KubeConfig): string | undefined {
  if (kube.allNamespaces) return undefined;
  return kube.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
}

interface DeadLetterScope {
  /** Each stream with the subjects to read in it (undefined: the whole stream). */
  streams: { stream: string; subjects: string[] | undefined; targets: DeadLetterTarget[] }[];
  /** "in namespace shop", "in any namespace", "shop/payment": for messages. */
  where: string;
  subscription: string | undefined;
}

/** Pure: does a subject match one of these filters (literal, or ending in ".>")? */
export function subjectIn(subject: string, filters: string[]): boolean {
  return filters.some((f) => (f.endsWith(".>") ? subject.startsWith(f.slice(0, -1)) : subject === f));
}

/** "ns/sub" for a dead letter on jetmesh.dlq.<ns>.<sub>, else "". */
function subscriptionOf(subject: string): string {
  const m = /^jetmesh\.dlq\.([^.]+)\.([^.]+)$/.exec(subject);
  return m ? `${m[1]}/${m[2]}` : "";
}

/**
 * The dead-letter streams to read: named by --stream, or found from the EventSubscriptions'
 * spec.deadLetter. One subscription's dead letters are those on its subject; a namespace's are
 * everything under jetmesh.dlq.<namespace>. (so those of a subscription since deleted, too).
 */
async function deadLetterScope(source: DeadLetterSource, env: Record<string, string | undefined>): Promise<DeadLetterScope> {
  if (source.kind === "stream")
    return { streams: [{ stream: source.stream, subjects: undefined, targets: [] }], where: `in stream ${source.stream}`, subscription: undefined };
  const kc = loadKubeconfig(source.kube, env);
  const server = kc.getCurrentCluster()?.server ?? "(no cluster in kubeconfig)";
  const namespace = namespaceOf(source.kube, kc);
  const ref = source.subscription ? subscriptionRef(source.subscription, namespace ?? "default") : undefined;
  let targets: DeadLetterTarget[];
  try {
    targets = (await readDeadLetterTargets(kc, { namespace: ref?.namespace ?? namespace, subscription: ref?.name })).targets;
  } catch (err) {
    if (ref && (err as { code?: number }).code === 404) {
      throw new CliError(`no EventSubscription ${ref.namespace}/${ref.name} at ${server} (kubectl get eventsubscriptions -A lists them)`, EXIT_FAILED);
    }
    throw kubeError(err, server);
  }
  if (ref && !targets.length) {
    throw new CliError(`EventSubscription ${ref.namespace}/${ref.name} has no spec.deadLetter: the events it gives up on are not kept anywhere`, EXIT_FAILED);
  }
  const streams = [...byStream(targets)].map(([stream, ts]) => ({
    stream,
    subjects: ref ? ts.map((t) => t.subject) : [...new Set(ts.map((t) => `jetmesh.dlq.${t.namespace}.>`))],
    targets: ts,
  }));
  return {
    streams,
    where: ref ? `${ref.namespace}/${ref.name}` : namespace ? `in namespace ${namespace}` : "in any namespace",
    subscription: ref ? `${ref.namespace}/${ref.name}` : undefined,
  };
}

/** show and replay work on one stream: the scope must name exactly one. */
function oneStream(scope: DeadLetterScope): { stream: string; subjects: string[] | undefined; exact: string[] | undefined } {
  if (scope.streams.length === 1) {
    const s = scope.streams[0]!;
    // Replaying by sequence checks the dead letter is in scope (wildcards are checked by the read).
    return { stream: s.stream, subjects: s.subjects, exact: scope.subscription ? s.subjects : undefined };
  }
  if (!scope.streams.length) throw new CliError(`no EventSubscription ${scope.where} names a dead-letter stream (spec.deadLetter)`, EXIT_FAILED);
  const which = scope.streams.map((s) => `${s.stream} (${s.targets.map((t) => `${t.namespace}/${t.subscription}`).join(", ")})`).join("; ");
  throw new CliError(
    `the EventSubscriptions ${scope.where} use several dead-letter streams: ${which}; pick one with --subscription NAME or --stream NAME`,
    EXIT_USAGE,
  );
}

function loadKubeconfig(kube: KubeTarget, env: Record<string, string | undefined>): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const file = kube.kubeconfig ?? env.KUBECONFIG?.split(":")[0];
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new CliError(`cannot read kubeconfig ${file ?? "(default)"}: ${(err as Error).message}`, EXIT_UNREACHABLE);
  }
  if (kube.context !== undefined) {
    if (!kc.getContextObject(kube.context)) {
      throw new CliError(
        `kubeconfig ${file ?? "(default)"} has no context ${kube.context} (it has: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        })`,
        EXIT_USAGE,
      );
    }
    kc.setCurrentContext(kube.context);
  }
  // client-node 2.x refuses plain http:// (kubectl proxy, the dev API server) unless the
  // cluster is marked insecure-skip-tls-verify; with http there is no TLS to verify.
  kc.clusters = kc.clusters.map((c) => (c.server.startsWith("http://") && !c.skipTLSVerify ? { ...c, skipTLSVerify: true } : c));
  if (!kc.getCurrentCluster()) {
    throw new CliError(
      `no current cluster in kubeconfig ${file ?? "(default)"}; set KUBECONFIG or --kubeconfig (make dev writes .dev/kubeconfig)`,
      EXIT_UNREACHABLE,
    );
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
    throw new CliError(
      `cannot connect to NATS at ${target.servers}: ${(err as Error).message}; is it running (make dev) and NATS_URL / --nats right?`,
      EXIT_UNREACHABLE,
    );
  }
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Runs a JetStream call, turning "stream not found" into an actionable message. */
async function streamCall<T>(target: NatsTarget, stream: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const msg = (err as Error).message ?? "";
    if (/stream not found/i.test(msg)) {
      throw new CliError(
        `stream ${stream} does not exist on ${target.servers} (is the dead-letter EventStream applied and Ready? jetmesh status shows it)`,
        EXIT_FAILED,
      );
    }
    throw err;
  }
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}
