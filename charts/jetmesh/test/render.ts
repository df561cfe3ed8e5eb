// A small renderer for the subset of Helm's Go templates this chart uses, so the chart's
// output can be parsed and validated on machines without `helm`. It follows text/template's
// rules where the chart depends on them (whitespace trimming, scoping of variables and dot,
// truthiness, nil-pointer errors on missing parents, `and`/`or` returning operands) and
// Helm's (toYaml without trailing newline, sorted map keys, `required`, `fail`, .Files).
// It is a test aid, not a Helm replacement: when `helm` is on PATH the tests use it too.
import { posix } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

type Value = unknown;
type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipeline; line: number }
  | { kind: "if"; pipe: Pipeline; then: Node[]; else: Node[]; line: number }
  | { kind: "with"; pipe: Pipeline; then: Node[]; else: Node[]; line: number }
  | { kind: "range"; pipe: Pipeline; vars: string[]; body: Node[]; else: Node[]; line: number };

interface Pipeline {
  decl?: { names: string[]; assign: boolean };
  commands: Operand[][];
}
type Operand =
  | { t: "field"; base: "dot" | "var"; name?: string; path: string[] }
  | { t: "ident"; name: string }
  | { t: "lit"; value: Value }
  | { t: "sub"; pipe: Pipeline; path: string[] };

export class TemplateError extends Error {
  override name = "TemplateError";
}

interface Token {
  kind: "text" | "action";
  text: string;
  line: number;
}

function lex(src: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      tokens.push({ kind: "text", text: src.slice(i), line: 0 });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    const line = src.slice(0, open).split("\n").length;
    if (src[start] === "-" && /\s/.test(src[start + 1] ?? "")) {
      text = text.replace(/\s+$/, "");
      start += 2;
    }
    tokens.push({ kind: "text", text, line });
    let close: number;
    const isComment = src.slice(start).startsWith("/*");
    if (isComment) {
      const endComment = src.indexOf("*/", start);
      close = endComment < 0 ? -1 : src.indexOf("}}", endComment);
    } else {
      close = -1;
      let quote: string | null = null;
      for (let j = start; j < src.length - 1; j++) {
        const c = src[j];
        if (quote) {
          if (c === "\\" && quote === '"') j++;
          else if (c === quote) quote = null;
        } else if (c === '"' || c === "`") quote = c;
        else if (c === "}" && src[j + 1] === "}") {
          close = j;
          break;
        }
      }
    }
    if (close < 0) throw new TemplateError(`${file}:${line}: unterminated action`);
    let end = close;
    let trimRight = false;
    if (src[end - 1] === "-" && /\s/.test(src[end - 2] ?? "")) {
      end -= 1;
      trimRight = true;
    }
    if (!isComment) tokens.push({ kind: "action", text: src.slice(start, end).trim(), line });
    i = close + 2;
    if (trimRight) while (i < src.length && /\s/.test(src[i] ?? "")) i++;
  }
  return tokens;
}

function tokenizeAction(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
      out.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === "`") {
      const j = s.indexOf("`", i + 1);
      out.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === "(" || c === ")" || c === "|" || c === ",") {
      out.push(c);
      i++;
    } else if (s.startsWith(":=", i)) {
      out.push(":=");
      i += 2;
    } else if (c === "=" ) {
      out.push("=");
      i++;
    } else {
      let j = i;
      while (j < s.length && !/[\s()|,]/.test(s[j]!) && !s.startsWith(":=", j)) j++;
      // A field access right after ")" (no space) belongs to the parenthesised pipeline: (x).a
      const word = s.slice(i, j);
      out.push(word.startsWith(".") && s[i - 1] === ")" ? `\u0000${word}` : word);
      i = j;
    }
  }
  return out;
}

function parsePipeline(tokens: string[], pos: { i: number }, file: string, line: number): Pipeline {
  const pipe: Pipeline = { commands: [] };
  // Variable declaration: $a := …, $k, $v := …, $a = …
  const save = pos.i;
  const names: string[] = [];
  while (tokens[pos.i]?.startsWith("$")) {
    names.push(tokens[pos.i]!);
    pos.i++;
    if (tokens[pos.i] === ",") pos.i++;
    else break;
  }
  if (names.length && (tokens[pos.i] === ":=" || tokens[pos.i] === "=")) {
    pipe.decl = { names, assign: tokens[pos.i] === "=" };
    pos.i++;
  } else pos.i = save;
  let cmd: Operand[] = [];
  while (pos.i < tokens.length && tokens[pos.i] !== ")") {
    const tok = tokens[pos.i]!;
    if (tok === "|") {
      pipe.commands.push(cmd);
      cmd = [];
      pos.i++;
      continue;
    }
    if (tok === "(") {
      pos.i++;
      const sub = parsePipeline(tokens, pos, file, line);
      if (tokens[pos.i] !== ")") throw new TemplateError(`${file}:${line}: missing )`);
      pos.i++;
      let path: string[] = [];
      const next = tokens[pos.i];
      if (next?.startsWith("\u0000.")) {
        path = next.slice(2).split(".");
        pos.i++;
      }
      cmd.push({ t: "sub", pipe: sub, path });
      continue;
    }
    cmd.push(parseOperand(tok, file, line));
    pos.i++;
  }
  pipe.commands.push(cmd);
  if (pipe.commands.some((c) => c.length === 0)) throw new TemplateError(`${file}:${line}: empty command in pipeline`);
  return pipe;
}

function parseOperand(tok: string, file: string, line: number): Operand {
  if (tok.startsWith('"')) return { t: "lit", value: JSON.parse(tok) as string };
  if (tok.startsWith("`")) return { t: "lit", value: tok.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(tok)) return { t: "lit", value: Number(tok) };
  if (tok === "true" || tok === "false") return { t: "lit", value: tok === "true" };
  if (tok === "nil") return { t: "lit", value: null };
  if (tok === ".") return { t: "field", base: "dot", path: [] };
  if (tok.startsWith(".")) return { t: "field", base: "dot", path: tok.slice(1).split(".") };
  if (tok.startsWith("$")) {
    const [name, ...path] = tok.split(".");
    return { t: "field", base: "var", name: name!, path };
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(tok)) return { t: "ident", name: tok };
  throw new TemplateError(`${file}:${line}: cannot parse "${tok}"`);
}

interface Parsed {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

function parse(src: string, file: string): Parsed {
  const tokens = lex(src, file);
  const defines = new Map<string, Node[]>();
  let i = 0;
  const pipeOf = (text: string, line: number) => {
    const toks = tokenizeAction(text);
    const pos = { i: 0 };
    const p = parsePipeline(toks, pos, file, line);
    if (pos.i !== toks.length) throw new TemplateError(`${file}:${line}: unexpected "${toks[pos.i]}"`);
    return p;
  };
  // Returns the nodes up to an "end"/"else…" (which it leaves for the caller in `stop`).
  function block(stop: { text?: string }): Node[] {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const tok = tokens[i++]!;
      if (tok.kind === "text") {
        if (tok.text) nodes.push({ kind: "text", text: tok.text });
        continue;
      }
      const [kw, ...rest] = tok.text.split(/\s+/);
      const restText = tok.text.slice((kw ?? "").length).trim();
      if (kw === "end" || kw === "else") {
        stop.text = tok.text;
        return nodes;
      }
      if (kw === "define") {
        const name = JSON.parse(rest[0] ?? '""') as string;
        const s: { text?: string } = {};
        defines.set(name, block(s));
        if (s.text !== "end") throw new TemplateError(`${file}:${tok.line}: define "${name}" not closed`);
      } else if (kw === "if" || kw === "with") {
        nodes.push(conditional(kw, restText, tok.line));
      } else if (kw === "range") {
        const pipe = pipeOf(restText, tok.line);
        const s: { text?: string } = {};
        const body = block(s);
        let elseNodes: Node[] = [];
        if (s.text === "else") {
          const s2: { text?: string } = {};
          elseNodes = block(s2);
          if (s2.text !== "end") throw new TemplateError(`${file}:${tok.line}: range not closed`);
        } else if (s.text !== "end") throw new TemplateError(`${file}:${tok.line}: range not closed`);
        nodes.push({ kind: "range", pipe, vars: pipe.decl?.names ?? [], body, else: elseNodes, line: tok.line });
      } else if (kw === "template" || kw === "block") {
        throw new TemplateError(`${file}:${tok.line}: ${kw} is not supported by this renderer (use include)`);
      } else {
        nodes.push({ kind: "action", pipe: pipeOf(tok.text, tok.line), line: tok.line });
      }
    }
    return nodes;
  }
  function conditional(kw: "if" | "with", text: string, line: number): Node {
    const pipe = pipeOf(text, line);
    const s: { text?: string } = {};
    const then = block(s);
    let elseNodes: Node[] = [];
    if (s.text === "else") {
      const s2: { text?: string } = {};
      elseNodes = block(s2);
      if (s2.text !== "end") throw new TemplateError(`${file}:${line}: ${kw} not closed`);
    } else if (s.text?.startsWith("else ")) {
      const [, kw2, ...more] = s.text.split(/\s+/);
      if (kw2 !== "if" && kw2 !== "with") throw new TemplateError(`${file}:${line}: bad else`);
      elseNodes = [conditional(kw2, more.join(" "), line)];
    } else if (s.text !== "end") throw new TemplateError(`${file}:${line}: ${kw} not closed`);
    return { kind: kw, pipe, then, else: elseNodes, line };
  }
  const stop: { text?: string } = {};
  const nodes = block(stop);
  if (stop.text) throw new TemplateError(`${file}: unexpected {{ ${stop.text} }}`);
  return { nodes, defines };
}

function truthy(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

function kindOf(v: Value): string {
  if (v === null || v === undefined) return "invalid";
  if (Array.isArray(v)) return "slice";
  if (typeof v === "object") return "map";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  return typeof v;
}

function show(v: Value): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  return `map[${Object.keys(v as object)
    .sort()
    .map((k) => `${k}:${show((v as Record<string, unknown>)[k])}`)
    .join(" ")}]`;
}

/** Helm's toYaml: sigs.k8s.io/yaml style (sorted keys, sequences not indented), no trailing newline. */
export function toYaml(v: Value): string {
  if (v === null || v === undefined) return "null";
  return stringifyYaml(v, { version: "1.1", sortMapEntries: true, indentSeq: false, lineWidth: 0 }).replace(/\n$/, "");
}

function indent(n: number, s: string): string {
  const pad = " ".repeat(n);
  return s
    .split("\n")
    .map((l) => pad + l)
    .join("\n");
}

function sprintf(format: string, args: Value[]): string {
  let i = 0;
  return format.replace(/%[sdvq%]/g, (m) => {
    if (m === "%%") return "%";
    const a = args[i++];
    if (m === "%q") return JSON.stringify(show(a));
    return show(a);
  });
}

export interface ChartContext {
  values: Record<string, unknown>;
  release: { Name: string; Namespace: string; Service?: string; IsInstall?: boolean };
  chart: { Name: string; Version: string; AppVersion: string };
  /** Files of the chart by path relative to the chart root (templates excluded). */
  files: Map<string, string>;
}

interface Scope {
  dot: Value;
  vars: Map<string, Value>[];
}

export class ChartRenderer {
  private readonly defines = new Map<string, Node[]>();
  private readonly templates = new Map<string, Node[]>();
  private readonly root: Record<string, unknown>;
  private current = "";

  constructor(templates: Map<string, string>, ctx: ChartContext) {
    for (const [name, src] of templates) {
      const parsed = parse(src, name);
      for (const [k, v] of parsed.defines) this.defines.set(k, v);
      this.templates.set(name, parsed.nodes);
    }
    const files = ctx.files;
    this.root = {
      Values: ctx.values,
      Release: { Service: "Helm", IsInstall: true, ...ctx.release },
      Chart: ctx.chart,
      Capabilities: { KubeVersion: { Version: "v1.32.0", GitVersion: "v1.32.0" } },
      Files: {
        Get: (path: Value) => files.get(String(path)) ?? "",
        Glob: (pattern: Value) => {
          const re = new RegExp("^" + String(pattern).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*") + "$");
          return Object.fromEntries([...files].filter(([p]) => re.test(p)).sort(([a], [b]) => a.localeCompare(b)));
        },
      },
    };
  }

  /** Renders one template file; throws TemplateError with file and line on failure. */
  render(name: string): string {
    const nodes = this.templates.get(name);
    if (!nodes) throw new TemplateError(`no template ${name}`);
    this.current = name;
    return this.exec(nodes, { dot: this.root, vars: [new Map([["$", this.root]])] });
  }

  private exec(nodes: Node[], scope: Scope): string {
    let out = "";
    for (const node of nodes) {
      switch (node.kind) {
        case "text":
          out += node.text;
          break;
        case "action": {
          const v = this.pipeline(node.pipe, scope, node.line);
          if (!node.pipe.decl) out += show(v);
          break;
        }
        case "if":
        case "with": {
          const inner: Scope = { dot: scope.dot, vars: [...scope.vars, new Map()] };
          const v = this.pipeline(node.pipe, inner, node.line);
          if (truthy(v)) out += this.exec(node.then, node.kind === "with" ? { dot: v, vars: inner.vars } : inner);
          else out += this.exec(node.else, { dot: scope.dot, vars: [...scope.vars, new Map()] });
          break;
        }
        case "range": {
          const pipe = { ...node.pipe, decl: undefined };
          const v = this.pipeline(pipe, scope, node.line);
          const entries: [Value, Value][] = Array.isArray(v)
            ? v.map((x, i) => [i, x])
            : v && typeof v === "object"
              ? Object.keys(v)
                  .sort()
                  .map((k) => [k, (v as Record<string, unknown>)[k]])
              : typeof v === "number"
                ? Array.from({ length: v }, (_, i) => [i, i])
                : [];
          if (!entries.length) out += this.exec(node.else, scope);
          for (const [k, x] of entries) {
            const frame = new Map<string, Value>();
            if (node.vars.length === 1) frame.set(node.vars[0]!, x);
            if (node.vars.length === 2) {
              frame.set(node.vars[0]!, k);
              frame.set(node.vars[1]!, x);
            }
            out += this.exec(node.body, { dot: x, vars: [...scope.vars, frame] });
          }
          break;
        }
      }
    }
    return out;
  }

  private fail(line: number, message: string): never {
    throw new TemplateError(`${this.current}:${line}: ${message}`);
  }

  private pipeline(pipe: Pipeline, scope: Scope, line: number): Value {
    let result: Value = undefined;
    pipe.commands.forEach((cmd, i) => {
      result = this.command(cmd, scope, line, i === 0 ? [] : [result]);
    });
    if (pipe.decl) {
      const name = pipe.decl.names[0]!;
      if (pipe.decl.assign) {
        const frame = [...scope.vars].reverse().find((f) => f.has(name));
        if (!frame) this.fail(line, `undefined variable ${name}`);
        frame.set(name, result);
      } else scope.vars.at(-1)!.set(name, result);
    }
    return result;
  }

  private operand(op: Operand, scope: Scope, line: number): Value {
    switch (op.t) {
      case "lit":
        return op.value;
      case "sub":
        return this.walk(this.pipeline(op.pipe, scope, line), op.path, line, "(…)");
      case "ident":
        return this.call(op.name, [], scope, line);
      case "field": {
        let base: Value = scope.dot;
        if (op.base === "var") {
          const frame = [...scope.vars].reverse().find((f) => f.has(op.name!));
          if (!frame) this.fail(line, `undefined variable ${op.name}`);
          base = frame.get(op.name!);
        }
        return this.walk(base, op.path, line, op.base === "var" ? op.name! : "");
      }
    }
  }

  private walk(base: Value, path: string[], line: number, label: string): Value {
    let v = base;
    let where = label;
    for (const key of path) {
      if (v === null || v === undefined) this.fail(line, `nil pointer evaluating ${where}.${key}`);
      if (typeof v !== "object" || Array.isArray(v)) this.fail(line, `can't evaluate field ${key} in ${kindOf(v)} ${where}`);
      v = (v as Record<string, unknown>)[key];
      where += `.${key}`;
    }
    return v;
  }

  private command(cmd: Operand[], scope: Scope, line: number, piped: Value[]): Value {
    const [head, ...rest] = cmd;
    if (head!.t === "ident") {
      const args = rest.map((a) => this.operand(a, scope, line));
      return this.call(head!.name, [...args, ...piped], scope, line);
    }
    const first = this.operand(head!, scope, line);
    if (typeof first === "function") {
      const args = rest.map((a) => this.operand(a, scope, line));
      return (first as (...a: Value[]) => Value)(...args, ...piped);
    }
    if (rest.length || piped.length) this.fail(line, "cannot give arguments to a non-function");
    return first;
  }

  private call(name: string, a: Value[], _scope: Scope, line: number): Value {
    const str = (v: Value) => show(v);
    switch (name) {
      case "include": {
        const body = this.defines.get(String(a[0]));
        if (!body) this.fail(line, `no template "${String(a[0])}"`);
        // Inside a named template, $ is the data it was called with.
        return this.exec(body, { dot: a[1], vars: [new Map([["$", a[1]]])] });
      }
      case "toYaml":
        return toYaml(a[0]);
      case "fromYaml":
        return parseYaml(str(a[0])) ?? {};
      case "nindent":
        return "\n" + indent(Number(a[0]), str(a[1]));
      case "indent":
        return indent(Number(a[0]), str(a[1]));
      case "quote":
        return a.map((v) => JSON.stringify(str(v))).join(" ");
      case "default":
        return truthy(a[1]) ? a[1] : a[0];
      case "required":
        if (!truthy(a[1]) && a[1] !== false && a[1] !== 0) this.fail(line, `required: ${str(a[0])}`);
        return a[1];
      case "fail":
        this.fail(line, `fail: ${str(a[0])}`);
        break;
      case "printf":
        return sprintf(str(a[0]), a.slice(1));
      case "print":
        return a.map(str).join("");
      case "trunc":
        return str(a[1]).slice(0, Number(a[0]));
      case "trimSuffix":
        return str(a[1]).endsWith(str(a[0])) ? str(a[1]).slice(0, -str(a[0]).length || undefined) : str(a[1]);
      case "trim":
        return str(a[0]).trim();
      case "contains":
        return str(a[1]).includes(str(a[0]));
      case "replace":
        return str(a[2]).split(str(a[0])).join(str(a[1]));
      case "base":
        return posix.basename(str(a[0]));
      case "join":
        return (Array.isArray(a[1]) ? a[1] : []).map(str).join(str(a[0]));
      case "dict": {
        const d: Record<string, unknown> = {};
        for (let i = 0; i < a.length; i += 2) d[str(a[i])] = a[i + 1];
        return d;
      }
      case "list":
        return [...a];
      case "append":
        return [...(a[0] as Value[]), a[1]];
      case "index": {
        let v = a[0];
        for (const k of a.slice(1)) v = v === null || v === undefined ? undefined : (v as Record<string, unknown>)[str(k)];
        return v;
      }
      case "kindIs":
        return kindOf(a[1]) === str(a[0]);
      case "not":
        return !truthy(a[0]);
      case "and":
        return a.find((v) => !truthy(v)) ?? a.at(-1);
      case "or":
        return a.find((v) => truthy(v)) ?? a.at(-1);
      case "eq":
        return a.slice(1).some((v) => v === a[0]);
      case "ne":
        return a[0] !== a[1];
      case "toString":
        return str(a[0]);
      default:
        this.fail(line, `function "${name}" not defined in this renderer`);
    }
  }
}
