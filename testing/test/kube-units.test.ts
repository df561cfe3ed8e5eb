// Pure parts of the Kubernetes API test server, table-driven: CEL rules, selectors,
// patches, structural schema validation/defaulting/pruning, JSONPath, ages, version order.
import { describe, expect, it } from "vitest";
import { compileCel, CelError } from "../src/kube/cel.ts";
import { parseFieldSelector, parseLabelSelector, labelSelectorToString } from "../src/kube/selectors.ts";
import { jsonPatch, mergePatch, strategicMergePatch } from "../src/kube/patch.ts";
import { applyDefaults, checkSchema, prune, validate } from "../src/kube/schema.ts";
import { evalJsonPath } from "../src/kube/jsonpath.ts";
import { humanDuration } from "../src/kube/table.ts";
import { compareVersions } from "../src/kube/discovery.ts";
import { invalid } from "../src/kube/errors.ts";
import { validateMetadata } from "../src/kube/metadata.ts";
import type { Json, JsonObject, KubeObject } from "../src/kube/types.ts";

describe("CEL (x-kubernetes-validations)", () => {
  const self = { minReplicas: 1, maxReplicas: 5, backoff: ["1s", "5s"], maxDeliver: 3, name: "orders", tags: { a: "x" } };
  it.each([
    ["self.minReplicas <= self.maxReplicas", true],
    ["!has(self.scaling) || self.scaling.min < 1", true],
    ["has(self.backoff) && size(self.backoff) <= self.maxDeliver", true],
    ["self.backoff.size() == 2 && self.name.startsWith('ord')", true],
    ["self.backoff.all(b, b.endsWith('s'))", true],
    ["self.backoff.exists(b, b == '5s')", true],
    ["'a' in self.tags && !('b' in self.tags)", true],
    ["self.maxReplicas - self.minReplicas * 2 > 2 ? true : false", true],
    ["duration('1m') > duration('30s')", true],
    ["self.name.matches('^[a-z]+$')", true],
    ["self.minReplicas > self.maxReplicas", false],
    // Whole JSON numbers are CEL ints, as kube-apiserver types an integer field.
    ["self.maxDeliver + 1 == 4 && string(self.maxDeliver) == '3'", true],
    ["self.name.lowerAscii() == 'orders' && timestamp('2026-01-01T00:00:00Z') > timestamp('2025-01-01T00:00:00Z')", true],
    // A missing field is an error on its own, absorbed by || when the other side decides.
    ["self.missing == 1 || true", true],
  ])("%s → %s", (rule, want) => {
    expect(compileCel(rule).eval({ self })).toBe(want);
  });

  it.each([["self.x.filter("], ["other.x"], ["noSuchFunction(self)"], ["self.a.noSuchMethod(1)"]])("refuses %s at compile time", (rule) => {
    expect(() => compileCel(rule)).toThrow(CelError);
  });

  it("knows when a rule is a transition rule", () => {
    expect(compileCel("self == oldSelf").usesOldSelf).toBe(true);
    expect(compileCel("self.a == 1").usesOldSelf).toBe(false);
    expect(compileCel("self.a == 'oldSelf'").usesOldSelf).toBe(false);
  });
});

describe("selectors", () => {
  const labels = { app: "inventory", tier: "backend" };
  it.each([
    ["app=inventory", true],
    ["app==inventory,tier=backend", true],
    ["app!=inventory", false],
    ["app in (order, inventory)", true],
    ["app notin (inventory)", false],
    ["tier", true],
    ["!tier", false],
    ["missing!=x", true],
    ["", true],
  ])("label selector %j → %s", (sel, want) => {
    expect(parseLabelSelector(sel)(labels)).toBe(want);
  });

  it("refuses malformed label selectors and unsupported field labels with 400", () => {
    expect(() => parseLabelSelector("a in b")).toThrow(/unable to parse requirement/);
    expect(() => parseFieldSelector("spec.x=1", [])).toThrow(/field label not supported: spec.x/);
  });

  it("matches field selectors", () => {
    const obj = { apiVersion: "v1", kind: "Event", metadata: { name: "a", namespace: "shop" }, involvedObject: { name: "x" } } as KubeObject;
    expect(parseFieldSelector("metadata.name=a,metadata.namespace!=default")(obj)).toBe(true);
    expect(parseFieldSelector("involvedObject.name=y")(obj)).toBe(false);
  });

  it("renders a LabelSelector as Scale.status.selector", () => {
    expect(labelSelectorToString({ matchLabels: { b: "2", a: "1" }, matchExpressions: [{ key: "c", operator: "Exists" }] })).toBe("a=1,b=2,c");
  });
});

describe("patches", () => {
  it("JSON merge patch (RFC 7386)", () => {
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1] }, { b: { c: null, e: 4 }, l: [2] })).toEqual({ a: 1, b: { d: 3, e: 4 }, l: [2] });
  });

  it("JSON patch (RFC 6902) and its errors", () => {
    const doc = { spec: { l: [1, 2] }, metadata: { finalizers: ["f"] } };
    expect(
      jsonPatch(doc, [
        { op: "add", path: "/spec/l/-", value: 3 },
        { op: "replace", path: "/spec/l/0", value: 0 },
        { op: "remove", path: "/metadata/finalizers" },
        { op: "test", path: "/spec/l/1", value: 2 },
        { op: "copy", from: "/spec/l", path: "/spec/m" },
      ]),
    ).toEqual({ spec: { l: [0, 2, 3], m: [0, 2, 3] }, metadata: {} });
    expect(() => jsonPatch(doc, [{ op: "remove", path: "/spec/x" }])).toThrow(/missing path/);
    expect(() => jsonPatch(doc, [{ op: "test", path: "/spec/l/0", value: 9 }])).toThrow(/test failed/);
  });

  it("strategic merge patch merges containers and env by name, honours directives", () => {
    const dep: Json = {
      spec: {
        template: {
          spec: {
            containers: [
              { name: "a", image: "a:1", env: [{ name: "X", value: "1" }] },
              { name: "b", image: "b:1" },
            ],
          },
        },
      },
    };
    const out = strategicMergePatch(dep, {
      spec: {
        template: {
          spec: {
            "$setElementOrder/containers": [{ name: "b" }, { name: "a" }],
            containers: [
              { name: "a", env: [{ name: "Y", value: "2" }] },
              { name: "b", $patch: "delete" },
            ],
          },
        },
      },
    });
    expect(out).toEqual({
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "a",
                image: "a:1",
                env: [
                  { name: "X", value: "1" },
                  { name: "Y", value: "2" },
                ],
              },
            ],
          },
        },
      },
    });
    expect(strategicMergePatch({ metadata: { finalizers: ["a"] } }, { metadata: { finalizers: ["b"], "$deleteFromPrimitiveList/finalizers": ["a"] } })).toEqual(
      { metadata: { finalizers: ["b"] } },
    );
  });
});

describe("structural schema", () => {
  const schema: JsonObject = {
    type: "object",
    properties: {
      spec: {
        type: "object",
        required: ["stream"],
        properties: {
          stream: { type: "string", pattern: "^[a-z]+$" },
          retention: { type: "string", enum: ["limits", "interest"], default: "limits" },
          replicas: { type: "integer", minimum: 1, maximum: 5 },
          types: { type: "array", maxItems: 2, items: { type: "string", minLength: 1 } },
          maxAge: { type: "string", format: "duration" },
          size: { "x-kubernetes-int-or-string": true },
          extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        },
      },
    },
  };

  it("prunes unknown fields (reporting their paths), keeps preserved ones, then defaults", () => {
    const obj = { apiVersion: "x/v1", kind: "X", metadata: { name: "n" }, spec: { stream: "s", bogus: 1, extra: { any: 1 } }, top: 1 } as Json;
    expect(prune(obj, schema)).toEqual(["spec.bogus", "top"]);
    applyDefaults(obj, schema);
    expect(obj).toEqual({ apiVersion: "x/v1", kind: "X", metadata: { name: "n" }, spec: { stream: "s", retention: "limits", extra: { any: 1 } } });
  });

  it.each([
    [{ stream: "s", replicas: 9 }, "spec.replicas: Invalid value: 9: spec.replicas in body should be less than or equal to 5"],
    [{ stream: "s", replicas: 0 }, "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"],
    [{ stream: "S" }, "spec.stream: Invalid value: \"S\": spec.stream in body should match '^[a-z]+$'"],
    [{}, "spec.stream: Required value"],
    [{ stream: "s", retention: "x" }, 'spec.retention: Unsupported value: "x": supported values: "limits", "interest"'],
    [{ stream: "s", replicas: "2" }, 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'],
    [{ stream: "s", types: ["a", "b", "c"] }, "spec.types: Too many: 3: must have at most 2 items"],
    [{ stream: "s", types: [""] }, 'spec.types[0]: Invalid value: "": spec.types[0] in body should be at least 1 chars long'],
    [{ stream: "s", maxAge: "7 days" }, 'spec.maxAge: Invalid value: "7 days": spec.maxAge in body must be of type duration: "7 days"'],
    [{ stream: "s", size: 1.5 }, 'spec.size: Invalid value: "number": spec.size in body must be of type integer-or-string: "number"'],
  ])("%j → %s", (spec, message) => {
    const causes = validate({ spec } as Json, schema, "");
    const err = invalid("EventStream", "jetmesh.io", "x", causes);
    expect(err.message).toBe(`EventStream.jetmesh.io "x" is invalid: ${message}`);
  });

  it("refuses duplicate keys in list-map lists (conditions by type)", () => {
    const s: JsonObject = {
      type: "object",
      properties: { conditions: { type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"], items: { type: "object" } } },
    };
    expect(validate({ conditions: [{ type: "Ready" }, { type: "Ready" }] }, s, "status")).toEqual([
      { reason: "FieldValueDuplicate", field: "status.conditions[1]", message: 'Duplicate value: {"type":"Ready"}' },
    ]);
  });

  it("reports CEL rules that do not compile when the CRD is created", () => {
    const causes = checkSchema(
      { type: "object", properties: { spec: { type: "object", "x-kubernetes-validations": [{ rule: "self.x.noSuchMethod() == 'a'" }] } } },
      "spec.versions[0].schema.openAPIV3Schema",
    );
    expect(causes[0]?.field).toBe("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule");
    expect(causes[0]?.message).toMatch(/compilation failed/);
  });

  it("ratchets: an update may keep an unchanged invalid value, but not change it to another invalid one", () => {
    const old = { spec: { stream: "s", replicas: 9 } };
    expect(validate({ spec: { stream: "s", replicas: 9, retention: "limits" } }, schema, "", old)).toEqual([]);
    expect(validate({ spec: { stream: "s", replicas: 8 } }, schema, "", old).map((c) => c.field)).toEqual(["spec.replicas"]);
  });

  it("evaluates transition rules only on update", () => {
    const s: JsonObject = {
      type: "object",
      properties: {
        spec: {
          type: "object",
          properties: { mode: { type: "string", "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "mode is immutable" }] } },
        },
      },
    };
    expect(validate({ spec: { mode: "a" } }, s, "")).toEqual([]);
    expect(validate({ spec: { mode: "b" } }, s, "", { spec: { mode: "a" } })).toEqual([
      { reason: "FieldValueInvalid", field: "spec.mode", message: 'Invalid value: "b": mode is immutable' },
    ]);
  });
});

describe("printing and discovery helpers", () => {
  it("evaluates the printer-column JSONPath subset", () => {
    const o = {
      status: {
        conditions: [
          { type: "Stream", status: "False" },
          { type: "Ready", status: "True" },
        ],
      },
      spec: { l: [{ n: 1 }, { n: 2 }] },
    };
    expect(evalJsonPath(o, '.status.conditions[?(@.type=="Ready")].status')).toEqual(["True"]);
    expect(evalJsonPath(o, ".spec.l[*].n")).toEqual([1, 2]);
    expect(evalJsonPath(o, ".spec.l[1].n")).toEqual([2]);
    expect(evalJsonPath(o, ".spec.missing")).toEqual([]);
  });

  it.each([
    [5_000, "5s"],
    [119_000, "119s"],
    [150_000, "2m30s"],
    [45 * 60_000, "45m"],
    [(3 * 60 + 20) * 60_000, "3h20m"],
    [30 * 3_600_000, "30h"],
    [(3 * 24 + 5) * 3_600_000, "3d5h"],
    [400 * 86_400_000, "400d"],
  ])("age of %d ms is %s", (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });

  it("orders versions by Kubernetes priority", () => {
    expect(["v1alpha1", "v1beta1", "v2", "v1", "foo"].sort(compareVersions)).toEqual(["v2", "v1", "v1beta1", "v1alpha1", "foo"]);
  });
});

describe("object metadata validation", () => {
  it.each([
    [{ labels: { app: "ok", "jetmesh.io/stream": "a_b.c-1" } }, []],
    [{ labels: { app: "bad value" } }, ["metadata.labels"]],
    [{ labels: { "Bad/Key": "x" } }, ["metadata.labels"]],
    [{ labels: { app: "x".repeat(64) } }, ["metadata.labels"]],
    [{ finalizers: ["jetmesh.io/cleanup", "kubernetes"] }, []],
    [{ finalizers: ["jetmesh.io/clean up"] }, ["metadata.finalizers[0]"]],
    [
      {
        ownerReferences: [
          { apiVersion: "v1", kind: "A", name: "a", uid: "1", controller: true },
          { apiVersion: "v1", kind: "B", name: "b", uid: "2", controller: true },
        ],
      },
      ["metadata.ownerReferences"],
    ],
  ])("%j → causes at %j", (meta, fields) => {
    expect(validateMetadata(meta).map((c) => c.field)).toEqual(fields);
  });
});
