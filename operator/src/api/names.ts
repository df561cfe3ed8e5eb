// JetStream names derived from Kubernetes names: stream and consumer are "<namespace>_<name>".
// JetStream names allow A-Za-z0-9_- only, and "_" never occurs in a Kubernetes name, so the
// mapping is one-to-one as long as the name has no "." (checked by validateName).

export function jetStreamName(namespace: string, name: string): string {
  return `${namespace}_${name}`;
}

export { deadLetterSubject } from "@jetmesh/mesh/consumer-contract";

/** Returns a problem message when the Kubernetes name cannot become a JetStream name. */
export function validateName(name: string): string | undefined {
  if (!/^[A-Za-z0-9-]+$/.test(name)) {
    return `name "${name}" cannot become a JetStream name (only letters, digits and "-"; no "."): recreate the resource under another name`;
  }
  return undefined;
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
