// A small, documented subset of CEL for `x-kubernetes-validations` rules. Supported:
// literals (int, double, string, bool, null, lists, maps), `self`, `oldSelf`, field access
// and indexing, `has(x.f)`, `size(x)` / `x.size()`, `! && || ?:`, `== != < <= > >= in`,
// `+ - * / %`, string `startsWith/endsWith/contains/matches`, list macros
// `all/exists/exists_one/map/filter`, conversions `int/double/string/duration`.
// Anything else is refused when the CRD is created (a loud error, not a silent accept).

export type CelValue = unknown;

type Node =
  | { t: "lit"; v: CelValue }
  | { t: "id"; name: string }
  | { t: "sel"; on: Node; f: string }
  | { t: "idx"; on: Node; i: Node }
  | { t: "call"; fn: string; target?: Node; args: Node[] }
  | { t: "un"; op: string; a: Node }
  | { t: "bin"; op: string; a: Node; b: Node }
  | { t: "cond"; c: Node; a: Node; b: Node }
  | { t: "list"; items: Node[] }
  | { t: "map"; entries: [Node, Node][] };

export class CelError extends Error {}

const GLOBAL_FNS = new Set(["has", "size", "int", "uint", "double", "string", "duration"]);
const METHODS = new Set(["size", "startsWith", "endsWith", "contains", "matches", "all", "exists", "exists_one", "map", "filter"]);
const MACROS = new Set(["all", "exists", "exists_one", "map", "filter"]);

function tokenize(src: string): string[] {
  const re =
    /\s*(?:(\d+\.\d+(?:[eE][+-]?\d+)?|\d+u?|0x[0-9a-fA-F]+)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()[\]{}]))/y;
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new CelError(`Syntax error: unexpected character at position ${i} in ${JSON.stringify(src)}`);
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
    i = re.lastIndex;
  }
  return out;
}

class Parser {
  private pos = 0;
  private readonly toks: string[];
  constructor(toks: string[]) {
    this.toks = toks;
  }
  private peek(): string | undefined {
    return this.toks[this.pos];
  }
  private next(): string {
    const t = this.toks[this.pos++];
    if (t === undefined) throw new CelError("Syntax error: unexpected end of expression");
    return t;
  }
  private expect(t: string): void {
    const got = this.next();
    if (got !== t) throw new CelError(`Syntax error: expected '${t}', got '${got}'`);
  }
  parse(): Node {
    const n = this.expr();
    if (this.pos !== this.toks.length) throw new CelError(`Syntax error: unexpected '${this.peek()}'`);
    return n;
  }
  private expr(): Node {
    const c = this.or();
    if (this.peek() === "?") {
      this.next();
      const a = this.expr();
      this.expect(":");
      const b = this.expr();
      return { t: "cond", c, a, b };
    }
    return c;
  }
  private or(): Node {
    let a = this.and();
    while (this.peek() === "||") {
      this.next();
      a = { t: "bin", op: "||", a, b: this.and() };
    }
    return a;
  }
  private and(): Node {
    let a = this.rel();
    while (this.peek() === "&&") {
      this.next();
      a = { t: "bin", op: "&&", a, b: this.rel() };
    }
    return a;
  }
  private rel(): Node {
    let a = this.add();
    for (;;) {
      const p = this.peek();
      if (p === "==" || p === "!=" || p === "<" || p === "<=" || p === ">" || p === ">=" || p === "in") {
        this.next();
        a = { t: "bin", op: p, a, b: this.add() };
      } else return a;
    }
  }
  private add(): Node {
    let a = this.mul();
    while (this.peek() === "+" || this.peek() === "-") {
      const op = this.next();
      a = { t: "bin", op, a, b: this.mul() };
    }
    return a;
  }
  private mul(): Node {
    let a = this.unary();
    while (this.peek() === "*" || this.peek() === "/" || this.peek() === "%") {
      const op = this.next();
      a = { t: "bin", op, a, b: this.unary() };
    }
    return a;
  }
  private unary(): Node {
    if (this.peek() === "!" || this.peek() === "-") {
      const op = this.next();
      return { t: "un", op, a: this.unary() };
    }
    return this.member();
  }
  private args(): Node[] {
    const args: Node[] = [];
    if (this.peek() !== ")") {
      args.push(this.expr());
      while (this.peek() === ",") {
        this.next();
        args.push(this.expr());
      }
    }
    this.expect(")");
    return args;
  }
  private member(): Node {
    let n = this.primary();
    for (;;) {
      if (this.peek() === ".") {
        this.next();
        const f = this.next();
        if (!/^[A-Za-z_]/.test(f)) throw new CelError(`Syntax error: bad field name '${f}'`);
        if (this.peek() === "(") {
          this.next();
          if (!METHODS.has(f)) throw new CelError(`undeclared reference to '${f}' (not in the test server's CEL subset)`);
          n = { t: "call", fn: f, target: n, args: this.args() };
        } else n = { t: "sel", on: n, f };
      } else if (this.peek() === "[") {
        this.next();
        const i = this.expr();
        this.expect("]");
        n = { t: "idx", on: n, i };
      } else return n;
    }
  }
  private primary(): Node {
    const t = this.next();
    if (t === "(") {
      const e = this.expr();
      this.expect(")");
      return e;
    }
    if (t === "[") {
      const items: Node[] = [];
      if (this.peek() !== "]") {
        items.push(this.expr());
        while (this.peek() === ",") {
          this.next();
          items.push(this.expr());
        }
      }
      this.expect("]");
      return { t: "list", items };
    }
    if (t === "{") {
      const entries: [Node, Node][] = [];
      if (this.peek() !== "}") {
        for (;;) {
          const k = this.expr();
          this.expect(":");
          entries.push([k, this.expr()]);
          if (this.peek() !== ",") break;
          this.next();
        }
      }
      this.expect("}");
      return { t: "map", entries };
    }
    if (/^["']/.test(t)) return { t: "lit", v: JSON.parse(t[0] === "'" ? `"${t.slice(1, -1).replace(/"/g, '\\"')}"` : t) };
    if (/^0x/.test(t)) return { t: "lit", v: parseInt(t, 16) };
    if (/^\d/.test(t)) return { t: "lit", v: Number(t.replace(/u$/, "")) };
    if (t === "true" || t === "false") return { t: "lit", v: t === "true" };
    if (t === "null") return { t: "lit", v: null };
    if (/^[A-Za-z_]/.test(t)) {
      if (this.peek() === "(") {
        this.next();
        if (!GLOBAL_FNS.has(t)) throw new CelError(`undeclared reference to '${t}' (not in the test server's CEL subset)`);
        const args = this.args();
        if (t === "has" && (args.length !== 1 || args[0]!.t !== "sel")) throw new CelError("invalid argument to has() macro");
        return { t: "call", fn: t, args };
      }
      return { t: "id", name: t };
    }
    throw new CelError(`Syntax error: unexpected '${t}'`);
  }
}

export interface CelProgram {
  source: string;
  usesOldSelf: boolean;
  eval(vars: Record<string, CelValue>): CelValue;
}

function checkIdents(n: Node, bound: Set<string>, uses: { oldSelf: boolean }): void {
  switch (n.t) {
    case "id":
      if (n.name === "oldSelf") uses.oldSelf = true;
      if (!bound.has(n.name) && n.name !== "self" && n.name !== "oldSelf") throw new CelError(`undeclared reference to '${n.name}'`);
      return;
    case "lit":
      return;
    case "sel":
      return checkIdents(n.on, bound, uses);
    case "idx":
      checkIdents(n.on, bound, uses);
      return checkIdents(n.i, bound, uses);
    case "call": {
      if (n.target) checkIdents(n.target, bound, uses);
      if (MACROS.has(n.fn)) {
        const v = n.args[0];
        if (!v || v.t !== "id" || n.args.length !== 2) throw new CelError(`${n.fn}() macro needs (variable, expression)`);
        const inner = new Set(bound);
        inner.add(v.name);
        return checkIdents(n.args[1]!, inner, uses);
      }
      for (const a of n.args) checkIdents(a, bound, uses);
      return;
    }
    case "un":
      return checkIdents(n.a, bound, uses);
    case "bin":
      checkIdents(n.a, bound, uses);
      return checkIdents(n.b, bound, uses);
    case "cond":
      checkIdents(n.c, bound, uses);
      checkIdents(n.a, bound, uses);
      return checkIdents(n.b, bound, uses);
    case "list":
      for (const i of n.items) checkIdents(i, bound, uses);
      return;
    case "map":
      for (const [k, v] of n.entries) {
        checkIdents(k, bound, uses);
        checkIdents(v, bound, uses);
      }
  }
}

/** Compiles a rule or throws CelError (syntax or outside the supported subset). */
export function compileCel(source: string): CelProgram {
  const ast = new Parser(tokenize(source)).parse();
  const uses = { oldSelf: false };
  checkIdents(ast, new Set(), uses);
  return { source, usesOldSelf: uses.oldSelf, eval: (vars) => evalNode(ast, vars) };
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === "object" && v !== null)
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** Go duration strings ("1h30m", "500ms") → seconds. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  if (!/^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(s)) throw new CelError(`invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  for (const m of s.matchAll(re)) total += Number(m[1]) * unit[m[2]!]!;
  return s.startsWith("-") ? -total : total;
}

function evalNode(n: Node, vars: Record<string, CelValue>): CelValue {
  switch (n.t) {
    case "lit":
      return n.v;
    case "id":
      if (!(n.name in vars)) throw new CelError(`undeclared reference to '${n.name}'`);
      return vars[n.name];
    case "sel": {
      const o = evalNode(n.on, vars);
      if (typeof o !== "object" || o === null || !Object.hasOwn(o, n.f)) throw new CelError(`no such key: ${n.f}`);
      return (o as Record<string, unknown>)[n.f];
    }
    case "idx": {
      const o = evalNode(n.on, vars);
      const i = evalNode(n.i, vars);
      if (Array.isArray(o)) {
        if (typeof i !== "number" || i < 0 || i >= o.length) throw new CelError(`index out of bounds: ${String(i)}`);
        return o[i];
      }
      if (typeof o === "object" && o !== null && Object.hasOwn(o, String(i))) return (o as Record<string, unknown>)[String(i)];
      throw new CelError(`no such key: ${String(i)}`);
    }
    case "un": {
      const a = evalNode(n.a, vars);
      if (n.op === "!") {
        if (typeof a !== "boolean") throw new CelError("no such overload: !_");
        return !a;
      }
      if (typeof a !== "number") throw new CelError("no such overload: -_");
      return -a;
    }
    case "cond":
      return evalNode(n.c, vars) === true ? evalNode(n.a, vars) : evalNode(n.b, vars);
    case "list":
      return n.items.map((i) => evalNode(i, vars));
    case "map":
      return Object.fromEntries(n.entries.map(([k, v]) => [String(evalNode(k, vars)), evalNode(v, vars)]));
    case "bin":
      return evalBin(n, vars);
    case "call":
      return evalCall(n, vars);
  }
}

function evalBin(n: Extract<Node, { t: "bin" }>, vars: Record<string, CelValue>): CelValue {
  if (n.op === "&&" || n.op === "||") {
    // CEL's commutative logic: an error on one side is absorbed if the other side decides.
    let ea: unknown;
    let a: unknown;
    try {
      a = evalNode(n.a, vars);
    } catch (e) {
      ea = e;
    }
    if (n.op === "&&" && a === false) return false;
    if (n.op === "||" && a === true) return true;
    const b = evalNode(n.b, vars);
    if (n.op === "&&" && b === false) return false;
    if (n.op === "||" && b === true) return true;
    if (ea) throw ea;
    if (typeof a !== "boolean" || typeof b !== "boolean") throw new CelError(`no such overload: _${n.op}_`);
    return n.op === "&&" ? a && b : a || b;
  }
  const a = evalNode(n.a, vars);
  const b = evalNode(n.b, vars);
  switch (n.op) {
    case "==":
      return deepEqual(a, b);
    case "!=":
      return !deepEqual(a, b);
    case "in":
      if (Array.isArray(b)) return b.some((x) => deepEqual(x, a));
      if (typeof b === "object" && b !== null) return Object.hasOwn(b, String(a));
      throw new CelError("no such overload: _in_");
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (!((typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string"))) {
        throw new CelError(`no such overload: _${n.op}_`);
      }
      if (n.op === "<") return a < b;
      if (n.op === "<=") return a <= b;
      if (n.op === ">") return a > b;
      return a >= b;
    }
    case "+":
      if (typeof a === "number" && typeof b === "number") return a + b;
      if (typeof a === "string" && typeof b === "string") return a + b;
      if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
      throw new CelError("no such overload: _+_");
    default: {
      if (typeof a !== "number" || typeof b !== "number") throw new CelError(`no such overload: _${n.op}_`);
      if ((n.op === "/" || n.op === "%") && b === 0) throw new CelError("division by zero");
      if (n.op === "-") return a - b;
      if (n.op === "*") return a * b;
      if (n.op === "/") return Number.isInteger(a) && Number.isInteger(b) ? Math.trunc(a / b) : a / b;
      return a % b;
    }
  }
}

function sizeOf(v: unknown): number {
  if (typeof v === "string") return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (typeof v === "object" && v !== null) return Object.keys(v).length;
  throw new CelError("no such overload: size");
}

function evalCall(n: Extract<Node, { t: "call" }>, vars: Record<string, CelValue>): CelValue {
  if (n.fn === "has" && !n.target) {
    const sel = n.args[0] as Extract<Node, { t: "sel" }>;
    const o = evalNode(sel.on, vars);
    return typeof o === "object" && o !== null && Object.hasOwn(o, sel.f);
  }
  if (MACROS.has(n.fn) && n.target) {
    const coll = evalNode(n.target, vars);
    const items = Array.isArray(coll) ? coll : typeof coll === "object" && coll !== null ? Object.keys(coll) : undefined;
    if (!items) throw new CelError(`no such overload: ${n.fn}`);
    const v = (n.args[0] as Extract<Node, { t: "id" }>).name;
    const run = (x: unknown) => evalNode(n.args[1]!, { ...vars, [v]: x });
    switch (n.fn) {
      case "all":
        return items.every((x) => run(x) === true);
      case "exists":
        return items.some((x) => run(x) === true);
      case "exists_one":
        return items.filter((x) => run(x) === true).length === 1;
      case "map":
        return items.map(run);
      default:
        return items.filter((x) => run(x) === true);
    }
  }
  const args = n.args.map((a) => evalNode(a, vars));
  if (n.target) {
    const t = evalNode(n.target, vars);
    if (n.fn === "size") return sizeOf(t);
    if (typeof t !== "string" || typeof args[0] !== "string") throw new CelError(`no such overload: ${n.fn}`);
    if (n.fn === "startsWith") return t.startsWith(args[0]);
    if (n.fn === "endsWith") return t.endsWith(args[0]);
    if (n.fn === "contains") return t.includes(args[0]);
    return new RegExp(args[0]).test(t);
  }
  const a = args[0];
  switch (n.fn) {
    case "size":
      return sizeOf(a);
    case "int":
    case "uint":
      if (typeof a === "string" && /^-?\d+$/.test(a)) return Number(a);
      if (typeof a === "number") return Math.trunc(a);
      throw new CelError(`no such overload: ${n.fn}`);
    case "double":
      return Number(a);
    case "string":
      return typeof a === "string" ? a : JSON.stringify(a);
    case "duration":
      if (typeof a !== "string") throw new CelError("no such overload: duration");
      return parseDuration(a);
  }
  throw new CelError(`undeclared reference to '${n.fn}'`);
}
