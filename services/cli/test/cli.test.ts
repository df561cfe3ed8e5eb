import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { freePort, startNats, type NatsCluster } from "@jetmesh/testing";
import { byStream, deadLetterTargets, parseArgs, progressLine, replayMessage, runCli, subjectIn, UsageError } from "@jetmesh/cli";

const run = async (argv: string[], env: Record<string, string | undefined> = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, env, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
};

describe("parseArgs", () => {
  const kube = (over: object = {}) => ({ kubeconfig: undefined, context: undefined, namespace: undefined, allNamespaces: false, ...over });
  it.each<[string, string[], Record<string, string>, object]>([
    ["status: the context's namespace (resolved later)", ["status"], {}, { kind: "status", kube: kube(), output: "table" }],
    ["status -n", ["status", "-n", "shop"], {}, { kind: "status", kube: kube({ namespace: "shop" }) }],
    ["status -A", ["status", "-A"], {}, { kind: "status", kube: kube({ allNamespaces: true }) }],
    [
      "status --kubeconfig= --context",
      ["status", "--kubeconfig=/x", "--context", "prod", "-o", "yaml"],
      {},
      { kind: "status", kube: kube({ kubeconfig: "/x", context: "prod" }), output: "yaml" },
    ],
    [
      "dlq list: the subscriptions' dead-letter streams",
      ["dlq", "list"],
      { NATS_URL: "nats://h:1" },
      { kind: "dlq-list", nats: { servers: "nats://h:1" }, source: { kind: "subscriptions", kube: kube(), subscription: undefined }, limit: 100 },
    ],
    [
      "dlq list --subscription",
      ["dlq", "list", "--subscription", "shop/payment"],
      {},
      { kind: "dlq-list", source: { kind: "subscriptions", subscription: "shop/payment" } },
    ],
    [
      "dlq list -A -o json",
      ["dlq", "list", "-A", "-o", "json"],
      {},
      { kind: "dlq-list", output: "json", source: { kind: "subscriptions", kube: kube({ allNamespaces: true }) } },
    ],
    ["dlq --stream: one JetStream stream", ["dlq", "show", "7", "--stream", "x"], {}, { kind: "dlq-show", seq: 7, source: { kind: "stream", stream: "x" } }],
    [
      "--nats beats NATS_URL",
      ["dlq", "show", "7", "--nats", "nats://a:2"],
      { NATS_URL: "nats://h:1" },
      { kind: "dlq-show", seq: 7, nats: { servers: "nats://a:2" } },
    ],
    [
      "replay several",
      ["dlq", "replay", "3", "4", "--keep", "-n", "shop"],
      {},
      { kind: "dlq-replay", seqs: [3, 4], keep: true, source: { kube: kube({ namespace: "shop" }) } },
    ],
    ["replay all", ["dlq", "replay", "--all", "--stream", "x"], {}, { kind: "dlq-replay", seqs: "all", keep: false, source: { kind: "stream", stream: "x" } }],
    ["show masks by default", ["dlq", "show", "7"], {}, { kind: "dlq-show", showSensitive: false }],
    ["--show-sensitive", ["dlq", "list", "--show-sensitive"], {}, { kind: "dlq-list", showSensitive: true }],
    ["shop verify", ["shop", "verify"], {}, { kind: "shop-verify", settleSeconds: 0, stuckAfterSeconds: 300, deprecatedAlias: false }],
    [
      "verify is the deprecated alias",
      ["verify", "--settle", "30", "--stuck-after", "60"],
      {},
      { kind: "shop-verify", settleSeconds: 30, stuckAfterSeconds: 60, deprecatedAlias: true },
    ],
    ["pause in the context's namespace", ["pause", "payment", "--context", "c"], {}, { kind: "pause", subscription: "payment", kube: kube({ context: "c" }) }],
    ["--version", ["--version"], {}, { kind: "version" }],
    ["--version after a command", ["status", "--version"], {}, { kind: "version" }],
    ["no args is help", [], {}, { kind: "help" }],
  ])("%s", (_n, argv, env, expected) => {
    expect(parseArgs(argv, env)).toMatchObject(expected);
  });

  it.each([
    [["status", "-n", "a", "-A"], /either -n/],
    [["status", "-n", "Not_A_Namespace"], /not a namespace name/],
    [["dlq", "show"], /exactly one sequence/],
    [["dlq", "show", "x"], /not a stream sequence/],
    [["dlq", "replay"], /sequence numbers or --all/],
    [["dlq", "replay", "1", "--all"], /either sequence numbers or --all/],
    [["dlq", "purge"], /unknown dlq command/],
    [["dlq", "list", "--stream", "x", "-n", "shop"], /--stream names the JetStream stream itself: --namespace/],
    [["dlq", "list", "--subscription", "a", "-A"], /either --subscription or -A/],
    [["dlq", "list", "--subscription", "shop/a", "-n", "shop"], /either NAMESPACE\/NAME or -n/],
    [["dlq", "show", "1", "-A"], /-A does not apply/],
    [["pause", "x", "-A"], /-A does not apply/],
    [["status", "--nats", "x"], /does not apply/],
    [["frobnicate"], /unknown command/],
    [["shop", "load"], /unknown shop command/],
    [["status", "-o", "wide"], /table, json or yaml/],
    [["shop", "verify", "--stuck-after", "0"], /positive number of seconds/],
    [["shop", "verify", "-n", "shop"], /does not apply/],
  ])("refuses %j", (argv, msg) => {
    expect(() => parseArgs(argv, {})).toThrow(UsageError);
    expect(() => parseArgs(argv, {})).toThrow(msg);
  });
});

describe("dead-letter streams from the subscriptions (pure)", () => {
  it("maps spec.deadLetter to the EventStream's JetStream stream and the subscription's subject", () => {
    const sub = (namespace: string, name: string, deadLetter?: string) => ({
      metadata: { namespace, name },
      spec: deadLetter ? { deadLetter: { stream: deadLetter } } : {},
    });
    const targets = deadLetterTargets(
      [sub("shop", "payment", "dead-letters"), sub("shop", "inventory", "dead-letters"), sub("shop", "audit"), sub("team-b", "billing", "failures")],
      [{ metadata: { namespace: "team-b", name: "failures" }, status: { streamName: "team-b_failures" } }],
    );
    expect(targets).toEqual([
      { namespace: "shop", subscription: "inventory", eventStream: "dead-letters", stream: "shop_dead-letters", subject: "jetmesh.dlq.shop.inventory" },
      { namespace: "shop", subscription: "payment", eventStream: "dead-letters", stream: "shop_dead-letters", subject: "jetmesh.dlq.shop.payment" },
      { namespace: "team-b", subscription: "billing", eventStream: "failures", stream: "team-b_failures", subject: "jetmesh.dlq.team-b.billing" },
    ]);
    expect([...byStream(targets).keys()]).toEqual(["shop_dead-letters", "team-b_failures"]);
  });

  it.each<[string, string[], boolean]>([
    ["jetmesh.dlq.shop.payment", ["jetmesh.dlq.shop.payment"], true],
    ["jetmesh.dlq.shop.payment", ["jetmesh.dlq.shop.>"], true],
    ["jetmesh.dlq.shopping.payment", ["jetmesh.dlq.shop.>"], false],
    ["jetmesh.dlq.shop.inventory", ["jetmesh.dlq.shop.payment"], false],
  ])("subject %s in %j: %s", (subject, filters, expected) => {
    expect(subjectIn(subject, filters)).toBe(expected);
  });

  it("says how long verify has waited and for what", () => {
    expect(progressLine({ waitedMs: 3_400, settleMs: 30_000, inFlight: 1, backlog: 12 })).toBe(
      "waiting for the shop to settle (3s of 30s): 1 order in flight, 12 events not yet processed",
    );
  });
});

describe("replayMessage", () => {
  const h: [string, string][] = [
    ["ce-id", "abc"],
    ["ce-type", "shop.order.placed.v1"],
    ["ce-source", "/order"],
    ["nats-msg-id", "abc"],
    ["jetmesh-dlq-reason", "max_deliver"],
    ["jetmesh-dlq-original-subject", "shop.order.placed.v1"],
  ];
  it("keeps the CloudEvent headers and id, drops diagnostics, gets a fresh message id", () => {
    const r = replayMessage("shop_dead-letters", 9, h, new Date("2026-01-01T00:00:00Z"));
    expect(r.subject).toBe("shop.order.placed.v1");
    expect(r.msgId).toBe("abc:replay:shop_dead-letters:9");
    expect(r.headers).toEqual([
      ["ce-id", "abc"],
      ["ce-type", "shop.order.placed.v1"],
      ["ce-source", "/order"],
      ["jetmesh-replayed-from", "shop_dead-letters/9"],
      ["jetmesh-replayed-at", "2026-01-01T00:00:00.000Z"],
    ]);
  });
  it("refuses a message that is not a CloudEvent", () => {
    expect(() => replayMessage("s", 1, [["ce-type", "x"]], new Date())).toThrow(/carries no CloudEvent id/);
  });
  it("replays a structured-mode CloudEvent by its envelope", () => {
    const data = new TextEncoder().encode(JSON.stringify({ specversion: "1.0", id: "e-7", type: "shop.order.placed.v1", source: "/x", data: {} }));
    const r = replayMessage(
      "dlq",
      3,
      [
        ["content-type", "application/cloudevents+json"],
        ["jetmesh-dlq-reason", "schema"],
      ],
      new Date(0),
      data,
    );
    expect(r).toMatchObject({ subject: "shop.order.placed.v1", msgId: "e-7:replay:dlq:3" });
    expect(r.headers[0]).toEqual(["content-type", "application/cloudevents+json"]);
  });
});

describe("jetmesh dlq against a real nats-server", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "shop_events", subjects: ["shop.>"], duplicate_window: 120_000_000_000 });
    await jsm.streams.add({ name: "shop_dead-letters", subjects: ["jetmesh.dlq.>"] });
    const js = jetstream(nc);
    // The original event, then its dead letter as the runtime writes it.
    const ce = headers();
    ce.set("ce-id", "order-1-placed");
    ce.set("ce-type", "shop.order.placed.v1");
    ce.set("ce-source", "/shop/order");
    ce.set("ce-specversion", "1.0");
    await js.publish("shop.order.placed.v1", JSON.stringify({ orderId: "order-1" }), { msgID: "order-1-placed", headers: ce });
    const dl = headers();
    for (const [k, v] of ce) dl.set(k, v[0] ?? "");
    // As services/mesh deadLetterHeaders() writes them.
    dl.set("JetMesh-Dlq-Original-Subject", "shop.order.placed.v1");
    dl.set("JetMesh-Dlq-Reason", "max_deliver");
    dl.set("JetMesh-Dlq-Delivery-Count", "5");
    dl.set("JetMesh-Dlq-Error", "stock service exploded");
    await js.publish("jetmesh.dlq.shop.inventory", JSON.stringify({ orderId: "order-1" }), { headers: dl });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.destroy();
  });

  it("lists, shows and replays a dead letter as a fresh delivery with the same ce-id", async () => {
    const list = await run(["dlq", "list", "--stream", "shop_dead-letters", "--nats", nats.url]);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^STREAM\s+SEQ\s+TIME\s+SUBSCRIPTION\s+ORIGINAL-SUBJECT/);
    expect(list.out).toMatch(
      /^shop_dead-letters\s+1\s+\S+\s+shop\/inventory\s+shop\.order\.placed\.v1\s+max_deliver\s+5\s+order-1-placed\s+stock service exploded/m,
    );

    const show = await run(["dlq", "show", "--stream", "shop_dead-letters", "1"], { NATS_URL: nats.url });
    expect(show.code).toBe(0);
    expect(show.out).toContain("jetmesh-dlq-error: stock service exploded");
    expect(show.out).toContain('"orderId": "order-1"');

    const replay = await run(["dlq", "replay", "--stream", "shop_dead-letters", "1", "--nats", nats.url]);
    expect(replay.err).toBe("");
    expect(replay.code).toBe(0);
    expect(replay.out).toMatch(/replayed 1: shop\.order\.placed\.v1 ce-id order-1-placed → stream seq 2, dead letter deleted/);

    // A fresh message in the events stream (not dropped as a duplicate of the original id).
    const jsm = await jetstreamManager(nc);
    const m = await jsm.streams.getMessage("shop_events", { seq: 2 });
    expect(m?.subject).toBe("shop.order.placed.v1");
    expect(m?.header.get("ce-id")).toBe("order-1-placed");
    expect(m?.header.get("jetmesh-replayed-from")).toBe("shop_dead-letters/1");
    expect(m?.header.get("JetMesh-Dlq-Reason")).toBe("");
    expect(m?.json()).toEqual({ orderId: "order-1" });

    // The dead letter is gone; replaying it again is a clear failure.
    expect((await run(["dlq", "list", "--stream", "shop_dead-letters", "--nats", nats.url])).out).toMatch(/no dead letters/);
    const again = await run(["dlq", "replay", "--stream", "shop_dead-letters", "1", "--nats", nats.url]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/no dead letter with sequence 1/);
  });

  it("lists past replayed gaps, honours --limit, and replays --all", async () => {
    const js = jetstream(nc);
    const seqs: number[] = [];
    for (const n of [2, 3, 4]) {
      const dl = headers();
      dl.set("ce-id", `order-${n}-placed`);
      dl.set("ce-type", "shop.order.placed.v1");
      dl.set("ce-source", "/shop/order");
      dl.set("ce-specversion", "1.0");
      dl.set("JetMesh-Dlq-Reason", "terminal");
      seqs.push((await js.publish("jetmesh.dlq.shop.inventory", JSON.stringify({ orderId: `order-${n}` }), { headers: dl })).seq);
    }
    expect((await run(["dlq", "replay", "--stream", "shop_dead-letters", String(seqs[1]), "--nats", nats.url])).code).toBe(0);
    const list = await run(["dlq", "list", "--stream", "shop_dead-letters", "-o", "json", "--nats", nats.url]);
    expect((JSON.parse(list.out) as { seq: number; ceId: string }[]).map((d) => [d.seq, d.ceId])).toEqual([
      [seqs[0], "order-2-placed"],
      [seqs[2], "order-4-placed"],
    ]);
    const one = await run(["dlq", "list", "--stream", "shop_dead-letters", "-o", "json", "--limit", "1", "--nats", nats.url]);
    expect(JSON.parse(one.out)).toHaveLength(1);
    const all = await run(["dlq", "replay", "--stream", "shop_dead-letters", "--all", "--keep", "--nats", nats.url]);
    expect(all.out.split("\n")).toHaveLength(2);
    expect(all.out).not.toMatch(/deleted/);
    // --keep left them; a second --all replays the same entries again, deduplicated by JetStream.
    const again = await run(["dlq", "replay", "--stream", "shop_dead-letters", "--all", "--nats", nats.url]);
    expect(again.out.match(/duplicate: already replayed/g)).toHaveLength(2);
    expect((await run(["dlq", "list", "--stream", "shop_dead-letters", "--nats", nats.url])).out).toMatch(/no dead letters/);
  });

  it("lists and replays nothing from an empty dead-letter stream", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "empty-dlq", subjects: ["empty.dlq.>"] });
    const list = await run(["dlq", "list", "--nats", nats.url, "--stream", "empty-dlq"]);
    expect(list).toMatchObject({ code: 0, out: "no dead letters in stream empty-dlq" });
    const replay = await run(["dlq", "replay", "--all", "--nats", nats.url, "--stream", "empty-dlq"]);
    expect(replay).toMatchObject({ code: 0, out: "no dead letters in stream empty-dlq" });
  });

  it("names a missing stream", async () => {
    const r = await run(["dlq", "list", "--nats", nats.url, "--stream", "nope"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/stream nope does not exist/);
  });

  it("exits 3 with a clear message when NATS is unreachable", async () => {
    const port = await freePort();
    const r = await run(["dlq", "list", "--stream", "shop_dead-letters", "--nats", `nats://127.0.0.1:${port}`]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
  });

  it("masks card numbers in dlq show and list unless --show-sensitive", async () => {
    const js = jetstream(nc);
    const dl = headers();
    dl.set("ce-id", "order-9-confirmed");
    dl.set("ce-type", "shop.order.confirmed.v1");
    dl.set("ce-source", "/shop/order");
    dl.set("ce-specversion", "1.0");
    dl.set("JetMesh-Dlq-Reason", "invalid_event");
    dl.set("JetMesh-Dlq-Error", "Unexpected token 'x', \"x4111-1111-1111-1111\" is not valid JSON");
    const seq = (
      await js.publish("jetmesh.dlq.shop.shipping", JSON.stringify({ orderId: "order-9", payment: { card: "4242 4242 4242 4242" }, amount: 1299 }), {
        headers: dl,
      })
    ).seq;

    const show = await run(["dlq", "show", "--stream", "shop_dead-letters", String(seq), "--nats", nats.url]);
    expect(show.code).toBe(0);
    expect(show.out).toContain('"card": "**** **** **** 4242"');
    expect(show.out).toContain('"x****-****-****-1111"');
    expect(show.out).toContain('"amount": 1299');
    expect(show.out).not.toMatch(/4242 4242|4111-1111/);
    const list = await run(["dlq", "list", "--stream", "shop_dead-letters", "-o", "json", "--nats", nats.url]);
    expect(list.out).toContain("x****-****-****-1111");
    expect(list.out).not.toContain("4111-1111");

    const revealed = await run(["dlq", "show", "--stream", "shop_dead-letters", String(seq), "--show-sensitive", "--nats", nats.url]);
    expect(revealed.out).toContain('"card": "4242 4242 4242 4242"');
    expect(revealed.out).toContain("x4111-1111-1111-1111");
    expect((await run(["dlq", "list", "--stream", "shop_dead-letters", "-o", "json", "--show-sensitive", "--nats", nats.url])).out).toContain(
      "x4111-1111-1111-1111",
    );
    expect((await run(["dlq", "replay", "--stream", "shop_dead-letters", String(seq), "--nats", nats.url])).code).toBe(0);
  });

  it("never prints the password of a NATS URL in an error", async () => {
    const port = await freePort();
    const r = await run(["dlq", "list", "--stream", "shop_dead-letters"], { NATS_URL: `nats://order:hunter2secret@127.0.0.1:${port}` });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/cannot connect to NATS at nats:\/\/order:\*\*\*@127\.0\.0\.1:\d+/);
    expect(r.err).not.toContain("hunter2secret");
    const missing = await run(["dlq", "list", "--stream", "nope", "--nats", nats.url.replace("nats://", "nats://order:hunter2secret@")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/stream nope does not exist on nats:\/\/order:\*\*\*@/);
    expect(missing.err).not.toContain("hunter2secret");
  });

  it("exits 2 with usage on bad arguments", async () => {
    const r = await run(["dlq", "replay", "--stream", "shop_dead-letters"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Usage:/);
  });
});

describe("jetmesh against a NATS with authorization (as the chart installs it)", () => {
  let nats: NatsCluster;
  beforeAll(async () => {
    nats = await startNats({ extraConfig: 'authorization { users: [ { user: admin, password: "s3cret-admin-pass" } ] }' });
    const nc = await connect({ servers: nats.url, user: "admin", pass: "s3cret-admin-pass" });
    await (await jetstreamManager(nc)).streams.add({ name: "shop_dead-letters", subjects: ["jetmesh.dlq.>"] });
    await nc.close();
  });
  afterAll(async () => nats?.destroy());

  it("connects with NATS_USER/NATS_PASSWORD, or the user:password of the URL, and never prints the password", async () => {
    const byEnv = await run(["dlq", "list", "--stream", "shop_dead-letters"], { NATS_URL: nats.url, NATS_USER: "admin", NATS_PASSWORD: "s3cret-admin-pass" });
    expect(byEnv.code, byEnv.err).toBe(0);
    expect(byEnv.out).toContain("no dead letters in stream shop_dead-letters");
    const byUrl = await run(["dlq", "list", "--stream", "shop_dead-letters", "--nats", nats.url.replace("nats://", "nats://admin:s3cret-admin-pass@")], {});
    expect(byUrl.code, byUrl.err).toBe(0);
    const without = await run(["dlq", "list", "--stream", "shop_dead-letters"], { NATS_URL: nats.url });
    expect(without.code).toBe(3);
    const wrong = await run(["dlq", "list", "--stream", "shop_dead-letters", "--nats", nats.url.replace("nats://", "nats://admin:wrong-pass@")], {});
    expect(wrong.code).toBe(3);
    expect(wrong.out + wrong.err).not.toContain("wrong-pass");
  });
});
