// values.schema.json accepts the chart's defaults and every documented example, and
// refuses values a user could plausibly get wrong, with a message that points at the key.
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { chartDir, listFiles, loadYaml, mergeValues, readText } from "./chart.ts";
import { join } from "node:path";

const schema = JSON.parse(readText(join(chartDir, "values.schema.json"))) as object;
const defaults = loadYaml(join(chartDir, "values.yaml"));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

function errorsOf(values: unknown): string {
  return validate(values) ? "" : ajv.errorsText(validate.errors, { separator: "\n" });
}

describe("values.schema.json", () => {
  it("accepts values.yaml", () => {
    expect(errorsOf(defaults)).toBe("");
  });

  const examples = listFiles(join(chartDir, "examples"), ".yaml");
  it("has documented example values files", () => {
    expect(examples.map((f) => f.split("/").pop())).toEqual(
      expect.arrayContaining(["kind.yaml", "external-nats.yaml", "durable-nats.yaml", "operator-only.yaml", "per-service-nats-users.yaml"]),
    );
  });
  for (const file of examples) {
    it(`accepts examples/${file.split("/").pop()} merged onto values.yaml`, () => {
      expect(errorsOf(mergeValues(defaults, loadYaml(file)))).toBe("");
    });
  }

  const bad: [string, unknown, RegExp][] = [
    ["an unknown top-level key (typo)", { operater: { replicas: 1 } }, /must NOT have additional properties/],
    ["a writable root filesystem", { containerSecurityContext: { readOnlyRootFilesystem: false } }, /readOnlyRootFilesystem/],
    ["privilege escalation", { containerSecurityContext: { allowPrivilegeEscalation: true } }, /allowPrivilegeEscalation/],
    ["running as root", { podSecurityContext: { runAsNonRoot: false } }, /podSecurityContext\/runAsNonRoot/],
    ["two operators without leader election", { operator: { leaderElection: { enabled: false } } }, /leaderElection\/enabled/],
    ["no NATS at all", { nats: { enabled: false } }, /natsConnection\/url/],
    ["a NATS URL without scheme", { natsConnection: { url: "nats.example:4222" } }, /natsConnection\/url/],
    ["credentials without their Secret", { natsConnection: { auth: { type: "creds" } } }, /secretName/],
    ["a service's own credential without its Secret", { services: { order: { natsAuth: { type: "nkey" } } } }, /services\/order\/natsAuth/],
    ["an operator credential of an unknown type", { operator: { natsAuth: { type: "token", secretName: "s" } } }, /operator\/natsAuth/],
    ["TLS without its Secret", { natsConnection: { tls: { enabled: true } } }, /secretName/],
    ["a NodePort outside the range", { services: { order: { service: { type: "NodePort", nodePort: 8080 } } } }, /nodePort/],
    ["a stream with 7 replicas", { shop: { streams: { events: { replicas: 7 } } } }, /replicas/],
    ["a subscription without types", { shop: { subscriptions: { x: { stream: "events", subscriber: { deployment: "x" } } } } }, /types/],
    ["a resync of zero seconds", { operator: { resyncSeconds: 0 } }, /resyncSeconds/],
    ["an unknown log level", { serviceDefaults: { logLevel: "verbose" } }, /logLevel/],
    ["a registry prefix without trailing slash", { image: { registry: "ghcr.io/acme" } }, /registry/],
  ];
  for (const [what, overlay, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(errorsOf(mergeValues(defaults, overlay))).toMatch(message);
    });
  }
});
