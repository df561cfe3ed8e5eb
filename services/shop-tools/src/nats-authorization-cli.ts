// Prints the nats-server `authorization` block for per-component NATS users (issue 9): one
// user per shop service with the least-privilege permissions of nats-permissions.ts, and one for
// the operator. The chart's per-service Secrets (examples/per-service-nats-users.yaml) hold
// the matching credentials.
//
//   node --conditions=source services/shop-tools/src/nats-authorization-cli.ts --namespace shop \
//     [--format conf|json] [--nkey shipping=UABC...] [--no-operator]
//
// Passwords are placeholders ($NATS_PASSWORD_<USER>: nats-server reads an unquoted $NAME
// from its environment) so no secret ever goes through this tool. The server parses the
// value as a config token, so a password must start with a letter (p$(openssl rand -hex 24)):
// one starting with a digit stops the server with "Expected a digit".
// `--nkey user=<public key>` makes that user an nkey user instead.
import { fileURLToPath } from "node:url";
import { ORDERS_BUCKET, PAYMENTS_BUCKET, PRODUCERS, SHIPMENTS_BUCKET, SHOP_SERVICES, STOCK_BUCKET, type ShopService } from "@jetmesh/shop";
import { natsAuthorizationConfig, servicePermissions, type NatsPermissions, type ServiceNatsIdentity } from "./nats-permissions.ts";

const BUCKET_OF: Record<ShopService, string> = { order: ORDERS_BUCKET, inventory: STOCK_BUCKET, payment: PAYMENTS_BUCKET, shipping: SHIPMENTS_BUCKET };
const OPERATOR_USER = "operator";

/** A shop service's NATS identity as the chart deploys it in `namespace` (templates/services.yaml). */
export function shopIdentity(service: ShopService, namespace: string): ServiceNatsIdentity {
  return {
    service,
    produces: Object.entries(PRODUCERS)
      .filter(([, s]) => s === service)
      .map(([t]) => t),
    stream: `${namespace}_events`,
    consumer: `${namespace}_${service}`,
    deadLetterSubject: `jetmesh.dlq.${namespace}.${service}`,
    buckets: [BUCKET_OF[service]],
  };
}

/**
 * The operator manages streams and durable consumers (pause included) and reads their state;
 * it never consumes events. It publishes only dead letters: a message whose last delivery got no
 * answer, read by sequence (STREAM.MSG.GET) when the MAX_DELIVERIES advisory names it. Subject
 * wildcards match whole tokens only, so the stream name (<namespace>_<name>) cannot be
 * narrowed to a prefix: it gets the stream and consumer management calls on any stream, but
 * not purge, message delete, pulls or acks.
 */
export function operatorPermissions(): NatsPermissions {
  return {
    publish: {
      allow: [
        "$JS.API.INFO",
        "$JS.API.STREAM.CREATE.*",
        "$JS.API.STREAM.UPDATE.*",
        "$JS.API.STREAM.INFO.*",
        "$JS.API.STREAM.DELETE.*",
        "$JS.API.STREAM.LIST",
        "$JS.API.STREAM.NAMES",
        "$JS.API.CONSUMER.CREATE.*",
        "$JS.API.CONSUMER.CREATE.*.>",
        "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
        "$JS.API.CONSUMER.INFO.*.*",
        "$JS.API.CONSUMER.DELETE.*.*",
        "$JS.API.CONSUMER.LIST.*",
        "$JS.API.CONSUMER.NAMES.*",
        "$JS.API.CONSUMER.PAUSE.*.*",
        "$JS.API.STREAM.MSG.GET.*",
        "jetmesh.dlq.>",
      ],
    },
    subscribe: { allow: ["_INBOX.>", "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"] },
  };
}

export interface CliOptions {
  namespace: string;
  format: "conf" | "json";
  /** user -> nkey public key (U...). */
  nkeys: Record<string, string>;
  operator: boolean;
}

export interface AuthorizationUser {
  user: string;
  /** Set for password users: a `$NAME` placeholder the server expands from its env. */
  password?: string;
  nkey?: string;
  permissions: NatsPermissions;
}

export function passwordVariable(user: string): string {
  return `$NATS_PASSWORD_${user.toUpperCase()}`;
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Parses argv (without node and script); throws with a usage message on bad input. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = { namespace: "", format: "conf", nkeys: {}, operator: true };
  const users = new Set<string>([...SHOP_SERVICES, OPERATOR_USER]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--namespace") opts.namespace = value();
    else if (a === "--format") {
      const f = value();
      if (f !== "conf" && f !== "json") throw new Error(`--format must be conf or json, not ${JSON.stringify(f)}`);
      opts.format = f;
    } else if (a === "--nkey") {
      const [user, key] = value().split("=", 2);
      if (!user || !users.has(user)) throw new Error(`--nkey: unknown user ${JSON.stringify(user)} (one of ${[...users].join(", ")})`);
      // A user public nkey: 'U' and 55 more base32 characters.
      if (!key || !/^U[A-Z2-7]{55}$/.test(key)) throw new Error(`--nkey ${user}=...: not a user public nkey (U followed by 55 base32 characters)`);
      opts.nkeys[user] = key;
    } else if (a === "--no-operator") opts.operator = false;
    else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  if (!NAMESPACE.test(opts.namespace))
    throw new Error("--namespace <kubernetes namespace> is required (the release namespace; stream and consumer names start with it)");
  return opts;
}

export function authorizationUsers(opts: CliOptions): AuthorizationUser[] {
  const entries: [string, NatsPermissions][] = SHOP_SERVICES.map((s) => [s, servicePermissions(shopIdentity(s, opts.namespace))]);
  if (opts.operator) entries.unshift([OPERATOR_USER, operatorPermissions()]);
  return entries.map(([user, permissions]) => {
    const nkey = opts.nkeys[user];
    return nkey ? { user, nkey, permissions } : { user, password: passwordVariable(user), permissions };
  });
}

/** The nats-server config block (conf) or the users as JSON. */
export function render(opts: CliOptions): string {
  const users = authorizationUsers(opts);
  if (opts.format === "json") return JSON.stringify({ users }, null, 2);
  const withPassword = users.filter((u) => u.password !== undefined);
  // The generator writes passwords as quoted strings; a placeholder must stay unquoted for
  // the server to expand it.
  let conf = natsAuthorizationConfig(withPassword.map((u) => ({ user: u.user, password: u.password!, permissions: u.permissions })));
  for (const u of withPassword) conf = conf.replace(JSON.stringify(u.password), u.password!);
  const nkeyItems = users.filter((u) => u.nkey).map((u) => `{ nkey: ${JSON.stringify(u.nkey)}, permissions: ${JSON.stringify(u.permissions)} }`);
  if (nkeyItems.length) conf = conf.replace(/\n\] \}$/, `${withPassword.length ? "," : ""}\n  ${nkeyItems.join(",\n  ")}\n] }`);
  return conf;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.stdout.write(render(parseArgs(process.argv.slice(2))) + "\n");
  } catch (err) {
    process.stderr.write(`nats-authorization-cli: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
