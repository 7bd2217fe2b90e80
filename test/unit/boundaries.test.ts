/**
 * The folders' surfaces and the layers, enforced (ARCHITECTURE.md, "Layers and surfaces"):
 * - layers: schemas/ imports nothing of ours, mesh/ only schemas/, tools/ only mesh/ and schemas/,
 *   agents/ anything below;
 * - a product import that crosses a top folder goes through that folder's index.ts (tools/ has a
 *   second, lean surface: caller.ts, the caller's side without the MCP SDK);
 * - a sub-package (a folder below a top folder with its own index.ts) is imported from outside it
 *   only through its index.ts, except an import marked `// lazy: <why>` on the line above (a part
 *   loaded only when used, which the index would load at once).
 * Index files list their exports by name; the one `export *` allowed is a top folder's index.ts
 * re-exporting its second surface (tools/index.ts: `export * from "./caller.ts"`), which is a list
 * of named exports itself, so that list is written once.
 * Tests (test/) may import deep files: they test internals.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const LAYERS = { schemas: [], mesh: ["schemas"], tools: ["mesh", "schemas"], agents: ["tools", "mesh", "schemas"] } as const;
type Top = keyof typeof LAYERS;
const TOPS = Object.keys(LAYERS) as Top[];
/** Files other top folders may import, beside `<top>/index.ts`. */
const EXTRA_SURFACES: readonly string[] = ["tools/caller.ts"];
const LAZY_MARKER = /^\s*\/\/ lazy: \S/;

function productFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? productFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

interface Specifier {
  line: number;
  spec: string;
  lazyMarked: boolean;
}

/** Relative specifiers of static imports and exports (`from "./x.ts"`) and of dynamic `import("./x.ts")`. */
function specifiers(source: string): Specifier[] {
  const lines = source.split("\n");
  const found: Specifier[] = [];
  const re = /\bfrom\s*["'](\.{1,2}\/[^"']+)["']|\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)|^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of source.matchAll(re)) {
    const line = source.slice(0, m.index).split("\n").length;
    // The statement starts on the line of its `import`/`export` keyword, which may be lines above its `from`.
    let start = line - 1;
    while (start > 0 && !/^\s*(import|export)\b/.test(lines[start]!) && !/import\(/.test(lines[start]!)) start--;
    found.push({ line, spec: (m[1] ?? m[2] ?? m[3])!, lazyMarked: start > 0 && LAZY_MARKER.test(lines[start - 1]!) });
  }
  return found;
}

const files = TOPS.flatMap(productFiles);
/** Sub-packages: folders below a top folder that have an index.ts, deepest first. */
const packages = files
  .filter((f) => f.endsWith("/index.ts") && f.split("/").length > 2)
  .map(dirname)
  .sort((a, b) => b.length - a.length);
const packageOf = (file: string) => packages.find((p) => file.startsWith(p + "/"));

function violation(file: string, target: string, lazyMarked: boolean): string | undefined {
  const from = file.split("/")[0] as Top;
  const to = target.split("/")[0]!;
  if (!(TOPS as string[]).includes(to)) return `outside the product folders`;
  if (from !== to) {
    const below: readonly string[] = LAYERS[from];
    if (!below.includes(to)) {
      const may = below.length ? `${from}/ may import only ${below.map((t) => `${t}/`).join(", ")}` : `${from}/ imports nothing of ours`;
      return `${may}; the layers are schemas <- mesh <- tools <- agents`;
    }
    if (target !== `${to}/index.ts` && !EXTRA_SURFACES.includes(target)) return `deep import across folders: import ${to}/index.ts instead`;
    return undefined;
  }
  const pkg = packageOf(target);
  if (pkg && !file.startsWith(pkg + "/") && target !== `${pkg}/index.ts` && !lazyMarked)
    return `deep import into ${pkg}/: import ${pkg}/index.ts, or mark a lazy load with "// lazy: <why>" on the line above`;
  return undefined;
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of files) {
    for (const { line, spec, lazyMarked } of specifiers(readFileSync(join(ROOT, file), "utf8"))) {
      const target = normalize(join(dirname(file), spec));
      const why = violation(file, relative(".", target), lazyMarked);
      if (why) found.push(`${file}:${line} imports ${target} (${why})`);
    }
  }
  return found;
}

describe("boundaries", () => {
  it("finds the product files and their sub-packages", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(packages).toEqual(expect.arrayContaining(["mesh/rolecall", "agents/host", "agents/cli", "agents/backends"]));
  });

  it("no product import runs back up the layers or reaches past a surface", () => {
    expect(violations()).toEqual([]);
  });

  it("every top folder has an index.ts and no file uses export *, but for an index re-exporting its folder's second surface", () => {
    for (const top of TOPS) expect(files).toContain(`${top}/index.ts`);
    const star = files.flatMap((f) =>
      [...readFileSync(join(ROOT, f), "utf8").matchAll(/^\s*export \*.*$/gm)]
        .filter((m) => {
          const from = /^\s*export \* from ["'](\.\/[^"']+)["'];?$/.exec(m[0])?.[1];
          const target = from && relative(".", normalize(join(dirname(f), from)));
          return !(target && f === `${target.split("/")[0]}/index.ts` && EXTRA_SURFACES.includes(target));
        })
        .map((m) => `${f}: ${m[0].trim()}`),
    );
    expect(star).toEqual([]);
  });
});
