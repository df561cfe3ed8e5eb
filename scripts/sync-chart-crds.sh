#!/usr/bin/env bash
# Copy the CRDs (crds/, the source of truth) into the Helm chart (charts/jetmesh/crds/),
# which must carry identical files. `--check` only reports differences (exit 1), as the
# chart test does.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/crds"
dst="$root/charts/jetmesh/crds"
mode="${1:-sync}"
mkdir -p "$dst"
status=0
for f in "$src"/*.yaml; do
  [ -e "$f" ] || continue
  name="$(basename "$f")"
  if ! cmp -s "$f" "$dst/$name"; then
    if [ "$mode" = "--check" ]; then echo "differs: charts/jetmesh/crds/$name (from crds/$name)"; status=1
    else cp "$f" "$dst/$name"; echo "synced: crds/$name -> charts/jetmesh/crds/$name"; fi
  fi
done
for f in "$dst"/*.yaml; do
  [ -e "$f" ] || continue
  name="$(basename "$f")"
  if [ ! -e "$src/$name" ]; then
    if [ "$mode" = "--check" ]; then echo "stale: charts/jetmesh/crds/$name (no crds/$name)"; status=1
    else rm "$f"; echo "removed: charts/jetmesh/crds/$name (no longer in crds/)"; fi
  fi
done
[ "$mode" = "--check" ] && [ "$status" -ne 0 ] && echo "run scripts/sync-chart-crds.sh to update the chart's copies" >&2
exit "$status"
