/** The compute server's options and the sandbox command line it builds from them. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMPUTE_DEFAULTS, parseComputeOptions, sandboxCommand } from "../../../tools/builtin/compute/index.ts";

describe("compute options", () => {
  it("config/mesh.example.yaml shows every option with its default", () => {
    const cfg = parse(readFileSync(new URL("../../../config/mesh.example.yaml", import.meta.url), "utf8")) as {
      tools: { servers: { compute: { options: Record<string, unknown> } } };
    };
    const shown = cfg.tools.servers.compute.options;
    expect(shown).toEqual(COMPUTE_DEFAULTS);
    expect(parseComputeOptions("compute", shown)).toEqual(COMPUTE_DEFAULTS);
  });

  it("says which option is wrong and what it is", () => {
    expect(() => parseComputeOptions("compute", { cpu_s: 0 })).toThrow(/tools\.servers\.compute\.options\.cpu_s is 0: .*>=1/);
    expect(() => parseComputeOptions("compute", { python_path: "python3" })).toThrow(/python_path is "python3"/);
    expect(() => parseComputeOptions("compute", { sessions: "yes" })).toThrow(/sessions is "yes"/);
    expect(() => parseComputeOptions("compute", { cpu: 5 })).toThrow(/unknown option\(s\) 'cpu'/);
  });

  it("builds a bwrap command without the host's files, environment or network", () => {
    const argv = sandboxCommand(parseComputeOptions("compute", {}), false);
    const bwrap = argv.indexOf("/usr/bin/bwrap");
    // First the launcher (closes inherited descriptors, joins the cgroup: none here), then setpriv as root.
    expect(argv.slice(0, 4)).toEqual(["/usr/bin/python3", "-I", "-S", "-c"]);
    expect(argv[4]).toMatch(/os\.close\(/);
    expect(argv[5]).toBe("");
    if (process.getuid?.() === 0)
      expect(argv.slice(6, bwrap)).toEqual(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs"]);
    else expect(bwrap).toBe(6);
    for (const flag of ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv"])
      expect(argv).toContain(flag);
    const binds = argv.flatMap((a, i) => (a === "--ro-bind" || a === "--bind" ? [argv[i + 1]] : []));
    expect(binds.every((p) => p === "/usr" || /^\/(bin|sbin|lib\w*)$/.test(p!))).toBe(true);
    expect(argv).not.toContain("--bind");
    expect(argv).not.toContain("--share-net");
  });
});
