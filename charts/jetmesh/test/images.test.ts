// The Dockerfile behind the chart's images (no Docker engine here, so statically): one
// Dockerfile for every image, Node pinned by .node-version, multi-stage, production
// dependencies only, non-root, no HEALTHCHECK, every workspace the code imports built and
// shipped (the LIBS of each image in mk/kind.mk), every COPY source exists and survives
// .dockerignore, and `make images` builds each one.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readText, repoRoot } from "./chart.ts";
import { renderChart, type Obj } from "./rendered.ts";

const dockerfile = readText(join(repoRoot, "Dockerfile"));
const kindMk = readText(join(repoRoot, "mk", "kind.mk"));
/** JETMESH_IMAGES of mk/kind.mk: name:APP:LIBS entries, what `make images` builds. */
const images: { name: string; dir: string; libs: string[] }[] = [
  ...(/^JETMESH_IMAGES := ((?:.*\\\n)*.*)$/m.exec(kindMk)?.[1] ?? "").matchAll(/([a-z-]+):([a-z/-]+):([a-z/,-]*)/g),
].map((m) => ({ name: m[1]!, dir: m[2]!, libs: m[3]!.split(",").filter(Boolean) }));
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
    for (const m of readText(join(src, f)).matchAll(/from\s+"(@jetmesh\/[a-z-]+)(?:\/[^"]*)?"/g)) {
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
    expect([
      ignored("node_modules/x"),
      ignored("services/order/node_modules/y"),
      ignored("services/order/dist"),
      ignored("bench/package.json"),
      ignored("bench/x.ts"),
      ignored("services/order/src/main.ts"),
    ]).toEqual([true, true, true, false, true, false]);
  });

  it("make images builds the operator, the four shop services and the edge", () => {
    expect(images.map((i) => i.name)).toEqual(["operator", "order", "inventory", "payment", "shipping", "edge"]);
    expect(kindMk).toContain('--build-arg APP="$$app" --build-arg LIBS="$$libs"');
    expect(existsSync(join(repoRoot, "operator", "Dockerfile")) || existsSync(join(repoRoot, "services", "Dockerfile")), "one Dockerfile, no copies").toBe(
      false,
    );
  });

  const stages = dockerfile.split(/^FROM /m).slice(1);
  const final = stages.at(-1) ?? "";

  it("pins Node from .node-version on a slim base, multi-stage", () => {
    expect(dockerfile).toContain(`ARG NODE_VERSION=${nodeVersion}`);
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const stage of stages) expect(stage).toMatch(/^node:\$\{NODE_VERSION\}-(bookworm-)?slim\b/);
  });

  it("runs as a numeric non-root user, node dist/main.js, no HEALTHCHECK", () => {
    expect(dockerfile).not.toMatch(/^HEALTHCHECK/m);
    expect(final).toMatch(/^USER 10001:10001$/m);
    expect(final).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    expect(final).toContain("WORKDIR /app/${APP}");
    // Nothing in the runtime stage writes to the filesystem (read-only root).
    expect(final).not.toMatch(/^RUN /m);
  });

  it("ships production dependencies only, for the one workspace, and what stage 1 compiled", () => {
    expect(dockerfile).toContain('npm ci --omit=dev --no-audit --no-fund --ignore-scripts -w "$APP"');
    expect(final).not.toContain("npm ci");
    // Stage 1 builds LIBS then APP and keeps each one's dist/ (and schemas/, read at run time).
    expect(dockerfile).toMatch(/for dir in \$LIBS \$APP; do[\s\S]*npm run build -w "\$dir"[\s\S]*cp -r "\$dir\/dist"[\s\S]*"\$dir\/schemas"/);
    expect(dockerfile).toContain("COPY --from=build /out/ ./");
  });

  it("lists every workspace manifest npm ci needs", () => {
    for (const dir of Object.values(workspaceDirs)) expect(dockerfile, dir).toContain(`COPY ${dir}/package.json ${dir}/`);
  });

  it("copies only paths that exist in the build context", () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)) {
      const parts = (m[1] ?? "").trim().split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(repoRoot, src)), `${src} exists`).toBe(true);
        expect(ignored(src), `${src} is not excluded by .dockerignore`).toBe(false);
      }
    }
  });

  for (const image of images) {
    describe(`jetmesh-${image.name} (APP=${image.dir})`, () => {
      it("LIBS names every workspace its code imports, dependencies first", () => {
        const needed = [...workspaceImports(image.dir)].map((n) => workspaceDirs[n]!);
        expect([...image.libs].sort()).toEqual([...needed].sort());
        for (const [i, lib] of image.libs.entries()) {
          const deps = [...workspaceImports(lib)].map((n) => workspaceDirs[n]!);
          for (const dep of deps) expect(image.libs.indexOf(dep), `${dep} before ${lib}`).toBeLessThan(i);
        }
        for (const dir of [...image.libs, image.dir]) {
          expect(existsSync(join(repoRoot, dir, "src")), `${dir}/src`).toBe(true);
          expect(ignored(`${dir}/src/index.ts`), `${dir}/src is in the build context`).toBe(false);
        }
      });

      it("declares every package its runtime code imports (npm ci --omit=dev installs only those)", () => {
        const closure = [image.dir, ...image.libs];
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
    });
  }

  // Images that are not Node programs (the Python notifications service) have their own Dockerfile.
  const others = [...(/^JETMESH_OTHER_IMAGES := (.*)$/m.exec(kindMk)?.[1] ?? "").matchAll(/([a-z-]+):(\S+)/g)].map((m) => ({ name: m[1]!, file: m[2]! }));
  it("the other images: notifications, non-root, no HEALTHCHECK, copying only what exists", () => {
    expect(others.map((o) => o.name)).toEqual(["notifications"]);
    for (const o of others) {
      const text = readText(join(repoRoot, o.file));
      expect(text, o.file).toMatch(/^USER 10001:10001$/m);
      expect(text, o.file).not.toMatch(/^HEALTHCHECK/m);
      for (const m of text.matchAll(/^COPY (?!--from)(.+)$/gm)) {
        for (const src of (m[1] ?? "").trim().split(/\s+/).slice(0, -1)) {
          expect(existsSync(join(repoRoot, src)), `${src} exists`).toBe(true);
          expect(ignored(src), `${src} is not excluded by .dockerignore`).toBe(false);
        }
      }
    }
  });

  it("the edge image ships every JSON Schema directory the chart gives the ingress and the dispatchers", () => {
    // SCHEMAS_edge (mk/kind.mk) → the Dockerfile's SCHEMAS → /app/<dir> in the image.
    const shipped = (/^SCHEMAS_edge := (.*)$/m.exec(kindMk)?.[1] ?? "").trim().split(/\s+/);
    expect(kindMk).toMatch(/edge\) schemas='\$\(SCHEMAS_edge\)'/);
    expect(kindMk).toMatch(/--build-arg SCHEMAS="\$\$schemas"/);
    expect(dockerfile).toMatch(/^ARG SCHEMAS=""$/m);
    expect(dockerfile).toMatch(/for dir in \$SCHEMAS; do[\s\S]*cp "\$dir"\/\*\.json "\/out\/\$dir\/"/);
    const { objects } = renderChart({
      edge: { ingress: { enabled: true, tokensSecret: "t" }, dispatchers: { enabled: true } },
      notifications: { enabled: true },
      nats: { jetmeshAuth: { ingress: { types: ["shop.>"] } } },
    });
    const env = (o: Obj) => Object.fromEntries((o.spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
    const edge = objects.filter((o) => o.kind === "Deployment" && /jetmesh-edge:/.test(o.spec.template.spec.containers[0].image as string));
    expect(edge.map((o) => o.metadata.name as string).sort()).toEqual(["jetmesh-ingress", "jetmesh-notifications-dispatcher"]);
    const dirs = new Set(
      edge.flatMap((o) => [env(o).INGRESS_SCHEMAS_DIR, env(o).DISPATCH_SCHEMAS_DIR].filter((d) => d !== undefined).flatMap((d) => d.split(","))),
    );
    expect(dirs.size).toBeGreaterThan(0);
    for (const d of dirs) {
      const dir = d.replace(/^\/app\//, "");
      expect(shipped, d).toContain(dir);
      expect(readdirSync(join(repoRoot, dir)).filter((f) => f.endsWith(".json")).length, dir).toBeGreaterThan(0);
      expect(ignored(`${dir}/x.json`), `${dir} is in the build context`).toBe(false);
    }
    // The notifications reply is schema-checked by its dispatcher, as in make dev.
    const reply = "shop.notification.sent.v1.json";
    expect([...dirs].some((d) => existsSync(join(repoRoot, d.replace(/^\/app\//, ""), reply)))).toBe(true);
  });

  it("service images carry the shop's runtime, not its tools", () => {
    for (const image of images) expect(image.libs, image.name).not.toContain("services/shop-tools");
  });
});
