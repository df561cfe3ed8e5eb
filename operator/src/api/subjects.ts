// NATS subject matching between patterns with wildcards ("*" one token, ">" the rest), used to
// find overlapping streams and subscription types a stream does not capture — before JetStream
// answers with a less helpful error.

function tokens(s: string): string[] {
  return s.split(".");
}

/** True when some concrete subject matches both patterns. */
export function subjectsOverlap(a: string, b: string): boolean {
  const ta = tokens(a);
  const tb = tokens(b);
  for (let i = 0; ; i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === ">" || y === ">") return x !== undefined && y !== undefined ? true : false;
    if (x === undefined || y === undefined) return x === undefined && y === undefined;
    if (x !== "*" && y !== "*" && x !== y) return false;
  }
}

/** True when every subject matched by `inner` is matched by `outer`. */
export function subjectCovers(outer: string, inner: string): boolean {
  const to = tokens(outer);
  const ti = tokens(inner);
  for (let i = 0; ; i++) {
    const o = to[i];
    const n = ti[i];
    if (o === ">") return n !== undefined;
    if (o === undefined || n === undefined) return o === undefined && n === undefined;
    if (n === ">") return false;
    if (o === "*") continue;
    if (n === "*" || o !== n) return false;
  }
}

/** The first pair (a from `as`, b from `bs`) that overlaps, if any. */
export function firstOverlap(as: readonly string[], bs: readonly string[]): [string, string] | undefined {
  for (const a of as) for (const b of bs) if (subjectsOverlap(a, b)) return [a, b];
  return undefined;
}
