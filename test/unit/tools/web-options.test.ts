/** The web server's options: the example config's parse; bad ones name the option and the fix. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseWebOptions } from "../../../tools/builtin/web/options.ts";
import { WEB_DEFAULTS } from "../../../tools/builtin/web/index.ts";

describe("web options", () => {
  it("config/mesh.example.yaml's web options are valid and say the defaults", () => {
    const example = parse(readFileSync(new URL("../../../config/mesh.example.yaml", import.meta.url), "utf8")) as {
      tools: { servers: { web: { options: Record<string, unknown> } } };
    };
    const o = parseWebOptions("web", example.tools.servers.web.options);
    expect(o).toMatchObject({ ...WEB_DEFAULTS, allow_private: false });
    expect(parseWebOptions("web", {})).toMatchObject({ ...WEB_DEFAULTS, allow_private: false });
  });

  it("bad values are config errors naming the option", () => {
    expect(() => parseWebOptions("web", { max_bytes: -1 })).toThrow(
      /^tools\.servers\.web\.options\.max_bytes is -1: .*; see the web server's options/,
    );
    expect(() => parseWebOptions("w", { searxng_url: "ftp://x" })).toThrow(/tools\.servers\.w\.options\.searxng_url is "ftp:\/\/x"/);
    expect(() => parseWebOptions("w", { allow_private: "yes" })).toThrow(/options\.allow_private is "yes"/);
    expect(() => parseWebOptions("w", { allow_privat: true })).toThrow(
      /^tools\.servers\.w\.options has unknown option\(s\) 'allow_privat'; see/,
    );
  });
});
