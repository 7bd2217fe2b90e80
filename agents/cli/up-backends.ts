/**
 * Which backends `lyra up` runs its roles on. The default is the config as written (the dev config:
 * the real small model on the local Ollama, which `ensureOllama` starts when needed); `--scripted`
 * moves every role that has script rules to the labelled scripted backend.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MeshConfig } from "../../schemas/index.ts";
import { ensureOllama, type LocalOllama } from "./ollamad.ts";

/** Every role that has `script` rules on the scripted backend; the others as they are. */
export function scriptedConfig(cfg: MeshConfig): MeshConfig {
  const roles = Object.fromEntries(Object.entries(cfg.roles).map(([n, r]) => [n, r.script ? { ...r, backend: "scripted" as const } : r]));
  return { ...cfg, roles };
}

/** Models each Ollama URL must have: the Ollama roles of the hosts using it, and the memory servers' embedding models. */
export function ollamaNeeds(cfg: MeshConfig, env: Readonly<Record<string, string | undefined>> = process.env): Map<string, string[]> {
  const needs = new Map<string, string[]>();
  const add = (url: string, model: string) => needs.set(url, [...(needs.get(url) ?? []), model]);
  for (const host of Object.values(cfg.hosts)) {
    for (const role of host.roles) {
      const r = cfg.roles[role];
      if (r?.backend === "ollama") add(host.ollama_url, r.model);
    }
  }
  // Only when some role runs on Ollama: under --scripted, memory searches lexically without it (and says so).
  if (needs.size === 0) return needs;
  for (const s of Object.values(cfg.tools.servers)) {
    if (!("builtin" in s) || s.builtin !== "memory") continue;
    const o = (s.options ?? {}) as { embedding_model?: string; ollama_url?: string };
    add(normalize(o.ollama_url ?? env.OLLAMA_HOST ?? [...needs.keys()][0]!), o.embedding_model ?? "nomic-embed-text");
  }
  return needs;
}

const normalize = (u: string) => (u.includes("://") ? u : `http://${u}`).replace(/\/$/, "");

/** Ollama answering with its models at every URL the config needs; `close()` ends those started here. */
export async function ensureOllamas(cfg: MeshConfig, tell: (s: string) => void): Promise<LocalOllama[]> {
  const started: LocalOllama[] = [];
  try {
    for (const [url, models] of ollamaNeeds(cfg)) {
      const o = await ensureOllama(url, models, tell);
      started.push(o);
      tell(`using real Ollama at ${url} (${[...new Set(models)].join(", ")})`);
    }
  } catch (err) {
    await Promise.all(started.map((o) => o.close()));
    throw err;
  }
  return started;
}

/** The memory servers on a fresh store in a temporary directory (the demo's), and its removal. */
export function freshMemory(cfg: MeshConfig): { cfg: MeshConfig; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "lyra-demo-memory-"));
  const servers = Object.fromEntries(
    Object.entries(cfg.tools.servers).map(([name, s]) =>
      "builtin" in s && s.builtin === "memory" ? [name, { ...s, options: { ...s.options, path: join(dir, `${name}.db`) } }] : [name, s],
    ),
  );
  return { cfg: { ...cfg, tools: { ...cfg.tools, servers } }, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
