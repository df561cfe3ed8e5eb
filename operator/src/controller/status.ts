// Status writes as a minimal JSON merge patch: only the fields this reconciler owns, null for an
// owned field that went away (so a cleared lastError disappears), and nothing at all when the
// status is already what it should be — which is what stops a status write from triggering an
// endless watch → reconcile → write loop. Pure.

export function statusPatch(
  current: Record<string, unknown> | undefined,
  next: Record<string, unknown>,
  owned: readonly string[],
): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const k of owned) {
    const have = current?.[k];
    const want = next[k];
    if (want === undefined) {
      if (have !== undefined) patch[k] = null;
    } else if (JSON.stringify(have) !== JSON.stringify(want)) patch[k] = want;
  }
  return Object.keys(patch).length ? patch : undefined;
}
