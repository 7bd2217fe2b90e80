/** `lyra compose`: the GPU hosts' compose services made from the mesh config's hosts. */
import { describe, expect, it } from "vitest";
import { parseMeshConfig } from "../../../schemas/config.ts";
import { gpuCompose } from "../../../agents/cli/compose-gpus.ts";

const mesh = (hosts: string) =>
  parseMeshConfig(
    `mesh: { name: m, owner: o }
roles:
  router: { kind: router, model: 'qwen3:4b', slots: 4 }
  pragmatist: { model: 'qwen3:14b', slots: 2 }
  philosopher: { model: 'qwen3:14b', slots: 3 }
  perception: { model: 'qwen2.5vl:7b', vision: true }
hosts:
${hosts}`,
    { source: "test", env: {} },
  );

describe("lyra compose", () => {
  it("gives each host an Ollama on its GPUs, sized to its roles, and its agent", () => {
    const c = gpuCompose(
      mesh(`  gpu-0: { roles: [router], gpus: [0] }
  gpu-2: { roles: [pragmatist, philosopher, perception], gpus: [2, GPU-5f2c] }
  cpu: { roles: [router] }`),
    );
    expect(Object.keys(c.services)).toEqual(["ollama-gpu-0", "agent-gpu-0", "ollama-gpu-2", "agent-gpu-2", "ollama-cpu", "agent-cpu"]);
    expect(Object.keys(c.volumes)).toEqual(["ollama-gpu-0", "ollama-gpu-2", "ollama-cpu"]);
    const gpu2 = c.services["ollama-gpu-2"] as { environment: Record<string, string>; deploy: unknown };
    // As many slots as its roles' most, and both of its models loaded at once.
    expect(gpu2.environment).toEqual({ OLLAMA_NUM_PARALLEL: "3", OLLAMA_MAX_LOADED_MODELS: "2" });
    expect(gpu2.deploy).toEqual({
      resources: { reservations: { devices: [{ driver: "nvidia", device_ids: ["2", "GPU-5f2c"], capabilities: ["gpu"] }] } },
    });
    // A host without gpus runs Ollama on the CPU: no device reservation.
    expect(c.services["ollama-cpu"]).not.toHaveProperty("deploy");
    const agent = c.services["agent-gpu-2"] as { command: string[]; environment: Record<string, string> };
    expect(agent.command).toEqual(["agent", "--host", "gpu-2", "--metrics-port", "9464"]);
    expect(agent.environment).toMatchObject({
      OLLAMA_HOST: "http://ollama-gpu-2:11434",
      NATS_NKEY_FILE: "/etc/lyra/creds/agent-gpu-2.nk",
      NATS_INBOX_PREFIX: "_INBOX.agent-gpu-2",
    });
  });

  it("makes only the hosts asked for, and names a host the config lacks", () => {
    const cfg = mesh("  a: { roles: [router] }\n  b: { roles: [pragmatist] }\n");
    expect(Object.keys(gpuCompose(cfg, ["b"]).services)).toEqual(["ollama-b", "agent-b"]);
    expect(() => gpuCompose(cfg, ["c"])).toThrow(/no host 'c' in the config's hosts \(a, b\)/);
  });

  it("refuses a GPU id that is neither an index nor a UUID", () => {
    expect(() => mesh("  a: { roles: [router], gpus: ['0,1'] }\n")).toThrow(/gpus/);
  });
});
