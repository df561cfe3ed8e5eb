// NATS subject filters (`*` = one token, `>` = one or more trailing tokens), used to skip
// messages outside a subscription's types when the server cannot filter (nats-server 2.9).

/** A predicate that is true when `subject` matches any of `filters`. */
export function subjectMatcher(filters: string[]): (subject: string) => boolean {
  const exact = new Set<string>();
  const wild: string[][] = [];
  for (const f of filters) {
    if (f.includes("*") || f.includes(">")) wild.push(f.split("."));
    else exact.add(f);
  }
  if (wild.length === 0) return (s) => exact.has(s);
  return (s) => exact.has(s) || wild.some((w) => subjectMatches(w, s.split(".")));
}

export function subjectMatches(filter: string[], subject: string[]): boolean {
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i];
    if (f === ">") return subject.length > i;
    if (i >= subject.length) return false;
    if (f !== "*" && f !== subject[i]) return false;
  }
  return filter.length === subject.length;
}
