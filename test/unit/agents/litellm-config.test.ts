/** `lyra litellm-config`: the LiteLLM proxy config.yaml made from the mesh config. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { loadMeshConfig, parseMeshConfig } from "../../../schemas/config.ts";
import { litellmConfig } from "../../../agents/cli/litellm-proxy-config.ts";

/**
 * The part of LiteLLM's proxy config.yaml this generates, as its docs describe it
 * (docs.litellm.ai/docs/proxy/configs): model_list entries of a user-facing model_name and the
 * litellm_params passed to litellm.completion() (model as provider/model; keys as os.environ/NAME).
 */
const EnvRef = z.string().regex(/^os\.environ\/[A-Z_][A-Z0-9_]*$/);
const ProxyConfig = z.strictObject({
  model_list: z
    .array(
      z.strictObject({
        model_name: z.string().min(1),
        litellm_params: z.strictObject({
          model: z.string().regex(/^[a-z0-9_-]+\/.+$/, "provider/model"),
          api_key: EnvRef.optional(),
          api_base: z.url().optional(),
        }),
        model_info: z.strictObject({ mode: z.enum(["image_generation", "audio_speech"]) }).optional(),
      }),
    )
    .min(1),
  litellm_settings: z.strictObject({ drop_params: z.boolean() }),
  // litellm.Router's constructor arguments (docs.litellm.ai/docs/router/api_reference/configuration); cooldown_time in seconds.
  router_settings: z.strictObject({
    num_retries: z.int().min(0),
    allowed_fails: z.int().min(0),
    cooldown_time: z.number().positive(),
    routing_strategy: z.enum(["simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"]),
  }),
  general_settings: z.strictObject({ master_key: EnvRef }),
});

const root = fileURLToPath(new URL("../../..", import.meta.url));

describe("lyra litellm-config", () => {
  it("makes a LiteLLM config with an entry for every fallback alias of config/mesh.example.yaml", async () => {
    const cfg = await loadMeshConfig(join(root, "config/mesh.example.yaml"), {});
    const out = litellmConfig(cfg);
    const yaml = ProxyConfig.parse(parse(stringify(out.config)));
    const aliases = new Set(Object.values(cfg.roles).flatMap((r) => (r.fallback ? [r.fallback] : [])));
    // The roles' aliases, and the models the artist and speech servers ask for (flux twice: two upstreams).
    expect(yaml.model_list.map((m) => m.model_name).sort()).toEqual([...aliases, "flux", "flux", "tts-1"].sort());
    expect(yaml.model_list.filter((m) => m.model_name === "flux").map((m) => [m.litellm_params.model, m.model_info?.mode])).toEqual([
      ["openai/flux", "image_generation"],
      ["openai/dall-e-3", "image_generation"],
    ]);
    expect(yaml.model_list.find((m) => m.model_name === "tts-1")?.model_info).toEqual({ mode: "audio_speech" });
    expect(out.roles.get("tts-1")).toEqual(["tools.servers.speech"]);
    expect(yaml.router_settings).toEqual({ num_retries: 2, allowed_fails: 3, cooldown_time: 30, routing_strategy: "simple-shuffle" });
    expect(yaml.model_list.find((m) => m.model_name === "lyra-specialist")?.litellm_params).toEqual({
      model: "anthropic/claude-sonnet-4-5",
      api_key: "os.environ/ANTHROPIC_API_KEY",
    });
    // Aliases not listed under litellm.models take the default.
    expect(yaml.model_list.find((m) => m.model_name === "lyra-voice")?.litellm_params.model).toBe("openai/gpt-4o-mini");
    // The proxy accepts the key the mesh sends.
    expect(yaml.general_settings.master_key).toBe(`os.environ/${cfg.litellm!.api_key_env}`);
    expect(out.roles.get("lyra-specialist")).toEqual(["pragmatist", "philosopher", "artist"]);
    // No secret in the file: every key is a reference.
    expect(JSON.stringify(yaml)).not.toMatch(/sk-/);
  });

  const mesh = (extra: string) =>
    parseMeshConfig(
      `mesh: { name: m, owner: o }
roles:
  voice: { kind: voice, model: qwen3:4b, fallback: cloud-voice }
  router: { kind: router, model: qwen3:4b }
hosts: { h: { roles: [voice, router] } }
${extra}`,
      { source: "test", env: {} },
    );

  it("names the alias that has no upstream model, and the fix", () => {
    expect(() => litellmConfig(mesh("litellm: { base_url: 'http://l:4000/v1' }"))).toThrow(
      /no upstream model for alias 'cloud-voice': set litellm.models.cloud-voice \(or litellm.models.default\)/,
    );
    expect(() => litellmConfig(mesh(""))).toThrow(/no litellm section/);
  });

  it("keeps api_base, and reports the roles without a fallback", () => {
    const out = litellmConfig(
      mesh(
        "litellm: { base_url: 'http://l:4000/v1', api_key_env: MESH_KEY, models: " +
          "{ cloud-voice: { model: 'openai/local', api_base: 'http://vllm:8000/v1' } } }",
      ),
    );
    expect(ProxyConfig.parse(out.config)).toEqual({
      model_list: [{ model_name: "cloud-voice", litellm_params: { model: "openai/local", api_base: "http://vllm:8000/v1" } }],
      litellm_settings: { drop_params: true },
      router_settings: { num_retries: 2, allowed_fails: 3, cooldown_time: 30, routing_strategy: "simple-shuffle" },
      general_settings: { master_key: "os.environ/MESH_KEY" },
    });
    expect(out.without).toEqual(["router"]);
  });

  it("writes litellm.router as router_settings, and one entry per upstream of a list", () => {
    const out = litellmConfig(
      mesh(
        "litellm: { base_url: 'http://l:4000/v1', " +
          "router: { num_retries: 0, allowed_fails: 1, cooldown_time: 2m, routing_strategy: least-busy }, " +
          "models: { cloud-voice: [{ model: 'openai/a', api_key_env: A_KEY }, { model: 'anthropic/b', api_key_env: B_KEY }] } }",
      ),
    );
    expect(ProxyConfig.parse(out.config).router_settings).toEqual({
      num_retries: 0,
      allowed_fails: 1,
      cooldown_time: 120,
      routing_strategy: "least-busy",
    });
    expect(out.config.model_list).toEqual([
      { model_name: "cloud-voice", litellm_params: { model: "openai/a", api_key: "os.environ/A_KEY" } },
      { model_name: "cloud-voice", litellm_params: { model: "anthropic/b", api_key: "os.environ/B_KEY" } },
    ]);
    expect(() => mesh("litellm: { base_url: 'http://l:4000/v1', router: { routing_strategy: fastest } }")).toThrow(/routing_strategy/);
  });

  it("asks for an upstream of the artist's and speech's models, never the chat default", () => {
    const tools = "tools: { servers: { art: { builtin: artist, options: { model: sdxl } }, say: { builtin: speech } } }\n";
    const base = "litellm: { base_url: 'http://l:4000/v1', models: { default: { model: 'openai/gpt-4o-mini' }";
    expect(() => litellmConfig(mesh(`${tools}${base} } }`))).toThrow(
      /no upstream model for alias 'sdxl', the model tools.servers.art asks the proxy for: set litellm.models.sdxl/,
    );
    const out = litellmConfig(mesh(`${tools}${base}, sdxl: { model: 'openai/sdxl' }, tts-1: { model: 'openai/tts-1' } } }`));
    expect(out.config.model_list.map((m) => [m.model_name, m.model_info?.mode])).toEqual([
      ["cloud-voice", undefined],
      ["sdxl", "image_generation"],
      ["tts-1", "audio_speech"],
    ]);
  });
});
