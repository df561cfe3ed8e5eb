// The JSONPath subset used by printer columns and scale subresource paths:
// `.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.type=="Ready")].status`.

type Step =
  { kind: "field"; name: string } | { kind: "index"; i: number } | { kind: "all" } | { kind: "filter"; path: string[]; op: "==" | "!="; value: string };

export function parseJsonPath(expr: string): Step[] {
  let s = expr.trim();
  if (s.startsWith("{") && s.endsWith("}")) s = s.slice(1, -1);
  if (s.startsWith("$")) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === ".") {
      const m = /^\.([A-Za-z0-9_\-$]+)/.exec(s.slice(i));
      if (!m) throw new Error(`unsupported JSONPath ${expr}`);
      steps.push({ kind: "field", name: m[1]! });
      i += m[0].length;
    } else if (ch === "[") {
      const rest = s.slice(i);
      let m = /^\[(\d+)\]/.exec(rest);
      if (m) {
        steps.push({ kind: "index", i: Number(m[1]) });
        i += m[0].length;
        continue;
      }
      m = /^\[\*\]/.exec(rest);
      if (m) {
        steps.push({ kind: "all" });
        i += m[0].length;
        continue;
      }
      m = /^\[\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([^)\s]+))\)\]/.exec(rest);
      if (m) {
        steps.push({ kind: "filter", path: m[1]!.slice(1).split("."), op: m[2] as "==" | "!=", value: m[3] ?? m[4] ?? m[5]! });
        i += m[0].length;
        continue;
      }
      m = /^\['([^']+)'\]|^\["([^"]+)"\]/.exec(rest);
      if (m) {
        steps.push({ kind: "field", name: m[1] ?? m[2]! });
        i += m[0].length;
        continue;
      }
      throw new Error(`unsupported JSONPath ${expr}`);
    } else {
      throw new Error(`unsupported JSONPath ${expr}`);
    }
  }
  return steps;
}

function get(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const p of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** All values the path selects (empty when nothing matches). */
export function evalJsonPath(obj: unknown, expr: string | Step[]): unknown[] {
  const steps = typeof expr === "string" ? parseJsonPath(expr) : expr;
  let cur: unknown[] = [obj];
  for (const st of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (st.kind === "field") {
        if (typeof v === "object" && v !== null && !Array.isArray(v)) {
          const x = (v as Record<string, unknown>)[st.name];
          if (x !== undefined) next.push(x);
        }
      } else if (Array.isArray(v)) {
        if (st.kind === "index") {
          if (st.i < v.length) next.push(v[st.i]);
        } else if (st.kind === "all") next.push(...v);
        else {
          for (const e of v) {
            const x = get(e, st.path);
            const s = x === undefined ? undefined : String(x);
            if (st.op === "==" ? s === st.value : s !== undefined && s !== st.value) next.push(e);
          }
        }
      }
    }
    cur = next;
  }
  return cur;
}

/** Sets a value at a simple `.a.b.c` path, creating objects on the way. */
export function setSimplePath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = parseJsonPath(path).map((s) => {
    if (s.kind !== "field") throw new Error(`unsupported path ${path}`);
    return s.name;
  });
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}
