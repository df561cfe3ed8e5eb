// Which subjects a namespace may capture (issue 18: an EventStream on _INBOX.> or $JS.> in any
// namespace recorded every other tenant's replies, acks and KV writes). Two layers:
// - reserved subjects nobody may capture: replies (_INBOX, _R_), system subjects ($JS, $KV,
//   $SYS, $O, ... — any first token starting with "$"), and a wildcard first token, which
//   would capture those and every tenant's subjects; the CRD says the same in CEL;
// - confinement (the operator's SUBJECT_CONFINEMENT, default "namespace"): a namespace's
//   subjects must lie under "<namespace>." or its dead-letter prefix "jetmesh.dlq.<namespace>.",
//   plus what a platform admin allows it in ALLOWED_SUBJECTS. Pure functions.
import { subjectCovers } from "./subjects.ts";

export interface SubjectPolicy {
  /** "namespace": confined to the namespace's own prefixes (and `allowed`); "off": any non-reserved subject. */
  confinement: "namespace" | "off";
  /** Extra subject patterns a namespace may capture; key "*" applies to every namespace. */
  allowed: Readonly<Record<string, readonly string[]>>;
}

export const DEFAULT_SUBJECT_POLICY: SubjectPolicy = { confinement: "namespace", allowed: {} };

/** Why no namespace may capture `subject` (a stream subject or subscription type), or undefined. */
export function reservedSubjectProblem(subject: string): string | undefined {
  const first = subject.split(".")[0] ?? "";
  if (first === "*" || first === ">") {
    return `"${subject}" starts with a wildcard, so it would capture reserved subjects (_INBOX, $JS, $KV, ...) and every other namespace's: start with a literal token`;
  }
  if (first.startsWith("$")) return `"${subject}" is a system subject ($JS, $KV, $SYS, $O, ...: JetStream API and acks, KV and object stores, server events)`;
  if (first.startsWith("_INBOX") || first === "_R_") return `"${subject}" is a reply subject (request replies and pull deliveries of every client)`;
  return undefined;
}

/** The patterns `namespace` may capture under `policy` (undefined: anything not reserved). */
export function allowedPatterns(policy: SubjectPolicy, namespace: string): string[] | undefined {
  if (policy.confinement === "off") return undefined;
  return [`${namespace}.>`, `jetmesh.dlq.${namespace}.>`, ...(policy.allowed[namespace] ?? []), ...(policy.allowed["*"] ?? [])];
}

/**
 * A problem message when some of `subjects` lie outside what `namespace` may capture, else
 * undefined. `field` names the spec field (spec.subjects, spec.types).
 */
export function confinementProblem(policy: SubjectPolicy, namespace: string, field: string, subjects: readonly string[]): string | undefined {
  const allowed = allowedPatterns(policy, namespace);
  if (!allowed) return undefined;
  const outside = subjects.filter((s) => !allowed.some((p) => subjectCovers(p, s)));
  if (outside.length === 0) return undefined;
  return (
    `${field}: ${outside.map((s) => `"${s}"`).join(", ")} ${outside.length === 1 ? "is" : "are"} outside namespace ${namespace}'s subjects (${allowed.join(", ")}): ` +
    `a namespace captures only its own subjects; use the prefix "${namespace}.", or ask the platform admin to allow more (operator setting ALLOWED_SUBJECTS, docs/security.md)`
  );
}
