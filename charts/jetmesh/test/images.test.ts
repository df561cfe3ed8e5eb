// The Dockerfiles behind the chart's images (no Docker engine here, so statically): Node
// pinned by .node-version, multi-stage, production dependencies only, non-root, no
// HEALTHCHECK, every workspace the code imports is built and shipped, every COPY source
// exists and survives .dockerignore, and `make images` builds each one.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readText, repoRoot } from "./chart.ts";

// The four shop services share services/Dockerfile; its SERVICE build argument picks one.
const images: { name: string; dir: string; dockerfile: string; workspace: string }[] = [
  { name: "operator", dir: "operator", dockerfile: "operator/Dockerfile", workspace: "@jetmesh/operator" },
  ...["order", "inventory", "payment", "shipping", "edge"].map((s) => ({
    name: s,
    dir: `services/${s}`,
    dockerfile: "services/Dockerfile",
    workspace: `@jetmesh/${s}`,
  })),
];
const nodeVersion = readText(join(repoRoot, ".node-version")).trim();
const workspaceDirs: Record<string, string> = Object.fromEntries(
  (JSON.parse(readText(join(repoRoot, "package.json"))) as { workspaces: string[] }).workspaces.map((dir) => [
    (JSON.parse(readText(join(repoRoot, dir, "package.json"))) as { name: string }).name,
    dir,
  ]),
);

/** @jetmesh/* packages a workspace's sources import, transitively. */
function workspaceImports(dir: string, seen = new Set<string>()): Set<string> {
  const src = join(repoRoot, dir, "src");
  if (!existsSync(src)) return seen;
  for (const f of readdirSync(src, { recursive: true }) as string[]) {
    if (!f.endsWith(".ts")) continue;
    for (const m of readText(join(src, f)).matchAll(/from\s+"(@jetmesh\/[a-z]+)"/g)) {
      const name = m[1] ?? "";
      if (!seen.has(name) && workspaceDirs[name]) {
        seen.add(name);
        workspaceImports(workspaceDirs[name], seen);
      }
    }
  }
  return seen;
}

/** .dockerignore patterns as (negatable) path matchers, in order; last match wins. */
function ignored(path: string): boolean {
  const rules = readText(join(repoRoot, ".dockerignore"))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  let result = false;
  for (const rule of rules) {
    const negate = rule.startsWith("!");
    const pattern = negate ? rule.slice(1) : rule;
    const re = new RegExp(
      "^" +
        pattern
          .replace(/[.+^${}()|[\]\\]/g, "\\$&")
          .replace(/\*\*\//g, "\u0001")
          .replace(/\*\*/g, "\u0002")
          .replace(/\*/g, "[^/]*")
          .replace(/\u0001/g, "(?:.*/)?")
          .replace(/\u0002/g, ".*") +
        "(?:/.*)?$",
    );
    if (re.test(path.replace(/\/$/, ""))) result = !negate;
  }
  return result;
}

describe("Dockerfiles", () => {
  it("the .dockerignore matcher works like Docker's for the patterns used", () => {
    expect([ignored("node_modules/x"), ignored("services/order/node_modules/y"), ignored("services/order/dist"), ignored("bench/package.json"), ignored("bench/x.ts"), ignored("services/order/src/main.ts")]).toEqual([
      true,
      true,
      true,
      false,
      true,
      false,
    ]);
  });

  for (const image of images) {
    describe(image.dir, () => {
      const file = join(repoRoot, image.dockerfile);
      // What `docker build --build-arg SERVICE=<name>` sees.
      const text = existsSync(file) ? readText(file).replaceAll("${SERVICE}", image.name) : "";
      const stages = text.split(/^FROM /m).slice(1);
      const final = stages.at(-1) ?? "";

      it("pins Node from .node-version on a slim base, multi-stage", () => {
        expect(text).toContain(`ARG NODE_VERSION=${nodeVersion}`);
        expect(stages.length).toBeGreaterThanOrEqual(3);
        for (const stage of stages) expect(stage).toMatch(/^node:\$\{NODE_VERSION\}-(bookworm-)?slim\b/);
      });

      it("runs as a numeric non-root user, node dist/main.js, no HEALTHCHECK", () => {
        expect(text).not.toMatch(/^HEALTHCHECK/m);
        expect(final).toMatch(/^USER 10001:10001$/m);
        expect(final).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
        expect(final).toContain(`WORKDIR /app/${image.dir}`);
        // Nothing in the runtime stage writes to the filesystem (read-only root).
        expect(final).not.toMatch(/^RUN /m);
      });

      it("ships production dependencies only, for this workspace", () => {
        expect(text).toContain(`npm ci --omit=dev --no-audit --no-fund --ignore-scripts -w ${image.workspace}`);
        expect(final).not.toContain("npm ci");
      });

      it("builds and ships every workspace its code imports", () => {
        const needed = [...workspaceImports(image.dir)].map((n) => workspaceDirs[n]!);
        for (const dir of [...needed, image.dir]) {
          expect(text, `builds ${dir}`).toContain(`COPY ${dir}/ ${dir}/`);
          expect(text, `ships ${dir}/dist`).toContain(`COPY --from=build /src/${dir}/dist ${dir}/dist`);
        }
        if (needed.includes("services/shop")) {
          expect(text, "ships the event schemas the services read at run time").toContain(
            "COPY --from=build /src/services/shop/schemas services/shop/schemas",
          );
        }
        const built = /RUN npm run build (.*)$/m.exec(text)?.[1] ?? "";
        for (const name of [...workspaceImports(image.dir), image.workspace]) expect(built).toContain(`-w ${name}`);
      });

      it("declares every package its runtime code imports (npm ci --omit=dev installs only those)", () => {
        const closure = [image.dir, ...[...workspaceImports(image.dir)].map((n) => workspaceDirs[n]!)];
        const declared = new Set(
          closure.flatMap((dir) => Object.keys((JSON.parse(readText(join(repoRoot, dir, "package.json"))) as { dependencies?: object }).dependencies ?? {})),
        );
        const undeclared: string[] = [];
        for (const dir of closure) {
          const src = join(repoRoot, dir, "src");
          for (const f of readdirSync(src, { recursive: true }) as string[]) {
            if (!f.endsWith(".ts") || f.endsWith(".test.ts")) continue;
            const text = readText(join(src, f));
            // Runtime imports only: `import type` is erased by tsc.
            for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+"([^".][^"]*)"/gm)) {
              const spec = m[1]!;
              if (spec.startsWith("node:")) continue;
              const pkg = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
              if (!declared.has(pkg)) undeclared.push(`${dir}/src/${f}: ${pkg}`);
            }
          }
        }
        expect(undeclared).toEqual([]);
      });

      it("copies only paths that exist in the build context", () => {
        for (const m of text.matchAll(/^COPY (?!--from)(.+)$/gm)) {
          const parts = (m[1] ?? "").trim().split(/\s+/);
          for (const src of parts.slice(0, -1)) {
            expect(existsSync(join(repoRoot, src)), `${src} exists`).toBe(true);
            expect(ignored(src), `${src} is not excluded by .dockerignore`).toBe(false);
          }
        }
      });

      it("is built and kind-loaded by make images", () => {
        const mk = readText(join(repoRoot, "mk", "kind.mk"));
        expect(mk).toContain(`${image.name}:${image.dockerfile}`);
        expect(mk).toContain("--build-arg SERVICE=$$name");
      });
    });
  }
});
