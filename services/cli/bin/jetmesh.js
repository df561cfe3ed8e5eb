#!/usr/bin/env node
// `jetmesh` / `kubectl-jetmesh`: runs the CLI with the project's pinned Node. This shim is
// plain JavaScript so that any Node on PATH can start it (kubectl runs plugins with the
// user's PATH); it then runs src/main.ts with a Node that strips types (the current one when
// it is >= 24, else the repository's .tools/ Node from scripts/ensure-node.sh), or the
// compiled dist/main.js when the sources are not there (a built package).
import { spawnSync, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(pkgDir, "src", "main.ts");
const dist = join(pkgDir, "dist", "main.js");
const args = process.argv.slice(2);

function projectNode() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= 24) return process.execPath;
  const ensure = join(pkgDir, "..", "..", "scripts", "ensure-node.sh");
  if (!existsSync(ensure)) return undefined;
  try {
    const bin = execFileSync(ensure, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
    return join(bin, "node");
  } catch {
    return undefined;
  }
}

if (existsSync(src)) {
  const node = projectNode();
  if (!node) {
    process.stderr.write(`jetmesh: needs Node >= 24 to run ${src} (this is ${process.version}); run scripts/ensure-node.sh\n`);
    process.exit(2);
  }
  const r = spawnSync(node, ["--conditions=source", "--no-warnings=ExperimentalWarning", src, ...args], { stdio: "inherit" });
  if (r.error) {
    process.stderr.write(`jetmesh: cannot start ${node}: ${r.error.message}\n`);
    process.exit(2);
  }
  process.exit(r.status ?? (r.signal ? 128 + 15 : 1));
} else if (existsSync(dist)) {
  await import(dist);
} else {
  process.stderr.write(`jetmesh: neither ${src} nor ${dist} exists\n`);
  process.exit(2);
}
