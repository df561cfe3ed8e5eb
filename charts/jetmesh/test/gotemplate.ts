// A small static checker for Helm's Go templates, for machines without `helm`: it finds
// unbalanced block actions, references to values that values.yaml does not define,
// includes of templates nobody defines, and misspelled function names. Pure functions.

export interface Action {
  /** The action's text without delimiters, trim markers and surrounding space. */
  body: string;
  line: number;
}

export interface Problem {
  line: number;
  message: string;
}

/** Every `{{ … }}` action of a template, comments removed. */
export function scanActions(text: string): Action[] {
  const actions: Action[] = [];
  let i = 0;
  while (true) {
    const open = text.indexOf("{{", i);
    if (open < 0) break;
    const line = text.slice(0, open).split("\n").length;
    let start = open + 2;
    if (text[start] === "-" && /\s/.test(text[start + 1] ?? "")) start += 1;
    const rest = text.slice(start).trimStart();
    let close: number;
    if (rest.startsWith("/*")) {
      // A comment runs to "*/" followed by the closing delimiter (with optional " -").
      const endComment = text.indexOf("*/", start);
      if (endComment < 0) throw new Error(`line ${line}: unterminated comment`);
      close = text.indexOf("}}", endComment);
      if (close < 0) throw new Error(`line ${line}: unterminated action`);
      i = close + 2;
      continue;
    }
    close = findClose(text, start);
    if (close < 0) throw new Error(`line ${line}: unterminated action`);
    let end = close;
    if (text[end - 1] === "-" && /\s/.test(text[end - 2] ?? "")) end -= 1;
    actions.push({ body: text.slice(start, end).trim(), line });
    i = close + 2;
  }
  return actions;
}

/** The closing "}}" of an action, skipping string literals that may contain braces. */
function findClose(text: string, from: number): number {
  let quote: string | null = null;
  for (let j = from; j < text.length - 1; j++) {
    const c = text[j];
    if (quote) {
      if (c === "\\" && quote === '"') j++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "`") quote = c;
    else if (c === "}" && text[j + 1] === "}") return j;
  }
  return -1;
}

const OPENERS = new Set(["if", "range", "with", "define", "block"]);

/** Block actions must nest: if/range/with/define/block … (else …) end. */
export function checkBalance(text: string): Problem[] {
  const problems: Problem[] = [];
  const stack: { keyword: string; line: number }[] = [];
  for (const { body, line } of scanActions(text)) {
    const keyword = body.split(/[\s(]/, 1)[0] ?? "";
    if (OPENERS.has(keyword)) stack.push({ keyword, line });
    else if (keyword === "else") {
      const top = stack.at(-1);
      if (!top || !["if", "with", "range"].includes(top.keyword)) {
        problems.push({ line, message: "else outside if/with/range" });
      }
    } else if (keyword === "end") {
      if (!stack.pop()) problems.push({ line, message: "end without an open block" });
    }
  }
  for (const open of stack) problems.push({ line: open.line, message: `${open.keyword} is never closed with end` });
  return problems;
}

/** Dotted paths after `.Values` or `$.Values`, e.g. "operator.image.tag". */
export function valuesReferences(text: string): { path: string; line: number }[] {
  const refs: { path: string; line: number }[] = [];
  for (const { body, line } of scanActions(text)) {
    for (const m of body.matchAll(/(?:^|[^A-Za-z0-9_])\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      refs.push({ path: (m[1] ?? "").slice(1), line });
    }
  }
  return refs;
}

/** Whether values.yaml defines the path (a key whose value is null counts as defined). */
export function valuesPathExists(values: unknown, path: string): boolean {
  let node: unknown = values;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return false;
    if (!Object.prototype.hasOwnProperty.call(node, key)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

export function definedTemplates(text: string): string[] {
  const names: string[] = [];
  for (const { body } of scanActions(text)) {
    const m = /^define\s+"([^"]+)"/.exec(body);
    if (m?.[1]) names.push(m[1]);
  }
  return names;
}

export function includedTemplates(text: string): { name: string; line: number }[] {
  const names: { name: string; line: number }[] = [];
  for (const { body, line } of scanActions(text)) {
    for (const m of body.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)) names.push({ name: m[1] ?? "", line });
  }
  return names;
}

// Go template built-ins, Sprig and Helm functions; a name outside this list is a typo (or a
// function this checker should learn).
const FUNCTIONS = new Set([
  // text/template
  "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt", "ge",
  "html", "js", "urlquery", "call", "slice",
  // Helm
  "include", "tpl", "required", "lookup", "toYaml", "fromYaml", "fromYamlArray", "toJson", "fromJson",
  "fromJsonArray", "toToml", "fail",
  // Sprig (the ones a chart plausibly uses)
  "default", "empty", "coalesce", "ternary", "quote", "squote", "trim", "trimSuffix", "trimPrefix",
  "trimAll", "upper", "lower", "title", "trunc", "replace", "contains", "hasPrefix", "hasSuffix",
  "indent", "nindent", "join", "split", "splitList", "list", "append", "prepend", "first", "last",
  "rest", "initial", "uniq", "has", "without", "compact", "dict", "get", "set", "unset", "hasKey",
  "keys", "values", "pick", "omit", "merge", "mergeOverwrite", "deepCopy", "kindIs", "kindOf",
  "typeOf", "typeIs", "int", "int64", "float64", "toString", "toStrings", "atoi", "add", "add1",
  "sub", "mul", "div", "mod", "max", "min", "until", "untilStep", "seq", "sha256sum", "b64enc",
  "b64dec", "base", "dir", "ext", "clean", "regexMatch", "regexReplaceAll", "regexFind", "cat",
  "nospace", "toDate", "now", "date", "semverCompare", "randAlphaNum", "sortAlpha", "dig", "abbrev",
  "plural", "wrap", "repeat", "substr", "camelcase", "kebabcase", "snakecase", "uuidv4", "concat",
]);
const KEYWORDS = new Set(["if", "else", "end", "range", "with", "define", "block", "template", "break", "continue", "nil", "true", "false"]);

/** Identifiers in function position (start of a pipeline stage or parenthesised call). */
export function unknownFunctions(text: string): { name: string; line: number }[] {
  const unknown: { name: string; line: number }[] = [];
  for (const { body, line } of scanActions(text)) {
    const code = body.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`/g, '""');
    const stages = code.split(/\||\(|:=|=(?!=)/);
    for (const stage of stages) {
      const words = stage.trim().split(/\s+/);
      let word = words[0] ?? "";
      if (KEYWORDS.has(word)) word = words[1] ?? "";
      if (word === "if" || word === "with" || word === "range") word = words[2] ?? "";
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(word) && !KEYWORDS.has(word) && !FUNCTIONS.has(word)) {
        unknown.push({ name: word, line });
      }
    }
  }
  return unknown;
}
