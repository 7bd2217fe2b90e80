import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseKeyFile, readKeyFile } from "../../../mesh/key-file.ts";

describe("keys files", () => {
  it("reads keys one a line or comma-separated, skipping blanks and comments", () => {
    expect(parseKeyFile("# keys\n k1 \n\nk2,k3\r\n", "LYRA_SERVE_KEYS")).toEqual(["k1", "k2", "k3"]);
  });
  it("reads an env file: only the named variable's value, quoted or not", () => {
    const env = 'LITELLM_API_KEY=sk-other\nexport LYRA_SERVE_KEYS="k1,k2"\nNATS_URL=nats://x:4222\n';
    expect(parseKeyFile(env, "LYRA_SERVE_KEYS")).toEqual(["k1", "k2"]);
    expect(parseKeyFile(env, "LITELLM_API_KEY")).toEqual(["sk-other"]);
    expect(parseKeyFile("LYRA_SERVE_KEYS='k1'\n", "LYRA_SERVE_KEYS")).toEqual(["k1"]);
  });
  it("names the file and the setting when it cannot be read", () => {
    const dir = mkdtempSync(join(tmpdir(), "keys-"));
    writeFileSync(join(dir, "k"), "k1\n");
    expect(readKeyFile(join(dir, "k"), "K", "serve.keys_file")).toEqual(["k1"]);
    expect(() => readKeyFile(join(dir, "nope"), "K", "serve.keys_file")).toThrow(/cannot read serve.keys_file '.*nope'.*check the path/);
  });
});
