// CEL for `x-kubernetes-validations` rules, evaluated by a maintained CEL implementation
// (@marcbachmann/cel-js: the CEL spec's operators, macros, standard functions, durations,
// timestamps, string extensions) rather than by this server. What Kubernetes adds is done here:
// `self` and `oldSelf` as the only variables, and the apiserver's typing of JSON values (an
// `integer` is a CEL int, so `size(self.list) <= self.max` compares ints as in kube-apiserver).
// A rule that does not parse or type-check is refused when its CRD is created, as
// kube-apiserver refuses it.
import { Environment } from "@marcbachmann/cel-js";

export type CelValue = unknown;

export class CelError extends Error {}

export interface CelProgram {
  source: string;
  /** A transition rule: it names oldSelf, so it runs on updates only. */
  usesOldSelf: boolean;
  eval(vars: Record<string, CelValue>): CelValue;
}

const env = new Environment({ homogeneousAggregateLiterals: false }).registerVariable("self", "dyn").registerVariable("oldSelf", "dyn");

/** JSON as the apiserver hands it to CEL: whole numbers are ints. */
function toCel(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

function fromCel(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(fromCel);
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromCel(x)]));
  }
  return v;
}

/** Whether `oldSelf` appears outside string literals. */
function namesOldSelf(source: string): boolean {
  return /\boldSelf\b/.test(source.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""'));
}

/** Compiles a rule or throws CelError (a syntax error, an unknown variable or function). */
export function compileCel(source: string): CelProgram {
  let program: ReturnType<Environment["parse"]>;
  try {
    program = env.parse(source);
  } catch (err) {
    throw new CelError((err as Error).message.split("\n")[0] ?? String(err));
  }
  const checked = program.check();
  if (!checked.valid) throw new CelError(checked.error?.message.split("\n")[0] ?? `invalid expression ${source}`);
  return {
    source,
    usesOldSelf: namesOldSelf(source),
    eval(vars) {
      try {
        return fromCel(program(Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, toCel(v)]))));
      } catch (err) {
        throw new CelError((err as Error).message.split("\n")[0] ?? String(err));
      }
    },
  };
}
