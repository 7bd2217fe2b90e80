/** roles.<role>.cache: defaults, and refusals that name the field and the fix. */
import { describe, expect, it } from "vitest";
import { ConfigError, parseMeshConfig } from "../../../schemas/index.ts";

const SRC = "config/mesh.yaml";
const doc = (cache: string) => `
mesh: { name: lyra, owner: ops }
roles:
  pragmatist: { model: 'qwen3:8b', cache: ${cache} }
hosts:
  local: { roles: [pragmatist] }
`;

function refusal(yaml: string): string {
  try {
    parseMeshConfig(yaml, { source: SRC, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.join("\n");
  }
  throw new Error("expected the configuration to be refused");
}

describe("roles.<role>.cache", () => {
  it("fills in the defaults: exact, an hour, private; semantic with all-minilm at 0.9 when asked for", () => {
    const plain = parseMeshConfig(doc("{}"), { source: SRC, env: {} }).roles.pragmatist!.cache;
    expect(plain).toEqual({ exact: true, ttl_s: 3600, public: false });
    const sem = parseMeshConfig(doc("{ semantic: {} }"), { source: SRC, env: {} }).roles.pragmatist!.cache;
    expect(sem?.semantic).toEqual({ embed_model: "all-minilm", threshold: 0.9, embed_timeout_ms: 5000 });
  });

  it("refuses a threshold out of range, a ttl past 30 days and an unknown key, naming the field and the fix", () => {
    expect(refusal(doc("{ semantic: { threshold: 1.5 } }"))).toMatch(
      /roles\.pragmatist\.cache\.semantic\.threshold is 1\.5, which is not valid .*set .* to a number from 0 to 1/,
    );
    expect(refusal(doc("{ ttl_s: 99999999 }"))).toMatch(/roles\.pragmatist\.cache\.ttl_s is 99999999.*from 1 to 2592000/);
    expect(refusal(doc("{ shared: true }"))).toMatch(
      /roles\.pragmatist\.cache has unknown key 'shared'.*allowed: exact, semantic, ttl_s, public/,
    );
  });
});
