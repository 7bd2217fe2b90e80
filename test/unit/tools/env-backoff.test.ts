import { describe, expect, it } from "vitest";
import { createBackoff } from "../../../tools/backoff.ts";
import { expandList, expandRecord, expandVars } from "../../../tools/env.ts";
import { ToolsError } from "../../../tools/errors.ts";

describe("${VAR} expansion", () => {
  const env = { TOKEN: "s3cret", HOME: "/home/me", EMPTY: "" };
  it("expands variables, keeps other text and the $${ escape", () => {
    expect(expandVars("Bearer ${TOKEN}", env, "gh", "headers.Authorization")).toBe("Bearer s3cret");
    expect(expandVars("${HOME}/x:${EMPTY}:$HOME", env, "fs", "args[0]")).toBe("/home/me/x::$HOME");
    expect(expandVars("literal $${TOKEN}", env, "fs", "args[0]")).toBe("literal ${TOKEN}");
    expect(expandRecord({ A: "${TOKEN}", B: "plain" }, env, "gh", "env")).toEqual({ A: "s3cret", B: "plain" });
    expect(expandList(["--root", "${HOME}"], env, "fs", "args")).toEqual(["--root", "/home/me"]);
  });
  it("a missing variable is a config error naming the server, the field, the variable and the fix", () => {
    let err: unknown;
    try {
      expandRecord({ GITHUB_TOKEN: "${GH_PAT}" }, env, "github", "env");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToolsError);
    expect((err as ToolsError).code).toBe("config");
    const msg = (err as Error).message;
    for (const s of ["'github'", "env.GITHUB_TOKEN", "${GH_PAT}", "export GH_PAT"]) expect(msg).toContain(s);
  });
});

describe("restart backoff", () => {
  it("doubles from 0.5 s to a 30 s cap", () => {
    const b = createBackoff();
    expect(Array.from({ length: 9 }, () => b.next(0))).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
  it("starts over after a stable run", () => {
    const b = createBackoff({ initialMs: 100, maxMs: 1000, stableMs: 5000 });
    expect([b.next(10), b.next(10), b.next(10)]).toEqual([100, 200, 400]);
    expect(b.next(5000)).toBe(100);
    expect(b.next(10)).toBe(200);
  });
});
