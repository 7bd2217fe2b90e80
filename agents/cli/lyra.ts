#!/usr/bin/env node
/** `lyra`: one executable for every Lyra process and the operator's console. */
import { runCommand, type Command } from "./command.ts";

type Loader = () => Promise<Command>;
const commands: Record<string, { summary: string; load: Loader }> = {
  agent: {
    summary: "serve the roles placed on this GPU host, backed by its local Ollama",
    load: async () => (await import("./commands/agent.ts")).agent,
  },
  core: {
    summary: "the conductor: consume the inbox, run the committee, write log and outbox",
    load: async () => (await import("./commands/core.ts")).core,
  },
  ask: { summary: "send one message through the mesh and stream the reply", load: async () => (await import("./commands/ask.ts")).ask },
  tap: { summary: "live decoded view of mesh traffic", load: async () => (await import("./commands/tap.ts")).tap },
  status: {
    summary: "every agent, role, model and host on the mesh, with load",
    load: async () => (await import("./commands/status.ts")).status,
  },
  log: { summary: "a conversation's history from JetStream", load: async () => (await import("./commands/log.ts")).log },
  usage: {
    summary: "tokens and cost by user, role, model, backend or conversation, from the log",
    load: async () => (await import("./commands/usage.ts")).usage,
  },
  rollout: {
    summary: "show or change the weights of a role's variants (rollout, A/B), live on every conductor",
    load: async () => (await import("./commands/rollout.ts")).rollout,
  },
  compare: {
    summary: "a role's variants side by side from the log: latency, length, errors, fallbacks, answer pairs",
    load: async () => (await import("./commands/compare.ts")).compare,
  },
  mcp: {
    summary: "a stdio MCP server offering every tool of the mesh (server__tool) to any MCP client",
    load: async () => (await import("./commands/mcp.ts")).mcp,
  },
  "tools ls": {
    summary: "every tool server on the mesh and its tools",
    load: async () => (await import("./commands/tools-ls.ts")).toolsLs,
  },
  "tools call": {
    summary: "call one mesh tool and print its reply frames as they arrive",
    load: async () => (await import("./commands/tools-call.ts")).toolsCall,
  },
  tools: {
    summary: "host the config's tool servers (built-in, stdio, Streamable HTTP MCP) on NATS",
    load: async () => (await import("./commands/tools.ts")).tools,
  },
  compose: {
    summary: "print the compose file of the GPU hosts: Ollama on each host's GPUs and its agent",
    load: async () => (await import("./commands/compose.ts")).composeCommand,
  },
  "litellm-config": {
    summary: "print the LiteLLM proxy config for the mesh: one alias per role's fallback",
    load: async () => (await import("./commands/litellm-config.ts")).litellmConfigCommand,
  },
  auth: {
    summary: "generate NATS users, per-process permissions and connection settings from the mesh config",
    load: async () => (await import("./commands/auth.ts")).auth,
  },
  serve: {
    summary: "the OpenAI-compatible endpoint (POST /v1/chat/completions, GET /v1/models)",
    load: async () => (await import("./commands/serve.ts")).serve,
  },
  discord: {
    summary: "the Discord front door: mentions, DMs, channels and slash commands through the mesh",
    load: async () => (await import("./commands/discord.ts")).discord,
  },
  up: {
    summary: "a whole mesh on this machine (nats-server, agent, conductor) for development and the demo",
    load: async () => (await import("./commands/up.ts")).up,
  },
};

function usage(): string {
  const rows = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(11)} ${c.summary}`);
  return ["Usage: lyra <command> [options]", "", "Commands:", ...rows, "", "Run 'lyra <command> --help' for a command's options."].join(
    "\n",
  );
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage() + "\n");
    return name ? 0 : 2;
  }
  if (name === "--version") {
    process.stdout.write("lyra 0.1.0\n");
    return 0;
  }
  // Two-word commands ("tools ls") are entries of their own.
  const sub = rest[0] !== undefined ? commands[`${name} ${rest[0]}`] : undefined;
  const entry = sub ?? commands[name];
  if (!entry) {
    process.stderr.write(`lyra: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  return runCommand(await entry.load(), sub ? rest.slice(1) : rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`lyra: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.LYRA_DEBUG) console.error(err);
    process.exitCode = 1;
  },
);
