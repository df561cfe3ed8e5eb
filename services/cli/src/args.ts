// Command-line parsing for `jetmesh`: argv (and env) in, a typed command or a usage error out.

export type Command =
  | { kind: "help" }
  | { kind: "status"; kubeconfig: string | undefined; namespace: string | undefined; allNamespaces: boolean; output: "table" | "json" }
  | { kind: "pause" | "resume"; kubeconfig: string | undefined; namespace: string | undefined; subscription: string }
  | { kind: "dlq-list"; nats: NatsTarget; limit: number; output: "table" | "json"; showSensitive: boolean }
  | { kind: "dlq-show"; nats: NatsTarget; seq: number; showSensitive: boolean }
  | { kind: "dlq-replay"; nats: NatsTarget; seqs: number[] | "all"; keep: boolean }
  | { kind: "verify"; nats: NatsTarget; output: "table" | "json"; settleSeconds: number; stuckAfterSeconds: number };

export interface NatsTarget {
  servers: string;
  stream: string;
  /** NATS_USER / NATS_PASSWORD, or the user:password of the URL (nats.js ignores it there). */
  user?: string;
  pass?: string;
}

export class UsageError extends Error {
  override name = "UsageError";
}

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
export const DEFAULT_DLQ_STREAM = "shop_dead-letters";

export const USAGE = `jetmesh — inspect and operate a JetMesh installation

Usage:
  jetmesh status [-n NAMESPACE | -A] [-o table|json] [--kubeconfig FILE]
      Streams and subscriptions from the custom resources' status: ready, reason,
      lag (pending / ack pending), replicas current/desired.
  jetmesh pause SUBSCRIPTION [-n NAMESPACE] [--kubeconfig FILE]
  jetmesh resume SUBSCRIPTION [-n NAMESPACE] [--kubeconfig FILE]
      Sets spec.paused of the EventSubscription (NAMESPACE/NAME, or NAME in -n or the
      kubeconfig's namespace): the operator pauses its consumer, which keeps its position
      and delivers nothing until resumed; the autoscaler holds the replicas meanwhile.
  jetmesh dlq list [--limit N] [-o table|json] [--nats URL] [--stream NAME] [--show-sensitive]
  jetmesh dlq show SEQ [--nats URL] [--stream NAME] [--show-sensitive]
      Card-like numbers (13-19 digits) in dead letters are masked but for their last four
      digits; --show-sensitive prints them in full.
  jetmesh dlq replay SEQ... | --all [--keep] [--nats URL] [--stream NAME]
      Republishes each dead letter's original event to its original subject as a fresh
      delivery (new Nats-Msg-Id, same CloudEvent id, header jetmesh-replayed-from), then
      deletes the dead letter unless --keep.
  jetmesh verify [--settle SECONDS] [--stuck-after SECONDS] [-o table|json] [--nats URL]
      Runs the shop's invariant checker against NATS (first waiting up to --settle for
      orders in flight to finish). An order unfinished and unchanged for --stuck-after
      (default 300), or through the whole --settle wait, is a violation (stuck).

Environment: KUBECONFIG (default ~/.kube/config), NATS_URL (default ${DEFAULT_NATS_URL}),
NATS_USER and NATS_PASSWORD (or user:password in the URL) for a NATS with authorization.
Also usable as a kubectl plugin: kubectl jetmesh status -A
Exit codes: 0 ok, 1 check failed (verify found violations, replay failed), 2 usage error,
3 cannot reach the NATS or Kubernetes API server.`;

/** Parses argv (without node and script) with env defaults. Throws UsageError. */
export function parseArgs(argv: string[], env: Record<string, string | undefined>): Command {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  const takesValue = new Set(["-n", "--namespace", "-o", "--output", "--kubeconfig", "--nats", "--stream", "--limit", "--settle", "--stuck-after"]);
  const boolean = new Set(["-A", "--all-namespaces", "--all", "--keep", "--show-sensitive", "-h", "--help"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith("-") && a.length > 1) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (takesValue.has(name)) {
        const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
        flags.set(canonical(name), value);
      } else if (boolean.has(name) && eq < 0) {
        flags.set(canonical(name), true);
      } else {
        throw new UsageError(`unknown option ${a}`);
      }
    } else {
      positional.push(a);
    }
  }
  if (flags.has("--help") || positional.length === 0 || positional[0] === "help") return { kind: "help" };

  const str = (k: string) => {
    const v = flags.get(k);
    return typeof v === "string" ? v : undefined;
  };
  const output = (): "table" | "json" => {
    const o = str("--output") ?? "table";
    if (o !== "table" && o !== "json") throw new UsageError(`-o must be table or json, got ${o}`);
    return o;
  };
  const nats = (): NatsTarget => {
    const servers = str("--nats") ?? (env.NATS_URL || DEFAULT_NATS_URL);
    const target: NatsTarget = { servers, stream: str("--stream") ?? DEFAULT_DLQ_STREAM };
    const inUrl = /^[a-z]+:\/\/([^:@/]+):([^@/]*)@/.exec(servers.split(",")[0]!.trim());
    const user = env.NATS_USER || (inUrl ? decodeURIComponent(inUrl[1]!) : undefined);
    const pass = env.NATS_PASSWORD ?? (inUrl ? decodeURIComponent(inUrl[2]!) : undefined);
    if (user !== undefined) target.user = user;
    if (pass !== undefined) target.pass = pass;
    return target;
  };
  const allowOnly = (allowed: string[]) => {
    for (const k of flags.keys()) if (!allowed.includes(k)) throw new UsageError(`option ${k} does not apply to ${positional.slice(0, 2).join(" ")}`);
  };
  const [cmd, sub, ...rest] = positional;
  switch (cmd) {
    case "status": {
      allowOnly(["--namespace", "--all-namespaces", "--output", "--kubeconfig"]);
      if (sub !== undefined) throw new UsageError(`status takes no arguments, got ${sub}`);
      const namespace = str("--namespace");
      const all = flags.has("--all-namespaces");
      if (namespace && all) throw new UsageError("use either -n NAMESPACE or -A, not both");
      return { kind: "status", kubeconfig: str("--kubeconfig"), namespace, allNamespaces: all || !namespace, output: output() };
    }
    case "pause":
    case "resume": {
      allowOnly(["--namespace", "--kubeconfig"]);
      if (sub === undefined || rest.length) throw new UsageError(`${cmd} needs exactly one EventSubscription (NAME or NAMESPACE/NAME)`);
      if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(sub)) {
        throw new UsageError(`not an EventSubscription name: ${sub} (NAME or NAMESPACE/NAME, lowercase letters, digits and -)`);
      }
      if (sub.includes("/") && str("--namespace")) throw new UsageError("use either NAMESPACE/NAME or -n NAMESPACE, not both");
      return { kind: cmd, kubeconfig: str("--kubeconfig"), namespace: str("--namespace"), subscription: sub };
    }
    case "verify":
      allowOnly(["--nats", "--output", "--settle", "--stuck-after"]);
      if (sub !== undefined) throw new UsageError(`verify takes no arguments, got ${sub}`);
      const settle = Number(str("--settle") ?? "0");
      if (!Number.isFinite(settle) || settle < 0) throw new UsageError("--settle must be a number of seconds");
      const stuckAfter = Number(str("--stuck-after") ?? "300");
      if (!Number.isFinite(stuckAfter) || stuckAfter <= 0) throw new UsageError("--stuck-after must be a positive number of seconds");
      return { kind: "verify", nats: nats(), output: output(), settleSeconds: settle, stuckAfterSeconds: stuckAfter };
    case "dlq": {
      if (sub === "list") {
        allowOnly(["--nats", "--stream", "--limit", "--output", "--show-sensitive"]);
        if (rest.length) throw new UsageError(`dlq list takes no arguments, got ${rest.join(" ")}`);
        const limit = Number(str("--limit") ?? "100");
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer`);
        return { kind: "dlq-list", nats: nats(), limit, output: output(), showSensitive: flags.has("--show-sensitive") };
      }
      if (sub === "show") {
        allowOnly(["--nats", "--stream", "--show-sensitive"]);
        if (rest.length !== 1) throw new UsageError("dlq show needs exactly one sequence number");
        return { kind: "dlq-show", nats: nats(), seq: seqArg(rest[0] as string), showSensitive: flags.has("--show-sensitive") };
      }
      if (sub === "replay") {
        allowOnly(["--nats", "--stream", "--all", "--keep"]);
        const all = flags.has("--all");
        if (all && rest.length) throw new UsageError("dlq replay takes either sequence numbers or --all");
        if (!all && !rest.length) throw new UsageError("dlq replay needs sequence numbers or --all");
        return { kind: "dlq-replay", nats: nats(), seqs: all ? "all" : rest.map(seqArg), keep: flags.has("--keep") };
      }
      throw new UsageError(`unknown dlq command ${sub ?? "(none)"}: use list, show or replay`);
    }
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

function canonical(flag: string): string {
  switch (flag) {
    case "-n":
      return "--namespace";
    case "-A":
      return "--all-namespaces";
    case "-o":
      return "--output";
    case "-h":
      return "--help";
    default:
      return flag;
  }
}

function seqArg(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`not a stream sequence number: ${s}`);
  return n;
}
