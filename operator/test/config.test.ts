import { describe, expect, it } from "vitest";
import { KUBE_API_DEFAULTS, parseConfig } from "../src/config.ts";

describe("operator configuration", () => {
  it("has working defaults", () => {
    const c = parseConfig({});
    expect(c.nats.servers).toEqual(["nats://127.0.0.1:4222"]);
    expect(c.resyncMs).toBe(30_000);
    expect(c.httpPort).toBe(8080);
    expect(c.leaderElection).toMatchObject({
      enabled: true,
      name: "jetmesh-operator",
      namespace: "default",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
  });

  it("reads NATS settings and lease timings", () => {
    const c = parseConfig({
      NATS_URL: "nats://a:4222, nats://b:4222",
      NATS_CREDS_FILE: "/secrets/nats.creds",
      RESYNC_SECONDS: "0.5",
      POD_NAMESPACE: "jetmesh-system",
      POD_NAME: "op-0",
      LEADER_ELECTION: "false",
    });
    expect(c.nats.servers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(c.nats.credsFile).toBe("/secrets/nats.creds");
    expect(c.resyncMs).toBe(500);
    expect(c.leaderElection).toMatchObject({ enabled: false, namespace: "jetmesh-system", identity: "op-0" });
  });

  it.each([
    [{ NATS_URL: "http://x" }, /NATS_URL: "http:\/\/x" is not a NATS URL/],
    [{ NATS_URL: " , " }, /NATS_URL is empty/],
    [{ RESYNC_SECONDS: "-1" }, /RESYNC_SECONDS="-1"/],
    [{ WORKERS: "0" }, /WORKERS="0": expected an integer from 1 to 256/],
    [{ HTTP_PORT: "http" }, /HTTP_PORT/],
    [{ LEADER_ELECTION: "maybe" }, /LEADER_ELECTION="maybe": expected true or false/],
    [{ LEASE_DURATION_SECONDS: "5", LEASE_RENEW_DEADLINE_SECONDS: "6" }, /shorter than LEASE_DURATION_SECONDS/],
    [{ NATS_TLS_CERT_FILE: "/c" }, /needs NATS_TLS_KEY_FILE/],
    [{ SUBJECT_CONFINEMENT: "strict" }, /SUBJECT_CONFINEMENT="strict": expected namespace or off/],
    [{ ALLOWED_SUBJECTS: "{" }, /ALLOWED_SUBJECTS is neither JSON nor YAML/],
    [{ ALLOWED_SUBJECTS: '["a.>"]' }, /ALLOWED_SUBJECTS: expected a JSON object/],
    [{ ALLOWED_SUBJECTS: '{"legacy":"orders.>"}' }, /ALLOWED_SUBJECTS\["legacy"\]: expected a list of subjects/],
    [{ ALLOWED_SUBJECTS: '{"legacy":["orders. x"]}' }, /"orders. x" is not a valid subject/],
    [{ ALLOWED_SUBJECTS: '{"*":["_INBOX.>"]}' }, /ALLOWED_SUBJECTS\["\*"\]: "_INBOX.>" is a reply subject.*cannot be allowed/],
    [{ WATCH_NAMESPACES: "shop,Team_B" }, /WATCH_NAMESPACES: "Team_B" is not a namespace name/],
    [{ KUBE_API_QPS: "0" }, /KUBE_API_QPS="0": expected a number of requests per second > 0/],
    [{ KUBE_API_QPS: "fast" }, /KUBE_API_QPS="fast"/],
    [{ KUBE_API_QPS: "-5" }, /KUBE_API_QPS="-5"/],
    [{ KUBE_API_BURST: "0" }, /KUBE_API_BURST="0": expected an integer from 1 to 1000000/],
    [{ KUBE_API_BURST: "2.5" }, /KUBE_API_BURST="2.5"/],
  ])("refuses %j", (env, message) => expect(() => parseConfig(env)).toThrow(message));

  it("watches every namespace unless WATCH_NAMESPACES lists some (namespaced mode)", () => {
    expect(parseConfig({}).watchNamespaces).toEqual([]);
    expect(parseConfig({ WATCH_NAMESPACES: "" }).watchNamespaces).toEqual([]);
    expect(parseConfig({ WATCH_NAMESPACES: " shop, payments ,shop" }).watchNamespaces).toEqual(["shop", "payments"]);
  });

  it("limits requests to the API server as client-go's QPS and burst do", () => {
    expect(parseConfig({}).kubeApi).toEqual(KUBE_API_DEFAULTS);
    expect(parseConfig({ KUBE_API_QPS: "20", KUBE_API_BURST: "30" }).kubeApi).toEqual({ qps: 20, burst: 30 });
    // QPS alone: a burst of two seconds' worth.
    expect(parseConfig({ KUBE_API_QPS: "0.5" }).kubeApi).toEqual({ qps: 0.5, burst: 1 });
    expect(parseConfig({ KUBE_API_QPS: "50" }).kubeApi).toEqual({ qps: 50, burst: 100 });
  });

  it("names a bad NATS_URL without its password", () => {
    expect(() => parseConfig({ NATS_URL: "http://op:hunter2secret@nats:4222" })).toThrow('NATS_URL: "…@nats:4222" is not a NATS URL');
    expect(() => parseConfig({ NATS_URL: "http://op:hunter2secret@nats:4222" })).not.toThrow(/hunter2secret/);
  });

  it("confines namespaces to their own subjects unless told otherwise", () => {
    expect(parseConfig({}).subjectPolicy).toEqual({ confinement: "namespace", allowed: {} });
    expect(parseConfig({ SUBJECT_CONFINEMENT: "off" }).subjectPolicy.confinement).toBe("off");
    expect(parseConfig({ ALLOWED_SUBJECTS: '{"legacy":["orders.>"],"*":["public.>"]}' }).subjectPolicy.allowed).toEqual({
      legacy: ["orders.>"],
      "*": ["public.>"],
    });
    // As the chart renders it (toYaml).
    expect(parseConfig({ ALLOWED_SUBJECTS: "legacy:\n- orders.>\n" }).subjectPolicy.allowed).toEqual({ legacy: ["orders.>"] });
    expect(parseConfig({ ALLOWED_SUBJECTS: "{}" }).subjectPolicy.allowed).toEqual({});
  });
});
