// Command-line parsing for `jetmesh`: argv (and env) in, a typed command or a usage error out.
// Flags follow kubectl's (it is also `kubectl jetmesh`): --kubeconfig, --context, -n/--namespace
// (default: the kubeconfig context's namespace), -A/--all-namespaces, -o json|yaml.

export type Output = "table" | "json" | "yaml";

/** Where in the cluster a command looks. The namespace is resolved against the kubeconfig later. */
export interface KubeTarget {
  kubeconfig: string | undefined;
  context: string | undefined;
  /** -n; undefined: the kubeconfig context's namespace, else "default". */
  namespace: string | undefined;
  allNamespaces: boolean;
}

/**
 * Which dead-letter streams `dlq` reads: the ones the EventSubscriptions' spec.deadLetter name
 * (in the namespace, every namespace, or of one subscription), or one JetStream stream by name.
 */
export type DeadLetterSource = { kind: "stream"; stream: string } | { kind: "subscriptions"; kube: KubeTarget; subscription: string | undefined };

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "status"; kube: KubeTarget; output: Output }
  | { kind: "pause" | "resume"; kube: KubeTarget; subscription: string }
  | { kind: "dlq-list"; nats: NatsTarget; source: DeadLetterSource; limit: number; output: Output; showSensitive: boolean }
  | { kind: "dlq-show"; nats: NatsTarget; source: DeadLetterSource; seq: number; showSensitive: boolean }
  | { kind: "dlq-replay"; nats: NatsTarget; source: DeadLetterSource; seqs: number[] | "all"; keep: boolean }
  | { kind: "shop-verify"; nats: NatsTarget; output: Output; settleSeconds: number; stuckAfterSeconds: number; deprecatedAlias: boolean };

export interface NatsTarget {
  servers: string;
  /** NATS_USER / NATS_PASSWORD, or the user:password of the URL (nats.js ignores it there). */
  user?: string;
  pass?: string;
}

export class UsageError extends Error {
  override name = "UsageError";
}

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

export const USAGE = `jetmesh — inspect and operate a JetMesh installation

Usage:
  jetmesh status [-n NAMESPACE | -A] [-o table|json|yaml]
      Streams and subscriptions from the custom resources' status: ready, reason,
      lag (pending / ack pending), replicas current/desired.
  jetmesh pause SUBSCRIPTION [-n NAMESPACE]
  jetmesh resume SUBSCRIPTION [-n NAMESPACE]
      Sets spec.paused of the EventSubscription (NAMESPACE/NAME, or NAME in the namespace):
      the operator pauses its consumer, which keeps its position and delivers nothing until
      resumed; the autoscaler holds the replicas meanwhile.
  jetmesh dlq list [-n NAMESPACE | -A | --subscription NAME] [--limit N] [-o table|json|yaml] [--show-sensitive]
  jetmesh dlq show SEQ [-n NAMESPACE | --subscription NAME] [--show-sensitive]
  jetmesh dlq replay SEQ... | --all [-n NAMESPACE | --subscription NAME] [--keep]
      The dead letters of the EventSubscriptions in the namespace (or of one), read from the
      streams their spec.deadLetter names; --stream NAME reads one JetStream stream instead
      (no Kubernetes access needed). show and replay need the scope to name one stream.
      Card-like numbers (13-19 digits) are masked but for their last four digits;
      --show-sensitive prints them in full. Replay republishes each dead letter's original
      event to its original subject as a fresh delivery (new Nats-Msg-Id, same CloudEvent id,
      header jetmesh-replayed-from), then deletes the dead letter unless --keep.
  jetmesh shop verify [--settle SECONDS] [--stuck-after SECONDS] [-o table|json|yaml]
      The demo shop's invariant checker, against NATS (first waiting up to --settle for
      orders in flight to finish, with progress on stderr). An order unfinished and unchanged
      for --stuck-after (default 300), or through the whole --settle wait, is a violation.
      (\`jetmesh verify\` is a deprecated alias.)

Kubernetes flags (status, pause, resume, dlq): --kubeconfig FILE, --context NAME,
-n/--namespace NAMESPACE (default: the context's namespace), -A/--all-namespaces.
NATS flags (dlq, shop verify): --nats URL[,URL].
Other: --version, -h/--help.

Environment: KUBECONFIG (default ~/.kube/config), NATS_URL (default ${DEFAULT_NATS_URL}),
NATS_USER and NATS_PASSWORD (or user:password in the URL) for a NATS with authorization.
Also usable as a kubectl plugin: kubectl jetmesh status -A
Exit codes: 0 ok, 1 check failed (verify found violations, replay failed), 2 usage error,
3 cannot reach the NATS or Kubernetes API server.`;

const KUBE_FLAGS = ["--kubeconfig", "--context", "--namespace", "--all-namespaces"];

/** Parses argv (without node and script) with env defaults. Throws UsageError. */
export function parseArgs(argv: string[], env: Record<string, string | undefined>): Command {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  const takesValue = new Set([
    "-n",
    "--namespace",
    "-o",
    "--output",
    "--kubeconfig",
    "--context",
    "--nats",
    "--stream",
    "--subscription",
    "--limit",
    "--settle",
    "--stuck-after",
  ]);
  const boolean = new Set(["-A", "--all-namespaces", "--all", "--keep", "--show-sensitive", "-h", "--help", "--version"]);
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
  if (flags.has("--help") || (positional.length === 0 && !flags.has("--version")) || positional[0] === "help") return { kind: "help" };
  if (flags.has("--version") || positional[0] === "version") return { kind: "version" };

  const str = (k: string) => {
    const v = flags.get(k);
    return typeof v === "string" ? v : undefined;
  };
  const output = (): Output => {
    const o = str("--output") ?? "table";
    if (o !== "table" && o !== "json" && o !== "yaml") throw new UsageError(`-o must be table, json or yaml, got ${o}`);
    return o;
  };
  const nats = (): NatsTarget => {
    const servers = str("--nats") ?? (env.NATS_URL || DEFAULT_NATS_URL);
    const target: NatsTarget = { servers };
    const inUrl = /^[a-z]+:\/\/([^:@/]+):([^@/]*)@/.exec(servers.split(",")[0]!.trim());
    const user = env.NATS_USER || (inUrl ? decodeURIComponent(inUrl[1]!) : undefined);
    const pass = env.NATS_PASSWORD ?? (inUrl ? decodeURIComponent(inUrl[2]!) : undefined);
    if (user !== undefined) target.user = user;
    if (pass !== undefined) target.pass = pass;
    return target;
  };
  const kube = (allowAll = true): KubeTarget => {
    const namespace = str("--namespace");
    const all = flags.has("--all-namespaces");
    if (all && !allowAll) throw new UsageError(`-A does not apply to ${positional[0]}: name one EventSubscription`);
    if (namespace && all) throw new UsageError("use either -n NAMESPACE or -A, not both");
    if (namespace !== undefined && !DNS_LABEL.test(namespace)) throw new UsageError(`not a namespace name: ${namespace}`);
    return { kubeconfig: str("--kubeconfig"), context: str("--context"), namespace, allNamespaces: all };
  };
  const allowOnly = (allowed: string[]) => {
    for (const k of flags.keys()) if (!allowed.includes(k)) throw new UsageError(`option ${k} does not apply to ${positional.slice(0, 2).join(" ")}`);
  };
  const deadLetterSource = (allowAll: boolean): DeadLetterSource => {
    const stream = str("--stream");
    const subscription = str("--subscription");
    if (stream !== undefined) {
      const kubeFlags = [...KUBE_FLAGS, "--subscription"].filter((f) => flags.has(f));
      if (kubeFlags.length) throw new UsageError(`--stream names the JetStream stream itself: ${kubeFlags.join(", ")} would not be used`);
      return { kind: "stream", stream };
    }
    if (subscription !== undefined) {
      checkSubscriptionRef(subscription, str("--namespace"));
      if (flags.has("--all-namespaces")) throw new UsageError("use either --subscription or -A, not both");
    }
    return { kind: "subscriptions", kube: kube(allowAll), subscription };
  };
  const verify = (sub: string | undefined, deprecatedAlias: boolean): Command => {
    allowOnly(["--nats", "--output", "--settle", "--stuck-after"]);
    if (sub !== undefined) throw new UsageError(`verify takes no arguments, got ${sub}`);
    const settle = Number(str("--settle") ?? "0");
    if (!Number.isFinite(settle) || settle < 0) throw new UsageError("--settle must be a number of seconds");
    const stuckAfter = Number(str("--stuck-after") ?? "300");
    if (!Number.isFinite(stuckAfter) || stuckAfter <= 0) throw new UsageError("--stuck-after must be a positive number of seconds");
    return { kind: "shop-verify", nats: nats(), output: output(), settleSeconds: settle, stuckAfterSeconds: stuckAfter, deprecatedAlias };
  };
  const [cmd, sub, ...rest] = positional;
  switch (cmd) {
    case "status": {
      allowOnly([...KUBE_FLAGS, "--output"]);
      if (sub !== undefined) throw new UsageError(`status takes no arguments, got ${sub}`);
      return { kind: "status", kube: kube(), output: output() };
    }
    case "pause":
    case "resume": {
      allowOnly(["--namespace", "--kubeconfig", "--context", "--all-namespaces"]);
      if (sub === undefined || rest.length) throw new UsageError(`${cmd} needs exactly one EventSubscription (NAME or NAMESPACE/NAME)`);
      checkSubscriptionRef(sub, str("--namespace"));
      return { kind: cmd, kube: kube(false), subscription: sub };
    }
    case "shop":
      if (sub !== "verify") throw new UsageError(`unknown shop command ${sub ?? "(none)"}: use verify`);
      return verify(rest[0], false);
    case "verify":
      return verify(sub, true);
    case "dlq": {
      const scope = [...KUBE_FLAGS, "--nats", "--stream", "--subscription"];
      if (sub === "list") {
        allowOnly([...scope, "--limit", "--output", "--show-sensitive"]);
        if (rest.length) throw new UsageError(`dlq list takes no arguments, got ${rest.join(" ")}`);
        const limit = Number(str("--limit") ?? "100");
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer`);
        return { kind: "dlq-list", nats: nats(), source: deadLetterSource(true), limit, output: output(), showSensitive: flags.has("--show-sensitive") };
      }
      if (sub === "show") {
        allowOnly([...scope, "--show-sensitive"]);
        if (rest.length !== 1) throw new UsageError("dlq show needs exactly one sequence number");
        return {
          kind: "dlq-show",
          nats: nats(),
          source: deadLetterSource(false),
          seq: seqArg(rest[0] as string),
          showSensitive: flags.has("--show-sensitive"),
        };
      }
      if (sub === "replay") {
        allowOnly([...scope, "--all", "--keep"]);
        const all = flags.has("--all");
        if (all && rest.length) throw new UsageError("dlq replay takes either sequence numbers or --all");
        if (!all && !rest.length) throw new UsageError("dlq replay needs sequence numbers or --all");
        return { kind: "dlq-replay", nats: nats(), source: deadLetterSource(false), seqs: all ? "all" : rest.map(seqArg), keep: flags.has("--keep") };
      }
      throw new UsageError(`unknown dlq command ${sub ?? "(none)"}: use list, show or replay`);
    }
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkSubscriptionRef(ref: string, namespaceFlag: string | undefined): void {
  if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ref)) {
    throw new UsageError(`not an EventSubscription name: ${ref} (NAME or NAMESPACE/NAME, lowercase letters, digits and -)`);
  }
  if (ref.includes("/") && namespaceFlag) throw new UsageError("use either NAMESPACE/NAME or -n NAMESPACE, not both");
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
