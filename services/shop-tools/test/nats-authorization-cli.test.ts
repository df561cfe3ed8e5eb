// The per-component NATS authorization block printed by nats-authorization-cli.ts, loaded into
// a real nats-server: passwords come from the server's environment, the operator can manage
// streams and consumers but not touch events, a service reaches its own consumer only, an
// nkey user connects with its seed. Plus the argument parsing, table-driven.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator, nkeys, type NatsConnection } from "@nats-io/transport-node";
import { startNats, type NatsCluster } from "@jetmesh/testing";
import { parseArgs, passwordVariable, render } from "../src/nats-authorization-cli.ts";

const CLI = fileURLToPath(new URL("../src/nats-authorization-cli.ts", import.meta.url));

describe("nats-authorization-cli arguments", () => {
  const shipping = nkeys.createUser().getPublicKey();
  const bad: [string, string[], RegExp][] = [
    ["no namespace", [], /--namespace .* is required/],
    ["a namespace that is not a DNS label", ["--namespace", "Shop_1"], /--namespace/],
    ["an unknown format", ["--namespace", "shop", "--format", "yaml"], /--format must be conf or json/],
    ["a flag without its value", ["--namespace", "--format", "json"], /--namespace needs a value/],
    ["an nkey for an unknown user", ["--namespace", "shop", "--nkey", `billing=${shipping}`], /unknown user "billing"/],
    ["a seed instead of a public key", ["--namespace", "shop", "--nkey", `shipping=S${shipping.slice(1)}`], /not a user public nkey/],
    ["an unknown flag", ["--namespace", "shop", "--users", "all"], /unknown argument "--users"/],
  ];
  for (const [what, argv, message] of bad) it(`refuses ${what}`, () => expect(() => parseArgs(argv)).toThrow(message));

  it("prints JSON with placeholders, names scoped to the namespace, and the nkey user's key", () => {
    const out = execFileSync(process.execPath, ["--conditions=source", CLI, "--namespace", "prod", "--format", "json", "--nkey", `shipping=${shipping}`], {
      encoding: "utf8",
    });
    const { users } = JSON.parse(out) as { users: { user: string; password?: string; nkey?: string; permissions: { publish: { allow: string[] } } }[] };
    expect(users.map((u) => u.user)).toEqual(["operator", "order", "inventory", "payment", "shipping"]);
    expect(users.find((u) => u.user === "order")!.password).toBe("$NATS_PASSWORD_ORDER");
    expect(users.find((u) => u.user === "shipping")!.nkey).toBe(shipping);
    expect(users.find((u) => u.user === "shipping")!.password).toBeUndefined();
    expect(users.find((u) => u.user === "payment")!.permissions.publish.allow).toContain("$JS.API.CONSUMER.MSG.NEXT.prod_events.prod_payment");
    expect(() => execFileSync(process.execPath, ["--conditions=source", CLI], { stdio: "pipe" })).toThrow(/--namespace/);
  });
});

describe("nats-authorization-cli output on a real nats-server", () => {
  let nats: NatsCluster;
  const pw = (user: string) => process.env[passwordVariable(user).slice(1)]!;
  const shippingKey = nkeys.createUser();
  const conns: NatsConnection[] = [];
  const as = async (user: string) => {
    const nc = await connect({ servers: nats.url, user, pass: pw(user), reconnect: false, timeout: 3000 });
    conns.push(nc);
    return nc;
  };

  beforeAll(async () => {
    // nats-server expands the $NATS_PASSWORD_* placeholders from its environment (inherited).
    // It parses the value as a config token: one starting with a digit is refused as a bad
    // number, hence the letter in front (the docs say the same).
    for (const u of ["operator", "order", "inventory", "payment"]) process.env[passwordVariable(u).slice(1)] = `p${randomBytes(18).toString("hex")}`;
    const conf = render(parseArgs(["--namespace", "shop", "--nkey", `shipping=${shippingKey.getPublicKey()}`]));
    expect(conf).not.toContain(pw("order"));
    nats = await startNats({ extraConfig: conf });
  });
  afterAll(async () => {
    for (const nc of conns) await nc.close();
    await nats?.destroy();
  });

  it("the operator manages streams and consumers but cannot publish, purge or pull", async () => {
    const jsm = await jetstreamManager(await as("operator"));
    await jsm.streams.add({ name: "shop_events", subjects: ["shop.>"] });
    await jsm.streams.update("shop_events", { subjects: ["shop.>"], max_age: 3_600_000_000_000 });
    expect((await jsm.streams.info("shop_events")).config.max_age).toBe(3_600_000_000_000);
    expect((await jsm.streams.list().next()).map((s) => s.config.name)).toContain("shop_events");
    for (const svc of ["payment", "order"]) {
      await jsm.consumers.add("shop_events", { durable_name: `shop_${svc}`, ack_policy: AckPolicy.Explicit, filter_subject: `shop.${svc}.>` });
    }
    await jsm.consumers.update("shop_events", "shop_payment", { max_ack_pending: 10 });
    expect((await jsm.consumers.info("shop_events", "shop_payment")).config.max_ack_pending).toBe(10);
    await expect(jsm.streams.purge("shop_events")).rejects.toThrow(/permission|timeout/i);
    const js = jetstream(await as("operator"));
    await expect(js.publish("shop.order.placed.v1", new Uint8Array(), { timeout: 2000 })).rejects.toThrow(/permission/i);
    // A refused pull surfaces in the client as missed heartbeats; the server names the cause.
    await expect((await js.consumers.get("shop_events", "shop_payment")).next({ expires: 1000 })).rejects.toThrow();
    expect(nats.nodes[0]!.log.split("\n").some((l) => /Publish Violation/i.test(l) && l.includes("$JS.API.CONSUMER.MSG.NEXT.shop_events.shop_payment"))).toBe(
      true,
    );
  });

  it("a service reaches its own consumer and events, not another's; the nkey user connects", async () => {
    const js = jetstream(await as("payment"));
    await js.publish("shop.payment.authorized.v1", new TextEncoder().encode("{}"), { timeout: 3000 });
    const own = await js.consumers.get("shop_events", "shop_payment");
    expect((await own.info()).name).toBe("shop_payment");
    await expect(js.consumers.get("shop_events", "shop_order")).rejects.toThrow(/permission|timeout/i);
    await expect(js.publish("shop.order.confirmed.v1", new Uint8Array(), { timeout: 2000 })).rejects.toThrow(/permission/i);
    await expect(connect({ servers: nats.url, user: "payment", pass: "wrong", reconnect: false, timeout: 3000 })).rejects.toThrow(/authorization/i);
    const ship = await connect({ servers: nats.url, authenticator: nkeyAuthenticator(shippingKey.getSeed()), reconnect: false, timeout: 3000 });
    conns.push(ship);
    await jetstream(ship).publish("shop.shipment.dispatched.v1", new TextEncoder().encode("{}"), { timeout: 3000 });
    await expect(jetstream(ship).publish("shop.payment.authorized.v1", new Uint8Array(), { timeout: 2000 })).rejects.toThrow(/permission/i);
    expect(nats.nodes[0]!.log).toMatch(/Publish Violation/i);
  });
});
