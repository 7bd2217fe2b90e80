/** The LiteLLM key rotates without a restart: litellm.api_key_file is read again when it changes. */
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createOpenAIBackend } from "../../../agents/backends/index.ts";
import { BackendAuthError, BackendConfigError } from "../../../agents/errors.ts";
import { liteLLMBackend } from "../../../agents/host/backends.ts";
import { startOpenAIDouble } from "../../doubles/openai.ts";
import { eventually } from "../../harness/eventually.ts";
import { collect, rejection } from "./collect.ts";

const OLD = "sk-litellm-old";
const NEW = "sk-litellm-new";
const hello = { model: "lyra-fallback", messages: [{ role: "user" as const, content: "hello there" }] };

/** Writes the file as an operator should: a new file renamed over the old one, never half-written. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe("LiteLLM key rotation", () => {
  it("rotates under load: calls move to the new key, none fails, the old key is refused once the proxy's grace ends", async () => {
    await using llm = await startOpenAIDouble({ apiKey: OLD });
    const file = join(mkdtempSync(join(tmpdir(), "litellm-key-")), "litellm.env");
    replaceFile(file, `LITELLM_API_KEY=${OLD}\n`);
    // Through the config, as the agent host and the conductor build it.
    const backend = liteLLMBackend({ base_url: llm.baseURL, api_key_env: "LITELLM_API_KEY", api_key_file: file });
    const sentWith = (key: string) => llm.requests.filter((r) => r.headers.authorization === `Bearer ${key}`).length;
    const failures: unknown[] = [];
    let ok = 0;
    let stop = false;
    const runs = Array.from({ length: 3 }, async () => {
      while (!stop) {
        try {
          const out = await collect(backend.chat(hello));
          if (out.final) ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    });
    await eventually("calls answered with the old key", () => ok >= 10);
    // The proxy takes both keys during its grace; the key file gets the new one.
    llm.acceptKeys([OLD, NEW]);
    replaceFile(file, `LITELLM_API_KEY=${NEW}\n`);
    await eventually("calls sent with the new key", () => sentWith(NEW) >= 5);
    llm.acceptKeys([NEW]);
    const atGraceEnd = ok;
    await eventually("calls answered after the proxy dropped the old key", () => ok >= atGraceEnd + 10);
    // A broken write (an empty file) leaves the key in use.
    writeFileSync(file, "");
    const atBrokenWrite = ok;
    await eventually("calls answered after a broken write of the key file", () => ok >= atBrokenWrite + 10);
    stop = true;
    await Promise.all(runs);
    expect(failures).toEqual([]);
    const old = createOpenAIBackend({ baseURL: llm.baseURL, apiKey: OLD });
    expect(await rejection(collect(old.chat(hello)))).toBeInstanceOf(BackendAuthError);
  });

  it("names the key file when the proxy refuses its key, and refuses a file without exactly one key at start", async () => {
    await using llm = await startOpenAIDouble({ apiKey: NEW });
    const dir = mkdtempSync(join(tmpdir(), "litellm-key-"));
    replaceFile(join(dir, "key"), `${OLD}\n`);
    const backend = createOpenAIBackend({ baseURL: llm.baseURL, apiKeyFile: join(dir, "key"), env: { LITELLM_API_KEY: NEW } });
    const err = await rejection(collect(backend.chat(hello)));
    expect(err).toBeInstanceOf(BackendAuthError);
    expect(err.message).toContain(`put a valid key in the key file ${join(dir, "key")}`);
    replaceFile(join(dir, "two"), "k1\nk2\n");
    expect(() => createOpenAIBackend({ baseURL: llm.baseURL, apiKeyFile: join(dir, "two") })).toThrow(BackendConfigError);
    expect(() => createOpenAIBackend({ baseURL: llm.baseURL, apiKeyFile: join(dir, "none") })).toThrow(/cannot read litellm.api_key_file/);
  });
});
